"""ViLT image preprocessing: aspect-kept resize, padding and a pixel mask."""

import keras
import tensorflow as tf

from kerasmm.preprocessing.image_preprocessor import ImagePreprocessor
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.constants import HALF_MEAN
from kerasmm.utils.constants import HALF_STD


def resized_size(height, width, shortest_edge, longest_edge, size_divisor):
    """`(height, width)` after ViLT's resize (Hugging Face's
    `ViltImageProcessor.resize`): the shorter side to `shortest_edge`, both
    scaled down if the longer then exceeds `longest_edge`, rounded, then
    floored to multiples of `size_divisor`."""
    if height < width:
        new_height, new_width = shortest_edge, width * (shortest_edge / height)
    else:
        new_height, new_width = height * (shortest_edge / width), shortest_edge
    if max(new_height, new_width) > longest_edge:
        scale = longest_edge / max(new_height, new_width)
        new_height, new_width = new_height * scale, new_width * scale
    new_height, new_width = int(new_height + 0.5), int(new_width + 0.5)
    return (new_height // size_divisor * size_divisor,
            new_width // size_divisor * size_divisor)


@keras.saving.register_keras_serializable(package="kerasmm")
class ViLTImagePreprocessor(ImagePreprocessor):
    """Resizes each picture keeping its aspect ratio, normalises, pads the
    batch to its largest size and returns the pixel mask `ViLT` takes.

    As Hugging Face's `ViltImageProcessor`: the shorter side to
    `shortest_edge` (the longer at most `longest_edge`), sides floored to
    multiples of `size_divisor`, bicubic resizing (TensorFlow's, with
    antialiasing; PIL's differs by a few levels of 255), `(x - mean) / std`,
    then zeros to the bottom and right up to the batch's largest height and
    width, with `pixel_mask` 0 there. Runs in TensorFlow, eagerly: pictures
    of different sizes come as a list.

    Args:
        shortest_edge: int, target of the shorter side (384 for ViLT).
        longest_edge: int, most the longer side may be (default
            `int(shortest_edge * 1333 / 800)`, 640 for 384).
        size_divisor: int, sides are floored to multiples of it (the patch
            size, 32).
        mean, std: 3 floats each, per channel, of `[0, 1]` pixels.
        interpolation: str, a `tf.image.resize` method.
        antialias: bool, filter when downsampling.

    Call arguments:
        images: a list of `(H, W, 3)` pictures (sizes may differ) or a
            `(batch, H, W, 3)` array: integers in `[0, 255]` or floats in
            `[0, 1]`.

    Returns:
        `{"images": float32 (batch, H', W', 3), "pixel_mask": int32
        (batch, H', W')}`.

    Example:
    >>> preprocess = ViLTImagePreprocessor(shortest_edge=32, size_divisor=8)
    >>> out = preprocess([np.zeros((40, 80, 3), "uint8"), np.zeros((60, 40, 3), "uint8")])
    >>> tuple(out["images"].shape), out["pixel_mask"].numpy().sum(axis=(1, 2)).tolist()
    ((2, 48, 48, 3), [1152, 1536])
    """

    def __init__(self, shortest_edge=384, longest_edge=None, size_divisor=32,
                 mean=HALF_MEAN, std=HALF_STD, interpolation="bicubic", antialias=True,
                 **kwargs):
        super().__init__(shortest_edge, mean, std, interpolation, antialias, **kwargs)
        self.shortest_edge = self.image_size
        self.longest_edge = check_positive_int(
            "longest_edge", longest_edge or int(shortest_edge * 1333 / 800))
        self.size_divisor = check_positive_int("size_divisor", size_divisor)

    def call(self, images):
        if isinstance(images, (list, tuple)):
            pictures = [super(ViLTImagePreprocessor, self).call(image) for image in images]
        else:
            batch = super().call(images)
            pictures = [batch] if batch.shape.rank == 3 else tf.unstack(batch)
        height = max(int(p.shape[0]) for p in pictures)
        width = max(int(p.shape[1]) for p in pictures)
        padded, masks = [], []
        for picture in pictures:
            pad = [[0, height - picture.shape[0]], [0, width - picture.shape[1]]]
            padded.append(tf.pad(picture, pad + [[0, 0]]))
            masks.append(tf.pad(tf.ones(picture.shape[:2], tf.int32), pad))
        return {"images": tf.stack(padded), "pixel_mask": tf.stack(masks)}

    def _preprocess(self, images):
        if images.shape.rank != 3:  # A batch: every picture gets the same size.
            return tf.stack([self._preprocess(image) for image in tf.unstack(images)])
        size = resized_size(int(images.shape[0]), int(images.shape[1]), self.shortest_edge,
                            self.longest_edge, self.size_divisor)
        x = tf.image.resize(images, size, method=self.interpolation, antialias=self.antialias)
        return self._normalize(tf.clip_by_value(x, 0.0, 1.0))

    def compute_output_shape(self, input_shape):
        return None

    def get_config(self):
        config = super().get_config()
        del config["image_size"]
        config.update({"shortest_edge": self.shortest_edge, "longest_edge": self.longest_edge,
                       "size_divisor": self.size_divisor})
        return config
