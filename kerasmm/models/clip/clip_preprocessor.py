"""CLIP's preprocessor: the tokenizer and image preprocessing its weights expect."""

import json
import os

import keras

from kerasmm.models.clip.clip_model import CLIP
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.preprocessing import CLIPTokenizer
from kerasmm.presets import Preprocessor

VOCABULARY_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
_IMAGE_KEYS = ("image_size", "mean", "std", "interpolation", "antialias")
_INPUT_KEYS = ("images", "prompts")


def _check_layer(name, value, cls):
    if value is not None and not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__} or None. "
                        f"Received: {name} of type {type(value).__name__}")


@keras.saving.register_keras_serializable(package="kerasmm")
class CLIPPreprocessor(Preprocessor):
    """Turns raw images and strings into the inputs of a `CLIP` model.

    Images (uint8 in `[0, 255]`, or floats in `[0, 1]`) go through
    `image_preprocessor` (resize, center crop, the weights' mean and std);
    prompts go through `tokenizer` (CLIP's BPE, padded to the context
    length). The output is exactly the dict `CLIP` takes. It runs eagerly
    and inside `tf.data.Dataset.map`, with identical results, whatever the
    Keras backend, and returns `tf.Tensor`s.

    `CLIPPreprocessor.from_preset(preset)` reads the same preset as
    `CLIP.from_preset(preset)`: a registered name, a directory written by
    `save_to_preset`, a Hugging Face or open_clip checkpoint directory, or
    `"hf://org/repo"`.

    Args:
        tokenizer: a `kerasmm.preprocessing.CLIPTokenizer`, or None (no
            prompts then).
        image_preprocessor: a `kerasmm.preprocessing.CLIPImagePreprocessor`,
            or None (no images then).

    Call arguments:
        inputs: a dict with `"images"` (`(B, H, W, 3)` or `(H, W, 3)`,
            uint8 or float in `[0, 1]`) and/or `"prompts"` (a str, a list
            of str, or a string tensor).

    Returns:
        A dict with `"images"` (float32, preprocessed) and/or `"token_ids"`
        (int32), for each input given.

    Example:
    >>> preprocessor = CLIPPreprocessor.from_preset("shapes_clip_tiny")
    >>> images = np.zeros((2, 48, 64, 3), "uint8")
    >>> inputs = preprocessor({"images": images,
    ...                        "prompts": ["a red circle", "a blue square"]})
    >>> tuple(inputs["images"].shape), tuple(inputs["token_ids"].shape)
    ((2, 32, 32, 3), (2, 16))
    >>> clip = kerasmm.models.CLIP.from_preset("shapes_clip_tiny")
    >>> tuple(clip(inputs)["image_embeddings"].shape)
    (2, 64)
    """

    backbone_cls = CLIP
    # The layer classes it takes (a subclass for another family sets its own).
    tokenizer_cls = CLIPTokenizer
    image_preprocessor_cls = CLIPImagePreprocessor

    def __init__(self, tokenizer=None, image_preprocessor=None, **kwargs):
        super().__init__(**kwargs)
        tokenizer = self.sublayer(tokenizer)
        image_preprocessor = self.sublayer(image_preprocessor)
        _check_layer("tokenizer", tokenizer, self.tokenizer_cls)
        _check_layer("image_preprocessor", image_preprocessor, self.image_preprocessor_cls)
        if tokenizer is None and image_preprocessor is None:
            raise ValueError("Give a tokenizer, an image_preprocessor or both. "
                             "Received: tokenizer=None, image_preprocessor=None")
        self.tokenizer = tokenizer
        self.image_preprocessor = image_preprocessor

    def call(self, inputs):
        if not isinstance(inputs, dict) or not inputs or set(inputs) - set(_INPUT_KEYS):
            raise ValueError(f"inputs must be a dict with keys among {list(_INPUT_KEYS)}. "
                             f"Received: inputs={inputs!r:.120}")
        outputs = {}
        if "images" in inputs:
            if self.image_preprocessor is None:
                raise ValueError(f"This {type(self).__name__} has no image_preprocessor: "
                                 "it cannot take 'images'")
            outputs["images"] = self.image_preprocessor(self.pixels(inputs["images"]))
        if "prompts" in inputs:
            if self.tokenizer is None:
                raise ValueError(f"This {type(self).__name__} has no tokenizer: "
                                 "it cannot take 'prompts'")
            outputs["token_ids"] = self.tokenizer(inputs["prompts"])
        return outputs

    # === Presets ===

    @classmethod
    def preset_arguments(cls, preprocessing, assets):
        """A tokenizer where the preset records a context length (its
        `vocab.json` and `merges.txt`), an image preprocessor where it
        records an image size."""
        arguments = {}
        if preprocessing.get("context_length") is not None:
            pad_token_id = preprocessing.get("pad_token_id")
            arguments["tokenizer"] = CLIPTokenizer(
                assets.path(VOCABULARY_FILE), assets.path(MERGES_FILE),
                sequence_length=preprocessing["context_length"],
                pad_token_id=0 if pad_token_id is None else pad_token_id)
        if preprocessing.get("image_size") is not None:
            arguments["image_preprocessor"] = CLIPImagePreprocessor(**{
                k: preprocessing[k] for k in _IMAGE_KEYS if k in preprocessing})
        return arguments

    def preset_preprocessing(self):
        constants = {}
        if self.image_preprocessor is not None:
            image = self.image_preprocessor.get_config()
            constants.update({k: image[k] for k in _IMAGE_KEYS})
        if self.tokenizer is not None:
            constants.update(context_length=self.tokenizer.sequence_length,
                             pad_token_id=self.tokenizer.pad_token_id)
        return constants

    def save_assets(self, directory):
        if self.tokenizer is None:
            return []
        with open(os.path.join(directory, VOCABULARY_FILE), "w", encoding="utf-8") as f:
            json.dump(self.tokenizer.vocabulary, f, ensure_ascii=False)
        with open(os.path.join(directory, MERGES_FILE), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "\n".join(self.tokenizer.merges) + "\n")
        return [VOCABULARY_FILE, MERGES_FILE]

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update({
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
            "image_preprocessor": keras.saving.serialize_keras_object(
                self.image_preprocessor),
        })
        return config
