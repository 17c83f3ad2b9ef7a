"""SigLIP image preprocessing: resize to a square, pixels to [-1, 1]."""

import keras
import tensorflow as tf

from kerasmm.preprocessing.image_preprocessor import ImagePreprocessor
from kerasmm.utils.constants import HALF_MEAN
from kerasmm.utils.constants import HALF_STD


@keras.saving.register_keras_serializable(package="kerasmm")
class SigLIPImagePreprocessor(ImagePreprocessor):
    """Resizes images to `image_size x image_size` and maps pixels to `[-1, 1]`.

    SigLIP's preprocessing (big_vision's `resize(size)|value_range(-1, 1)`):
    resize the whole picture to a square, aspect ratio not kept and nothing
    cropped (`tf.image.resize`, bilinear without antialiasing by default, as
    big_vision trained), values clipped to `[0, 1]`, then `(x - mean) / std`
    with mean and std 0.5. Hugging Face's `SiglipImageProcessor` resizes
    with PIL's bicubic filter instead; pass `interpolation="bicubic",
    antialias=True` to come close to it.

    The layer runs in TensorFlow (eagerly or inside `tf.data.Dataset.map`)
    whatever the Keras backend, and returns float32 `tf.Tensor`s.

    Args:
        image_size: int, output height and width.
        mean: 3 floats, per-channel mean of `[0, 1]` pixels, or None.
        std: 3 floats, per-channel standard deviation, or None.
        interpolation: str, a `tf.image.resize` method.
        antialias: bool, filter when downsampling.

    Call arguments:
        images: integers in `[0, 255]` or floats in `[0, 1]`, shape
            `(H, W, 3)` or `(batch, H, W, 3)`.

    Returns:
        float32 `(image_size, image_size, 3)` or `(batch, image_size,
        image_size, 3)`.

    Example:
    >>> preprocess = SigLIPImagePreprocessor(image_size=32)
    >>> pixels = preprocess(np.full((2, 48, 64, 3), 255, dtype="uint8"))
    >>> tuple(pixels.shape), float(pixels[0, 0, 0, 0])
    ((2, 32, 32, 3), 1.0)
    """

    def __init__(self, image_size=224, mean=HALF_MEAN, std=HALF_STD,
                 interpolation="bilinear", antialias=False, **kwargs):
        super().__init__(image_size, mean, std, interpolation, antialias, **kwargs)

    def _preprocess(self, images):
        size = self.image_size
        x = images
        if images.shape[-3] != size or images.shape[-2] != size:
            x = tf.image.resize(x, (size, size), method=self.interpolation,
                                antialias=self.antialias)
            x = tf.clip_by_value(x, 0.0, 1.0)
        return tf.ensure_shape(self._normalize(x), images.shape[:-3] + (size, size, 3))
