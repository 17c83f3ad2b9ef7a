"""ViLT's patch tokens: a class token, patches, positions resized per image."""

import keras
import numpy as np
from keras import ops

from kerasmm.layers import ConvPatchEmbedding
from kerasmm.layers import PatchEmbedding
from kerasmm.layers import sincos_2d_positions
from kerasmm.models.clip.clip_utils import normal
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_divisible
from kerasmm.utils.checks import check_images
from kerasmm.utils.checks import check_positive_int


def _resize_weights(sizes, grid, length):
    """`(B, length, grid)` bilinear weights with `align_corners=True`: row
    `i < sizes[b]` samples the `grid` table at `i * (grid - 1) / (sizes[b] - 1)`;
    rows past `sizes[b]` are zero (Hugging Face pads them with zeros)."""
    sizes = ops.cast(sizes, "float32")[:, None]
    rows = ops.arange(length, dtype="float32")[None, :]
    coordinate = rows * (grid - 1) / ops.maximum(sizes - 1.0, 1.0)
    low = ops.floor(coordinate)
    fraction = (coordinate - low)[..., None]
    low = ops.cast(low, "int32")
    high = ops.minimum(low + 1, grid - 1)
    weights = (ops.one_hot(low, grid) * (1.0 - fraction)
               + ops.one_hot(high, grid) * fraction)
    return weights * ops.cast(rows < sizes, "float32")[..., None]


@keras.saving.register_keras_serializable(package="kerasmm")
class ViLTImageEmbedding(keras.layers.Layer):
    """Image tokens of ViLT (Hugging Face `ViltEmbeddings.visual_embed`).

    Patches of a `Conv2D` stem, plus learned positions trained on a
    `grid x grid` patch grid (`grid = image_size // patch_size`) that are
    resized (bilinear, corners aligned) to each image's valid area, the
    patches the pixel mask keeps; a class token with the first position.
    Hugging Face then shuffles the valid patches and pads the sequence by
    sampling masked ones at random; attention ignores order and masked
    tokens, so keeping every patch in grid order with its mask gives the
    same class and text outputs, deterministically.

    Args:
        image_size: int, side of the square training images.
        patch_size: int, side of the square patches.
        hidden_dim: int, token width.
        patch_stem: `"linear"` (ViLT's: each patch projected by one
            `Conv2D` of stride `patch_size`, what converted checkpoints use)
            or `"conv"` (`kerasmm.layers.ConvPatchEmbedding`: stride-2 3x3
            convolutions, for models trained from scratch; `patch_size`
            must be a power of two).
        position_initializer: `"normal"` (ViLT's: std 0.02) or `"sincos"`
            (`kerasmm.layers.sincos_2d_positions` for the patches, zeros for
            the class token; still learned; `hidden_dim` a multiple of 4):
            for training from scratch, where a convolutional stem's tokens
            would drown a 0.02 table (converted weights replace either).

    Call arguments:
        images: float `(B, H, W, 3)`, `H` and `W` multiples of `patch_size`.
        pixel_mask: optional `(B, H, W)`, 1 on real pixels and 0 on padding
            at the bottom and right (as ViLT's processor pads); the `"conv"`
            stem also zeroes the padding before each of its convolutions.

    Returns:
        `(tokens, mask)`: `(B, 1 + (H / p) * (W / p), hidden_dim)` and bool
        `(B, 1 + (H / p) * (W / p))`.

    Example:
    >>> layer = ViLTImageEmbedding(image_size=32, patch_size=16, hidden_dim=8)
    >>> tokens, mask = layer(keras.random.normal((2, 32, 48, 3)))
    >>> tuple(tokens.shape), tuple(mask.shape)
    ((2, 7, 8), (2, 7))
    """

    def __init__(self, image_size, patch_size, hidden_dim, patch_stem="linear",
                 position_initializer="normal", **kwargs):
        super().__init__(**kwargs)
        for name, value in (("image_size", image_size), ("patch_size", patch_size),
                            ("hidden_dim", hidden_dim)):
            check_positive_int(name, value)
        check_divisible("image_size", image_size, "patch_size", patch_size)
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.grid = image_size // patch_size
        self.patch_stem = check_choice("patch_stem", patch_stem, ("linear", "conv"))
        self.position_initializer = check_choice("position_initializer", position_initializer,
                                                 ("normal", "sincos"))
        if position_initializer == "sincos" and hidden_dim % 4:
            raise ValueError("hidden_dim must be a multiple of 4 for position_initializer="
                             f"'sincos'. Received: hidden_dim={hidden_dim}")
        stem = PatchEmbedding if patch_stem == "linear" else ConvPatchEmbedding
        self.patch_embedding = stem(patch_size, hidden_dim, name="patch_embedding",
                                    dtype=self.dtype_policy)

    def build(self, input_shape):
        self.class_token = self.add_weight(shape=(self.hidden_dim,), name="class_token",
                                           initializer=normal(0.02))
        initializer = normal(0.02)
        if self.position_initializer == "sincos":
            table = np.concatenate([np.zeros((1, self.hidden_dim), "float32"),
                                    sincos_2d_positions(self.grid, self.hidden_dim)])

            def initializer(shape, dtype=None):
                return ops.cast(table, dtype)

        self.position_embedding = self.add_weight(
            shape=(self.grid * self.grid + 1, self.hidden_dim), name="position_embedding",
            initializer=initializer)
        self.patch_embedding.build((None, None, None, 3))

    def call(self, images, pixel_mask=None):
        check_images("images", images.shape, (None, None, 3), "ViLT", images.dtype)
        p = self.patch_size
        x = ops.cast(images, self.compute_dtype)
        if self.patch_stem == "conv":  # Overlapping fields: padding must not leak in.
            x = self.patch_embedding(x, pixel_mask=pixel_mask)
        else:
            x = self.patch_embedding(x)
        batch = ops.shape(x)[0]
        rows, cols = ops.shape(images)[1] // p, ops.shape(images)[2] // p
        if pixel_mask is None:
            keep = ops.ones((batch, rows, cols), "float32")
        else:
            # Nearest-neighbour downsampling, as `interpolate(mask, size=grid)`.
            keep = ops.cast(ops.cast(pixel_mask, "bool"), "float32")[:, ::p, ::p]
        heights = ops.sum(keep[:, :, 0], axis=1)
        widths = ops.sum(keep[:, 0, :], axis=1)
        table = ops.cast(self.position_embedding, "float32")
        grid = ops.reshape(table[1:], (self.grid, self.grid, self.hidden_dim))
        positions = ops.einsum("bip,pqd,bjq->bijd",
                               _resize_weights(heights, self.grid, rows), grid,
                               _resize_weights(widths, self.grid, cols))
        positions = ops.reshape(positions, (batch, rows * cols, self.hidden_dim))
        x = x + ops.cast(positions, x.dtype)
        first = ops.cast(self.class_token + self.position_embedding[0], x.dtype)
        first = ops.broadcast_to(first[None, None, :], (batch, 1, self.hidden_dim))
        tokens = ops.concatenate([first, x], axis=1)
        mask = ops.concatenate([ops.ones((batch, 1), "bool"),
                                ops.reshape(keep > 0.5, (batch, rows * cols))], axis=1)
        return tokens, mask

    def compute_output_spec(self, images, pixel_mask=None):
        length = None
        if images.shape[1] is not None and images.shape[2] is not None:
            length = 1 + (images.shape[1] // self.patch_size) * (images.shape[2] // self.patch_size)
        shape = (images.shape[0], length)
        return (keras.KerasTensor(shape + (self.hidden_dim,), dtype=self.compute_dtype),
                keras.KerasTensor(shape, dtype="bool"))

    def get_config(self):
        config = super().get_config()
        config.update({"image_size": self.image_size, "patch_size": self.patch_size,
                       "hidden_dim": self.hidden_dim, "patch_stem": self.patch_stem,
                       "position_initializer": self.position_initializer})
        return config
