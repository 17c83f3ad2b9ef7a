"""SigLIP's preprocessor: the tokenizer and image preprocessing its weights expect."""

import os

import keras

from kerasmm.models.clip.clip_preprocessor import CLIPPreprocessor
from kerasmm.models.siglip.siglip_image_preprocessor import SigLIPImagePreprocessor
from kerasmm.models.siglip.siglip_model import SigLIP
from kerasmm.models.siglip.siglip_tokenizer import SigLIPTokenizer

_IMAGE_KEYS = ("image_size", "mean", "std", "interpolation", "antialias")
_TOKENIZER_KEYS = ("end_token", "pad_token", "lowercase", "canonicalize")
# The SentencePiece model's file name: SigLIP's, else SigLIP 2's (Gemma's).
TOKENIZER_FILES = ("spiece.model", "tokenizer.model")


@keras.saving.register_keras_serializable(package="kerasmm")
class SigLIPPreprocessor(CLIPPreprocessor):
    """Turns raw images and strings into the inputs of a `SigLIP` model.

    A `CLIPPreprocessor` (the same call, presets and saving) with SigLIP's
    layers and preset files.
    Images (uint8 in `[0, 255]`, or floats in `[0, 1]`) go through
    `image_preprocessor` (resize to a square, pixels to `[-1, 1]`); prompts
    through `tokenizer` (SigLIP's SentencePiece, padded to the context
    length as SigLIP was trained). The output is exactly the dict `SigLIP`
    takes. It runs eagerly and inside `tf.data.Dataset.map`, with identical
    results, whatever the Keras backend, and returns `tf.Tensor`s.

    `SigLIPPreprocessor.from_preset(preset)` reads the same preset as
    `SigLIP.from_preset(preset)`: a registered name, a directory written by
    `save_to_preset`, a Hugging Face checkpoint directory (with
    `spiece.model` or, SigLIP 2, `tokenizer.model`), or `"hf://org/repo"`.

    Args:
        tokenizer: a `SigLIPTokenizer`, or None (no prompts then).
        image_preprocessor: a `SigLIPImagePreprocessor`, or None (no
            images then).

    Call arguments:
        inputs: a dict with `"images"` (`(B, H, W, 3)` or `(H, W, 3)`,
            uint8 or float in `[0, 1]`) and/or `"prompts"` (a str, a list
            of str, or a string tensor).

    Returns:
        A dict with `"images"` (float32, preprocessed) and/or `"token_ids"`
        (int32), for each input given.

    Example:
    >>> preprocessor = SigLIPPreprocessor(
    ...     image_preprocessor=SigLIPImagePreprocessor(image_size=32))
    >>> inputs = preprocessor({"images": np.zeros((2, 48, 64, 3), "uint8")})
    >>> tuple(inputs["images"].shape), float(inputs["images"][0, 0, 0, 0])
    ((2, 32, 32, 3), -1.0)
    """

    backbone_cls = SigLIP
    tokenizer_cls = SigLIPTokenizer
    paddings = ("max_length",)  # SigLIP's text tower is bidirectional and read at the last position
    image_preprocessor_cls = SigLIPImagePreprocessor

    # === Presets ===

    @classmethod
    def preset_arguments(cls, preprocessing, assets):
        """A tokenizer where the preset names its SentencePiece file
        (`tokenizer_file`), an image preprocessor where it records an image
        size."""
        arguments = {}
        if preprocessing.get("tokenizer_file") is not None:
            arguments["tokenizer"] = SigLIPTokenizer(
                assets.path(preprocessing["tokenizer_file"]),
                sequence_length=preprocessing["context_length"],
                **{k: preprocessing[k] for k in _TOKENIZER_KEYS if k in preprocessing})
        if preprocessing.get("image_size") is not None:
            image = {k: v for k, v in preprocessing.items() if k in _IMAGE_KEYS}
            arguments["image_preprocessor"] = SigLIPImagePreprocessor(**image)
        return arguments

    def preset_preprocessing(self):
        constants = super().preset_preprocessing()  # Image constants, context length.
        if self.tokenizer is not None:
            tokenizer = self.tokenizer.get_config()
            constants.update({k: tokenizer[k] for k in _TOKENIZER_KEYS},
                             tokenizer_file=TOKENIZER_FILES[0])
        return constants

    def save_assets(self, directory):
        if self.tokenizer is None:
            return []
        with open(os.path.join(directory, TOKENIZER_FILES[0]), "wb") as f:
            f.write(self.tokenizer.proto)
        return [TOKENIZER_FILES[0]]
