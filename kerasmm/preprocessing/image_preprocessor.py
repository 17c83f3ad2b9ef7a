"""What CLIP's and Perceiver IO's image preprocessing layers share."""

import keras
import numpy as np
import tensorflow as tf

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


def _check_channels(value, name):
    if value is None:
        return None
    try:
        value = tuple(float(v) for v in value)
    except TypeError:
        value = ()
    if len(value) != 3:
        raise ValueError(
            f"{name} must be None or 3 numbers (one per RGB channel). "
            f"Received: {name}={value}"
        )
    return value


class ImagePreprocessor(keras.layers.Layer):
    """Base of the image preprocessing layers: argument checks, input
    checks, `[0, 255]` -> `[0, 1]` and mean/std normalisation, config.

    Subclasses implement `_preprocess(images)`: the geometry (resize and
    crop) of float32 pixels, ending with `self._normalize(x)`. The layer
    runs in TensorFlow whatever the Keras backend.
    """

    def __init__(self, image_size, mean, std, interpolation, antialias, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(image_size, bool)
            or not isinstance(image_size, (int, np.integer))
            or image_size < 1
        ):
            raise ValueError(
                f"image_size must be a positive int. Received: image_size={image_size}"
            )
        if interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {INTERPOLATIONS}. "
                f"Received: interpolation={interpolation!r}"
            )
        self.image_size = int(image_size)
        self.mean = _check_channels(mean, "mean")
        self.std = _check_channels(std, "std")
        if (self.mean is None) != (self.std is None):
            raise ValueError(
                "mean and std must both be given or both be None. "
                f"Received: mean={mean}, std={std}"
            )
        if self.std is not None and min(self.std) <= 0:
            raise ValueError(f"std must be positive. Received: std={std}")
        self.interpolation = interpolation
        self.antialias = bool(antialias)
        self._allow_non_tensor_positional_args = True
        self._convert_input_args = False
        self.built = True

    def call(self, images):
        if not isinstance(images, tf.Tensor):
            images = tf.convert_to_tensor(np.asarray(images))
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
            return self._preprocess(images)

    def _preprocess(self, images):
        raise NotImplementedError(
            f"{type(self).__name__} must implement _preprocess(images)"
        )

    def _normalize(self, x):
        x = x / 255.0
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
