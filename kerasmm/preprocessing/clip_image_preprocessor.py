"""CLIP image preprocessing: shortest-side resize, center crop, mean/std."""

import keras
import tensorflow as tf

from kerasmm.preprocessing.image_preprocessor import ImagePreprocessor
from kerasmm.utils.constants import OPENAI_CLIP_MEAN
from kerasmm.utils.constants import OPENAI_CLIP_STD



@keras.saving.register_keras_serializable(package="kerasmm")
class CLIPImagePreprocessor(ImagePreprocessor):
    """Resizes, center-crops and normalises images as CLIP expects.

    The steps of OpenAI's `clip.load(...)` preprocessing and Hugging Face's
    `CLIPImageProcessor`: resize so that the shortest side is `image_size`
    (the other side becomes `int(image_size * long / short)`, aspect ratio
    kept), crop the central `image_size x image_size` window (offsets
    `(size - image_size) // 2`, as Hugging Face; torchvision rounds, which
    can move the window by one pixel), scale `[0, 255]` to `[0, 1]`, then
    subtract `mean` and divide by `std` per channel.

    The resize is TensorFlow's, antialiased by default like PIL's when
    downsampling; values are clipped to `[0, 1]` after it. PIL also rounds
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
        images: pictures as integers in `[0, 255]` (uint8 or any integer
            dtype) or floats in `[0, 1]` (the same picture gives the same
            output); other values raise a `ValueError`. Shape `(H, W, 3)` or
            `(batch, H, W, 3)`. H and W may vary from one
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
        super().__init__(image_size, mean, std, interpolation, antialias, **kwargs)

    def _preprocess(self, images):
        size = self.image_size
        x = images
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
        x = tf.clip_by_value(x, 0.0, 1.0)
        top = (new_height - size) // 2
        left = (new_width - size) // 2
        x = x[..., top : top + size, left : left + size, :]
        return tf.ensure_shape(self._normalize(x), images.shape[:-3] + (size, size, 3))
