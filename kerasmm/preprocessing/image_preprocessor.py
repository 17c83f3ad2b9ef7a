"""What CLIP's and Perceiver IO's image preprocessing layers share."""

import keras
import tensorflow as tf

from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rgb
from kerasmm.utils.tensor_checks import check_values_in_range

INTERPOLATIONS = (
    "bicubic",
    "bilinear",
    "nearest",
    "area",
    "lanczos3",
    "lanczos5",
    "gaussian",
    "mitchellcubic",
)
PIXEL_RANGE = "integers in [0, 255] or floats in [0, 1]"


class ImagePreprocessor(keras.layers.Layer):
    """Base of the image preprocessing layers: argument checks, input
    checks, pixels to `[0, 1]`, mean/std normalisation, config.

    Pictures come as integers in `[0, 255]` (uint8, or any integer dtype)
    or as floats in `[0, 1]`; the same picture gives the same output either
    way. Anything else (floats in `[0, 255]` or `[-1, 1]`, NaN, 16-bit
    integers) raises a `ValueError` naming the range, or inside `tf.data`
    an `InvalidArgumentError` with the same message.

    Subclasses implement `_preprocess(images)`: the geometry (resize and
    crop) of float32 pixels in `[0, 1]`, ending with `self._normalize(x)`.
    The layer runs in TensorFlow whatever the Keras backend.
    """

    def __init__(self, image_size, mean, std, interpolation, antialias, **kwargs):
        super().__init__(**kwargs)
        self.image_size = check_positive_int("image_size", image_size)
        self.interpolation = check_choice("interpolation", interpolation, INTERPOLATIONS)
        self.mean = check_rgb("mean", mean)
        self.std = check_rgb("std", std)
        if (self.mean is None) != (self.std is None):
            raise ValueError(
                "mean and std must both be given or both be None. "
                f"Received: mean={mean}, std={std}"
            )
        if self.std is not None and min(self.std) <= 0:
            raise ValueError(f"std must be positive. Received: std={std}")
        self.antialias = check_bool("antialias", antialias)
        self._allow_non_tensor_positional_args = True
        self._convert_input_args = False
        self.built = True

    def call(self, images):
        if not isinstance(images, tf.Tensor):
            images = tf.convert_to_tensor(images)
        if images.shape.rank not in (3, 4) or images.shape[-1] != 3:
            raise ValueError(
                "images must have shape (H, W, 3) or (batch, H, W, 3). "
                f"Received: shape={images.shape}"
            )
        if not (images.dtype.is_integer or images.dtype.is_floating):
            raise ValueError(
                f"images must be int or float. Received: dtype={images.dtype.name}"
            )
        with tf.device("/cpu:0"):
            return self._preprocess(self._to_unit_range(images))

    def _to_unit_range(self, images):
        """float32 pixels in `[0, 1]`: integers divided by 255, floats as
        they are; either checked to be in range first."""
        if images.dtype == tf.uint8:
            return tf.cast(images, "float32") / 255.0
        if images.dtype.is_integer:
            images = check_values_in_range("images", images, 0, 255, PIXEL_RANGE)
            return tf.cast(images, "float32") / 255.0
        images = check_values_in_range("images", images, 0.0, 1.0, PIXEL_RANGE)
        return tf.cast(images, "float32")

    def _preprocess(self, images):
        raise NotImplementedError(
            f"{type(self).__name__} must implement _preprocess(images)"
        )

    def _normalize(self, x):
        if self.mean is not None:
            x = (x - tf.constant(self.mean)) / tf.constant(self.std)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-3]) + (self.image_size, self.image_size, 3)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_size": self.image_size,
                "mean": self.mean,
                "std": self.std,
                "interpolation": self.interpolation,
                "antialias": self.antialias,
            }
        )
        return config
