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
    floored to multiples of `size_divisor`. Python ints of
    `resized_size_tensor`."""
    sizes = resized_size_tensor(height, width, shortest_edge, longest_edge, size_divisor)
    return tuple(int(size) for size in sizes)


def resized_size_tensor(height, width, shortest_edge, longest_edge, size_divisor):
    """`resized_size` in TensorFlow ops (graph-safe, element-wise over int
    tensors of heights and widths): the same float64 arithmetic, so the
    same sizes. Returns `(new_height, new_width)` int32 tensors."""
    h, w = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
    edge = tf.constant(float(shortest_edge), tf.float64)
    new_h = tf.where(h < w, edge, h * (edge / w))
    new_w = tf.where(h < w, w * (edge / h), edge)
    longest = tf.maximum(new_h, new_w)
    shrink, scale = longest > longest_edge, longest_edge / longest
    new_h, new_w = tf.where(shrink, new_h * scale, new_h), tf.where(shrink, new_w * scale, new_w)
    new_h = tf.cast(tf.floor(new_h + 0.5), tf.int32)
    new_w = tf.cast(tf.floor(new_w + 0.5), tf.int32)
    return new_h // size_divisor * size_divisor, new_w // size_divisor * size_divisor


def _pad_to(picture, height, width):
    """`picture` `(h, w, 3)` padded with zeros at the bottom and right to
    `(height, width, 3)`, and its pixel mask `(height, width)`."""
    pad = [[0, height - tf.shape(picture)[0]], [0, width - tf.shape(picture)[1]]]
    return (tf.pad(picture, pad + [[0, 0]]),
            tf.pad(tf.ones(tf.shape(picture)[:2], tf.int32), pad))


def _pad(pictures):
    """A list of pictures of any sizes as one padded batch with its pixel mask."""
    height = tf.reduce_max([tf.shape(p)[0] for p in pictures])
    width = tf.reduce_max([tf.shape(p)[1] for p in pictures])
    padded, masks = zip(*[_pad_to(p, height, width) for p in pictures])
    return {"images": tf.stack(padded), "pixel_mask": tf.stack(masks)}


@keras.saving.register_keras_serializable(package="kerasmm")
class ViLTImagePreprocessor(ImagePreprocessor):
    """Resizes each picture keeping its aspect ratio, normalises, pads the
    batch to its largest size and returns the pixel mask `ViLT` takes.

    As Hugging Face's `ViltImageProcessor`: the shorter side to
    `shortest_edge` (the longer at most `longest_edge`), sides floored to
    multiples of `size_divisor`, bicubic resizing (TensorFlow's, with
    antialiasing; PIL's differs by a few levels of 255), `(x - mean) / std`,
    then zeros to the bottom and right up to the batch's largest height and
    width, with `pixel_mask` 0 there. Runs in TensorFlow ops, eagerly or
    inside `tf.data` (graph mode): pictures of different sizes come as a
    list (eagerly) or as a ragged batch (`tf.data.Dataset.ragged_batch`);
    a dense batch shares one size (its pixel mask is all ones).

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
        images: a list of `(H, W, 3)` pictures (sizes may differ), a
            `tf.RaggedTensor` `(batch, None, None, 3)`, a `(batch, H, W, 3)`
            array or one `(H, W, 3)` picture (a batch of one): integers in
            `[0, 255]` or floats in `[0, 1]`.

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
        if isinstance(images, tf.RaggedTensor):  # A ragged batch, as `ragged_batch` gives.
            return self._ragged(images)
        if isinstance(images, (list, tuple)):
            return _pad([super(ViLTImagePreprocessor, self).call(image) for image in images])
        batch = super().call(images)
        if batch.shape.rank == 3:
            batch = batch[None]
        return {"images": batch, "pixel_mask": tf.ones(tf.shape(batch)[:3], tf.int32)}

    def _ragged(self, images):
        if images.shape.rank != 4 or images.shape[-1] != 3:
            raise ValueError("A ragged batch of images must have shape (batch, H, W, 3). "
                             f"Received: shape={images.shape}")
        with tf.device("/cpu:0"):
            shapes = tf.map_fn(lambda image: tf.shape(image.to_tensor())[:2], images,
                               fn_output_signature=tf.int32)
            sizes = resized_size_tensor(shapes[:, 0], shapes[:, 1], self.shortest_edge,
                                        self.longest_edge, self.size_divisor)
            height, width = tf.reduce_max(sizes[0]), tf.reduce_max(sizes[1])

            def one(image):
                picture = self._preprocess(self._to_unit_range(image.to_tensor()))
                return _pad_to(picture, height, width)

            padded, masks = tf.map_fn(one, images, fn_output_signature=(
                tf.TensorSpec((None, None, 3), tf.float32),
                tf.TensorSpec((None, None), tf.int32)))
            return {"images": padded, "pixel_mask": masks}

    def _preprocess(self, images):
        size = resized_size_tensor(tf.shape(images)[-3], tf.shape(images)[-2],
                                   self.shortest_edge, self.longest_edge, self.size_divisor)
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
