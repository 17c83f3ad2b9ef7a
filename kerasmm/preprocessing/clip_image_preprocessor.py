"""CLIP image preprocessing: shortest-side resize, center crop, mean/std."""

import keras
import numpy as np
import tensorflow as tf

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

_INTERPOLATIONS = (
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


@keras.saving.register_keras_serializable(package="kerasmm")
class CLIPImagePreprocessor(keras.layers.Layer):
    """Resizes, center-crops and normalises images as CLIP expects.

    The steps of OpenAI's `clip.load(...)` preprocessing and Hugging Face's
    `CLIPImageProcessor`: resize so that the shortest side is `image_size`
    (the other side becomes `int(image_size * long / short)`, aspect ratio
    kept), crop the central `image_size x image_size` window (offsets
    `(size - image_size) // 2`, as Hugging Face; torchvision rounds, which
    can move the window by one pixel), scale `[0, 255]` to `[0, 1]`, then
    subtract `mean` and divide by `std` per channel.

    The resize is TensorFlow's, antialiased by default like PIL's when
    downsampling; values are clipped to `[0, 255]` after it. PIL also rounds
    to uint8 there, this layer does not. Both differ from PIL by a few
    levels out of 255 at sharp edges.

    The layer runs in TensorFlow (eagerly or inside `tf.data.Dataset.map`)
    whatever the Keras backend, and returns float32 `tf.Tensor`s.

    Args:
        image_size: int, output height and width.
        mean: 3 floats, per-channel mean of `[0, 1]` pixels, or None to skip
            normalisation (outputs stay in `[0, 1]`).
        std: 3 floats, per-channel standard deviation, or None.
        interpolation: str, a `tf.image.resize` method, `"bicubic"` as CLIP.
        antialias: bool, filter when downsampling (as PIL does).

    Call arguments:
        images: images in `[0, 255]` (any int or float dtype), shape
            `(H, W, 3)` or `(batch, H, W, 3)`. H and W may vary from one
            unbatched image to the next inside `tf.data`.

    Returns:
        float32 tensor `(image_size, image_size, 3)` or
        `(batch, image_size, image_size, 3)`.

    Example:

    >>> preprocess = CLIPImagePreprocessor(image_size=224)
    >>> images = np.full((2, 240, 320, 3), 255, dtype="uint8")
    >>> pixels = preprocess(images)  # CLIP-normalised
    >>> tuple(pixels.shape)
    (2, 224, 224, 3)
    >>> [round(float(v), 4) for v in pixels[0, 0, 0]]  # (1 - mean) / std
    [1.9303, 2.0749, 2.1459]

    Reference:
        [Radford et al., 2021](https://arxiv.org/abs/2103.00020),
        github.com/openai/CLIP `clip/clip.py` (`_transform`).
    """

    def __init__(
        self,
        image_size=224,
        mean=OPENAI_CLIP_MEAN,
        std=OPENAI_CLIP_STD,
        interpolation="bicubic",
        antialias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (
            isinstance(image_size, bool)
            or not isinstance(image_size, (int, np.integer))
            or image_size < 1
        ):
            raise ValueError(
                f"image_size must be a positive int. Received: image_size={image_size}"
            )
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {_INTERPOLATIONS}. "
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
        size = self.image_size
        x = tf.cast(images, "float32")
        if images.shape[-3] == size and images.shape[-2] == size:
            return self._normalize(x)  # The resize would be the identity.
        height, width = tf.shape(x)[-3], tf.shape(x)[-2]
        short = tf.cast(tf.minimum(height, width), "float64")
        long = tf.cast(tf.maximum(height, width), "float64")
        # int() of the float product, as torchvision and Hugging Face.
        new_long = tf.cast(tf.floor(size * long / short), "int32")
        new_height = tf.where(height <= width, size, new_long)
        new_width = tf.where(height <= width, new_long, size)
        x = tf.image.resize(
            x,
            tf.stack([new_height, new_width]),
            method=self.interpolation,
            antialias=self.antialias,
        )
        x = tf.clip_by_value(x, 0.0, 255.0)
        top = (new_height - size) // 2
        left = (new_width - size) // 2
        x = x[..., top : top + size, left : left + size, :]
        return tf.ensure_shape(self._normalize(x), images.shape[:-3] + (size, size, 3))

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
