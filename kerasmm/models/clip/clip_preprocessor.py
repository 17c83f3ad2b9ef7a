"""CLIP's preprocessor: the tokenizer and image preprocessing its weights expect."""

import json
import os

import keras
import tensorflow as tf

from kerasmm.models.clip.clip_model import CLIP
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.preprocessing import CLIPTokenizer
from kerasmm.presets import Preprocessor
from kerasmm.utils.checks import check_positive_int

VOCABULARY_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
_IMAGE_KEYS = ("image_size", "mean", "std", "interpolation", "antialias")
_INPUT_KEYS = ("images", "prompts")
_PADDINGS = ("max_length", "longest")
_PADDING_KEYS = ("padding", "pad_to_multiple_of")


def pad_to_longest(token_ids, end_token_id, multiple=8):
    """`token_ids` cut after the batch's last end token, in TensorFlow.

    Keeps `ceil(n / multiple) * multiple` columns (at most all of them),
    where `n` is one more than the largest position of a row's first
    `end_token_id`; a row without it keeps every column. `token_ids` is a
    `(batch, length)` or `(length,)` tensor, or a dict whose
    `"token_ids"` and `"padding_mask"` are cut alike. Runs eagerly and
    inside `tf.data.Dataset.map` (where the length is dynamic).
    """
    multiple = check_positive_int("multiple", multiple)
    ids = token_ids["token_ids"] if isinstance(token_ids, dict) else token_ids
    ids = tf.convert_to_tensor(ids)
    if not ids.dtype.is_integer or ids.shape.rank not in (1, 2):
        raise ValueError("token_ids must be integer ids of shape (batch, length) or "
                         f"(length,). Received: dtype={ids.dtype.name}, shape={ids.shape}")
    rows = tf.reshape(ids, [-1, tf.shape(ids)[-1]])
    length = tf.shape(rows)[1]
    positions = tf.range(length)[None, :]
    ends = tf.where(tf.equal(rows, end_token_id), positions, length - 1)
    needed = tf.reduce_max(tf.reduce_min(ends, axis=1)) + 1
    needed = tf.maximum(needed, 1)  # an empty batch keeps one column
    keep = tf.minimum((needed + multiple - 1) // multiple * multiple, length)
    if isinstance(token_ids, dict):
        return {key: tf.convert_to_tensor(value)[..., :keep]
                if key in ("token_ids", "padding_mask") else value
                for key, value in token_ids.items()}
    return ids[..., :keep]


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
        padding: `"max_length"` (the default: every row padded to the
            context length, as OpenAI and keras-hub do) or `"longest"`: a
            batch of prompts is cut after its longest prompt's end token,
            rounded up to `pad_to_multiple_of` (`pad_to_longest`). CLIP's
            text tower is causal and read at the end token, so the
            embeddings are the same, and training and encoding skip the
            padding's work: a ViT-B/32 train step on prompts of at most 24
            tokens takes 0.76x the time at 77 (`benchmarks/
            clip_caption_padding.py`). Each new width is a new shape, so
            compiled functions (`fit` with XLA, JAX) compile once per width:
            at most `ceil(context_length / pad_to_multiple_of)` times.
            Prompts are cut per call, so tokenize batches (as
            `kerasmm.datasets.webdataset_dataset` does with a `batch_size`),
            not one prompt per `tf.data` element before `batch`.
        pad_to_multiple_of: int, the rounding of `"longest"` (default 8).

    Call arguments:
        inputs: a dict with `"images"` (`(B, H, W, 3)` or `(H, W, 3)`,
            uint8 or float in `[0, 1]`) and/or `"prompts"` (a str, a list
            of str, or a string tensor).

    Returns:
        A dict with `"images"` (float32, preprocessed) and/or `"token_ids"`
        (int32; with `"padding_mask"` where the tokenizer returns one), for
        each input given.

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
    >>> longest = CLIPPreprocessor.from_preset("shapes_clip_tiny", padding="longest",
    ...                                        pad_to_multiple_of=4)
    >>> tuple(longest({"prompts": ["a red circle", "a blue square"]})["token_ids"].shape)
    (2, 8)
    """

    backbone_cls = CLIP
    # The layer classes it takes (a subclass for another family sets its own).
    tokenizer_cls = CLIPTokenizer
    image_preprocessor_cls = CLIPImagePreprocessor

    # The paddings its text models allow: "longest" only where the text tower
    # is causal and read at the end token, as CLIP's.
    paddings = _PADDINGS

    def __init__(self, tokenizer=None, image_preprocessor=None, padding="max_length",
                 pad_to_multiple_of=8, **kwargs):
        super().__init__(**kwargs)
        if padding not in self.paddings:
            raise ValueError(
                f"padding must be one of {list(self.paddings)} for a {type(self).__name__}"
                + ("" if "longest" in self.paddings else
                   " ('longest' is for CLIP's causal text towers, read at the end token)")
                + f". Received: padding={padding!r}")
        self.padding = padding
        self.pad_to_multiple_of = check_positive_int("pad_to_multiple_of", pad_to_multiple_of)
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
            token_ids = self.tokenizer(inputs["prompts"])
            if self.padding == "longest":
                token_ids = pad_to_longest(token_ids, self.tokenizer.end_token_id,
                                           self.pad_to_multiple_of)
            if isinstance(token_ids, dict):
                outputs.update(token_ids)
            else:
                outputs["token_ids"] = token_ids
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
        arguments.update({k: preprocessing[k] for k in _PADDING_KEYS if k in preprocessing})
        return arguments

    def preset_preprocessing(self):
        constants = {}
        if self.image_preprocessor is not None:
            image = self.image_preprocessor.get_config()
            constants.update({k: image[k] for k in _IMAGE_KEYS})
        if self.tokenizer is not None:
            constants.update(context_length=self.tokenizer.sequence_length,
                             pad_token_id=self.tokenizer.pad_token_id)
            if self.padding != "max_length":  # the default is not written
                constants.update(padding=self.padding,
                                 pad_to_multiple_of=self.pad_to_multiple_of)
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
            "padding": self.padding,
            "pad_to_multiple_of": self.pad_to_multiple_of,
        })
        return config
