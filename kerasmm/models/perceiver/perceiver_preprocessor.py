"""Perceiver IO's preprocessor: image preprocessing or the byte tokenizer."""

import keras

from kerasmm.models.perceiver.perceiver_io import PerceiverIO
from kerasmm.preprocessing import ByteTokenizer
from kerasmm.preprocessing import PerceiverImagePreprocessor
from kerasmm.presets import Preprocessor

_IMAGE_KEYS = ("image_size", "center_crop_fraction", "mean", "std", "interpolation",
               "antialias")


@keras.saving.register_keras_serializable(package="kerasmm")
class PerceiverPreprocessor(Preprocessor):
    """Turns raw images or text into the inputs of a Perceiver IO preset.

    A Perceiver IO checkpoint reads one modality: the ImageNet classifiers
    take images, which go through `image_preprocessor` (center crop,
    resize, ImageNet mean and std) and come out as the image tensor the
    model takes; the masked language model takes text, which goes through
    `tokenizer` (UTF-8 bytes) and comes out as its `{"token_ids",
    "padding_mask"}` dict. It runs eagerly and inside
    `tf.data.Dataset.map`, with identical results, whatever the Keras
    backend, and returns `tf.Tensor`s.

    `PerceiverPreprocessor.from_preset(preset)` reads the same preset as
    `PerceiverIO.from_preset(preset)` (the image presets need no download).
    The multimodal preset has no preprocessor: its video and audio go to
    the model as they are.

    Args:
        image_preprocessor: a `kerasmm.preprocessing.PerceiverImagePreprocessor`
            (image presets), or None.
        tokenizer: a `kerasmm.preprocessing.ByteTokenizer` (the language
            preset), or None. Exactly one of the two is given.

    Call arguments:
        inputs: `{"images": (B, H, W, 3) uint8 or float in [0, 1]}` or
            `{"text": a str, a list of str or a string tensor}`.

    Returns:
        float32 images `(B, image_size, image_size, 3)`, or
        `{"token_ids", "padding_mask"}`.

    Example:
    >>> preprocessor = PerceiverPreprocessor.from_preset("perceiver_io_vision_conv")
    >>> pixels = preprocessor({"images": np.zeros((2, 256, 320, 3), "uint8")})
    >>> tuple(pixels.shape)
    (2, 224, 224, 3)
    >>> text = PerceiverPreprocessor.from_preset("perceiver_io_language")
    >>> inputs = text({"text": ["hello"]})
    >>> inputs["token_ids"].numpy()[0, :7].tolist()
    [4, 110, 107, 114, 114, 117, 5]
    """

    backbone_cls = PerceiverIO

    def __init__(self, image_preprocessor=None, tokenizer=None, **kwargs):
        super().__init__(**kwargs)
        image_preprocessor = self.sublayer(image_preprocessor)
        tokenizer = self.sublayer(tokenizer)
        if (image_preprocessor is None) == (tokenizer is None):
            raise ValueError(
                "Give exactly one of image_preprocessor and tokenizer (a Perceiver IO "
                f"preset reads one modality). Received: image_preprocessor="
                f"{image_preprocessor!r}, tokenizer={tokenizer!r}"
            )
        for name, value, cls in (("image_preprocessor", image_preprocessor,
                                  PerceiverImagePreprocessor),
                                 ("tokenizer", tokenizer, ByteTokenizer)):
            if value is not None and not isinstance(value, cls):
                raise TypeError(f"{name} must be a {cls.__name__} or None. "
                                f"Received: {name} of type {type(value).__name__}")
        self.image_preprocessor = image_preprocessor
        self.tokenizer = tokenizer

    def call(self, inputs):
        key = "images" if self.image_preprocessor is not None else "text"
        if not isinstance(inputs, dict) or set(inputs) != {key}:
            raise ValueError(f"inputs must be a dict with the one key {key!r} (this "
                             f"preprocessor's modality). Received: inputs={inputs!r:.120}")
        if key == "text":
            return self.tokenizer(inputs["text"])
        return self.image_preprocessor(self.pixels(inputs["images"]))

    # === Presets ===

    @classmethod
    def preset_arguments(cls, preprocessing, assets):
        """The byte tokenizer where the preset names it, else the image
        preprocessor where it records a center crop (the vision presets)."""
        if preprocessing.get("tokenizer") == "ByteTokenizer":
            return {"tokenizer": ByteTokenizer(
                sequence_length=preprocessing.get("context_length"),
                add_special_tokens=preprocessing.get("add_special_tokens", False))}
        if preprocessing.get("center_crop_fraction") is not None:
            return {"image_preprocessor": PerceiverImagePreprocessor(**{
                k: preprocessing[k] for k in _IMAGE_KEYS if k in preprocessing})}
        raise ValueError(
            "The preset records neither a byte tokenizer nor Perceiver image "
            "preprocessing (center_crop_fraction), so PerceiverPreprocessor cannot "
            f"be built from it. Received: preprocessing={preprocessing}"
        )

    def preset_preprocessing(self):
        if self.tokenizer is not None:
            return {"tokenizer": "ByteTokenizer",
                    "context_length": self.tokenizer.sequence_length,
                    "add_special_tokens": self.tokenizer.add_special_tokens,
                    "pad_token_id": self.tokenizer.pad_token_id}
        image = self.image_preprocessor.get_config()
        return {k: image[k] for k in _IMAGE_KEYS}

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update({
            "image_preprocessor": keras.saving.serialize_keras_object(
                self.image_preprocessor),
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
        })
        return config
