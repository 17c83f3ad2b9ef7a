"""Perceiver IO image preprocessing: center crop, resize, ImageNet mean/std."""

import keras
import tensorflow as tf

from kerasmm.preprocessing.image_preprocessor import ImagePreprocessor
from kerasmm.utils.checks import check_number
from kerasmm.utils.constants import IMAGENET_MEAN
from kerasmm.utils.constants import IMAGENET_STD



@keras.saving.register_keras_serializable(package="kerasmm")
class PerceiverImagePreprocessor(ImagePreprocessor):
    """Center-crops, resizes and normalises images as Perceiver IO expects.

    The steps of Hugging Face's `PerceiverImageProcessor` (DeepMind's
    ImageNet evaluation): crop the central square of side
    `int(center_crop_fraction * min(H, W))` (offsets `(size - side) // 2`),
    resize it to `image_size x image_size`, scale `[0, 255]` to `[0, 1]`,
    then subtract `mean` and divide by `std` per channel. Hugging Face
    writes the fraction as `size / crop_size` (224 / 256 by default).

    The resize is TensorFlow's, antialiased by default like Hugging Face's
    when downsampling; values are clipped to `[0, 1]` after it. Hugging
    Face also rounds to uint8 there, this layer does not. Both differ by a
    few levels out of 255 at sharp edges.

    The layer runs in TensorFlow (eagerly or inside `tf.data.Dataset.map`)
    whatever the Keras backend, and returns float32 `tf.Tensor`s.

    Args:
        image_size: int, output height and width.
        center_crop_fraction: float in `(0, 1]`, side of the central crop
            as a fraction of the shorter image side.
        mean: 3 floats, per-channel mean of `[0, 1]` pixels, or None to skip
            normalisation (outputs stay in `[0, 1]`).
        std: 3 floats, per-channel standard deviation, or None.
        interpolation: str, a `tf.image.resize` method, `"bicubic"` as
            Hugging Face.
        antialias: bool, filter when downsampling (as Hugging Face does).

    Call arguments:
        images: pictures as integers in `[0, 255]` (uint8 or any integer
            dtype) or floats in `[0, 1]` (the same picture gives the same
            output); other values raise a `ValueError`. Shape `(H, W, 3)` or
            `(batch, H, W, 3)`. H and W may vary from one
            unbatched image to the next inside `tf.data`.

    Returns:
        float32 tensor `(image_size, image_size, 3)` or
        `(batch, image_size, image_size, 3)`.

    Example:

    >>> preprocess = PerceiverImagePreprocessor(image_size=224)
    >>> images = np.full((2, 240, 320, 3), 255, dtype="uint8")
    >>> pixels = preprocess(images)  # ImageNet-normalised
    >>> tuple(pixels.shape)
    (2, 224, 224, 3)
    >>> [round(float(v), 4) for v in pixels[0, 0, 0]]  # (1 - mean) / std
    [2.2489, 2.4286, 2.64]

    Reference:
        [Jaegle et al., 2021](https://arxiv.org/abs/2107.14795); Hugging
        Face `transformers` `PerceiverImageProcessor`.
    """

    def __init__(
        self,
        image_size=224,
        center_crop_fraction=224 / 256,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        interpolation="bicubic",
        antialias=True,
        **kwargs,
    ):
        super().__init__(image_size, mean, std, interpolation, antialias, **kwargs)
        fraction = check_number("center_crop_fraction", center_crop_fraction)
        if not 0 < fraction <= 1:
            raise ValueError(
                "center_crop_fraction must be a number in (0, 1]. "
                f"Received: center_crop_fraction={center_crop_fraction}"
            )
        self.center_crop_fraction = fraction

    def _preprocess(self, images):
        size = self.image_size
        x = images
        height, width = tf.shape(x)[-3], tf.shape(x)[-2]
        short = tf.cast(tf.minimum(height, width), "float64")
        # int() of the float product, as Hugging Face.
        side = tf.cast(tf.floor(self.center_crop_fraction * short), "int32")
        top = (height - side) // 2
        left = (width - side) // 2
        x = x[..., top : top + side, left : left + side, :]
        x = tf.image.resize(
            x, (size, size), method=self.interpolation, antialias=self.antialias
        )
        x = tf.clip_by_value(x, 0.0, 1.0)
        return tf.ensure_shape(self._normalize(x), images.shape[:-3] + (size, size, 3))

    def get_config(self):
        config = super().get_config()
        config["center_crop_fraction"] = self.center_crop_fraction
        return config
