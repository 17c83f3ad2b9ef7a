"""ViT patchify: non-overlapping patches, each linearly projected."""

import keras
from keras import ops

from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank


def _patch_hw(patch_size):
    if isinstance(patch_size, int) and not isinstance(patch_size, bool):
        values = (patch_size, patch_size)
    elif isinstance(patch_size, (tuple, list)) and len(patch_size) == 2:
        values = tuple(patch_size)
    else:
        values = ()
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0
                               for v in values):
        raise ValueError(
            "patch_size must be a positive integer or a pair of positive "
            f"integers. Received: patch_size={patch_size!r}"
        )
    return values


@keras.saving.register_keras_serializable(package="kerasmm")
class PatchEmbedding(keras.layers.Layer):
    """Splits images into non-overlapping patches and projects each one.

    A `Conv2D` with kernel size = stride = `patch_size` and valid padding (the
    ViT / CLIP `conv1` stem), then the `(H / p, W / p)` grid flattened row-major
    into a sequence.

    Args:
        patch_size: patch side, an int or a `(height, width)` pair.
        hidden_dim: output width of each patch embedding.
        use_bias: whether the projection has a bias (CLIP's has none).

    Call arguments:
        images: channels-last `(B, H, W, C)`, H and W divisible by the patch
            size.

    Returns:
        `(B, (H / ph) * (W / pw), hidden_dim)`.

    Example:
    >>> images = keras.random.normal((2, 32, 48, 3))
    >>> tuple(PatchEmbedding(patch_size=16, hidden_dim=8)(images).shape)
    (2, 6, 8)

    Reference:
        Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for
        Image Recognition at Scale", 2021.
    """

    def __init__(self, patch_size, hidden_dim, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self._patch = _patch_hw(patch_size)
        check_positive_int("hidden_dim", hidden_dim)
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.use_bias = use_bias

    def _check_image(self, shape):
        check_rank("images", shape, 4)
        height, width = shape[1], shape[2]
        if any(n is not None and n % p for n, p in zip((height, width), self._patch)):
            image_size = height if height == width else (height, width)
            raise ValueError(
                "image_size must be divisible by patch_size. Received: "
                f"image_size={image_size}, patch_size={self.patch_size}"
            )
        if shape[3] is None:
            raise ValueError(
                "The channel dimension of images must be known. Received: "
                f"images with shape {tuple(shape)}"
            )

    def build(self, input_shape):
        self._check_image(input_shape)
        self.projection = keras.layers.Conv2D(
            self.hidden_dim, kernel_size=self._patch, strides=self._patch,
            padding="valid", use_bias=self.use_bias, name="projection",
            dtype=self.dtype_policy)
        self.projection.build(input_shape)

    def call(self, images):
        self._check_image(images.shape)
        x = self.projection(images)
        shape = ops.shape(x)
        return ops.reshape(x, (shape[0], shape[1] * shape[2], self.hidden_dim))

    def compute_output_shape(self, input_shape):
        self._check_image(input_shape)
        height, width = input_shape[1], input_shape[2]
        length = None
        if height is not None and width is not None:
            length = (height // self._patch[0]) * (width // self._patch[1])
        return (input_shape[0], length, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "patch_size": self.patch_size,
            "hidden_dim": self.hidden_dim,
            "use_bias": self.use_bias,
        })
        return config


@keras.saving.register_keras_serializable(package="kerasmm")
class ConvPatchEmbedding(PatchEmbedding):
    """A convolutional stem in place of the patchify, same grid of tokens.

    `log2(patch_size)` 3x3 convolutions of stride 2 ("same" padding, no
    bias), each followed by batch normalisation and ReLU, then a 1x1
    convolution to `hidden_dim`: the stem of Xiao et al. Every token sees
    an overlapping neighbourhood instead of one patch cut from the image,
    so a shape that straddles patch borders is still seen whole; small
    ViTs trained from scratch learn faster and more stably with it. The
    output has the shape of `PatchEmbedding`'s.

    Args:
        patch_size: int, a power of two >= 2: the side of the square patch
            each token stands for (the stem's total stride).
        hidden_dim: output width of each token.
        filters: the widths of the strided convolutions, one per halving;
            default: doubling up to `hidden_dim / 2` as in the paper
            (`hidden_dim / 2**(k - i)` for the i-th of k), at least 16.

    Call arguments:
        images: channels-last `(B, H, W, C)`, H and W divisible by
            `patch_size`.
        pixel_mask: optional `(B, H, W)`, 0 on padding at the bottom and
            right (a valid area of whole patches): padded pixels and
            activations are zeroed before each convolution, so the tokens of
            the valid area equal those of the unpadded image.
        training: bool, batch statistics (True) or moving ones.

    Returns:
        `(B, (H / p) * (W / p), hidden_dim)`.

    Example:
    >>> images = keras.random.normal((2, 32, 48, 3))
    >>> tuple(ConvPatchEmbedding(patch_size=8, hidden_dim=32)(images).shape)
    (2, 24, 32)

    Reference:
        Xiao et al., "Early Convolutions Help Transformers See Better", 2021.
    """

    def __init__(self, patch_size, hidden_dim, filters=None, **kwargs):
        if (not isinstance(patch_size, int) or isinstance(patch_size, bool) or patch_size < 2
                or patch_size & (patch_size - 1)):
            raise ValueError("patch_size must be a power of two >= 2 for a convolutional "
                             f"stem. Received: patch_size={patch_size!r}")
        super().__init__(patch_size, hidden_dim, use_bias=True, **kwargs)
        num_convs = patch_size.bit_length() - 1
        if filters is None:
            filters = tuple(max(16, hidden_dim >> (num_convs - i + 1))
                            for i in range(1, num_convs + 1))
        filters = tuple(filters) if isinstance(filters, (list, tuple)) else filters
        if (not isinstance(filters, tuple) or len(filters) != num_convs
                or any(isinstance(f, bool) or not isinstance(f, int) or f <= 0
                       for f in filters)):
            raise ValueError(
                f"filters must be {num_convs} positive integers (one per stride-2 "
                f"convolution of patch_size={patch_size}). Received: filters={filters!r}")
        self.filters = filters
        self.stem = []
        for i, width in enumerate(filters):
            self.stem += [
                keras.layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False,
                                    name=f"conv_{i}", dtype=self.dtype_policy),
                keras.layers.BatchNormalization(name=f"norm_{i}", dtype=self.dtype_policy),
                keras.layers.ReLU(name=f"relu_{i}", dtype=self.dtype_policy),
            ]
        self.stem.append(keras.layers.Conv2D(hidden_dim, 1, name="projection",
                                             dtype=self.dtype_policy))

    def build(self, input_shape):
        self._check_image(input_shape)
        shape = tuple(input_shape)
        for layer in self.stem:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, images, pixel_mask=None, training=None):
        self._check_image(images.shape)
        x = images
        keep = None
        if pixel_mask is not None:
            keep = ops.cast(ops.cast(pixel_mask, "bool"), x.dtype)[..., None]
            x = x * keep
        for layer in self.stem:
            x = layer(x, training=training) if isinstance(
                layer, keras.layers.BatchNormalization) else layer(x)
            if keep is not None and isinstance(layer, keras.layers.ReLU):
                # Padding stays zero, as the "same" padding of an unpadded image.
                keep = keep[:, ::2, ::2]
                x = x * keep
        shape = ops.shape(x)
        return ops.reshape(x, (shape[0], shape[1] * shape[2], self.hidden_dim))

    def get_config(self):
        config = super().get_config()
        config.pop("use_bias")
        config["filters"] = list(self.filters)
        return config
