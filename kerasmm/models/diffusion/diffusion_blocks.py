"""Building blocks of the diffusion denoiser: timestep embedding, ResBlock, text attention."""

import math

import keras
from keras import ops

from kerasmm.layers import CrossAttention
from kerasmm.layers import SelfAttention
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank
from kerasmm.utils.checks import check_rate


def timestep_embedding(timesteps, dim, max_period=10000):
    """DDPM / ADM sinusoidal timestep embedding, float32 `(B, dim)`.

    `[cos(t f_0), ..., cos(t f_{h-1}), sin(t f_0), ..., sin(t f_{h-1})]`
    with `h = dim // 2` and `f_i = max_period ** (-i / h)` (OpenAI
    guided-diffusion's `timestep_embedding`); `dim` must be even.

    >>> e = timestep_embedding(np.array([0.0, 10.0]), 4)
    >>> keras.ops.convert_to_numpy(e)[0].tolist()
    [1.0, 1.0, 0.0, 0.0]
    """
    half = dim // 2
    freqs = ops.exp(-math.log(max_period) * ops.arange(half, dtype="float32") / half)
    angles = ops.cast(timesteps, "float32")[:, None] * freqs[None, :]
    return ops.concatenate([ops.cos(angles), ops.sin(angles)], axis=-1)


@keras.saving.register_keras_serializable(package="kerasmm")
class ResBlock(keras.layers.Layer):
    """Residual conv block conditioned on an embedding (DDPM / ADM).

    `h = conv(swish(GN(x))) + Dense(swish(embedding))`, then
    `h = conv(dropout(swish(GN(h))))` (zero-initialised, so the block
    starts as the identity), output `shortcut(x) + h` (a 1x1 conv when the
    width changes).

    Args:
        channels: int, output width.
        num_groups: int, GroupNorm groups; must divide both widths.
        dropout: float in [0, 1).

    Call arguments:
        x: `(B, H, W, C)`.
        embedding: `(B, E)`.
        training: Python bool.

    >>> block = ResBlock(8, num_groups=4)
    >>> tuple(block(keras.random.normal((2, 4, 4, 4)), keras.random.normal((2, 6))).shape)
    (2, 4, 4, 8)
    """

    def __init__(self, channels, num_groups=8, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.channels = check_positive_int("channels", channels)
        self.num_groups = check_positive_int("num_groups", num_groups)
        self.dropout = check_rate("dropout", dropout)

    def _norm(self, name, shape):
        layer = keras.layers.GroupNormalization(self.num_groups, epsilon=1e-5, name=name,
                                                dtype=self.dtype_policy)
        layer.build(shape)
        return layer

    def _conv(self, name, shape, kernel_size=3, initializer="glorot_uniform"):
        layer = keras.layers.Conv2D(self.channels, kernel_size, padding="same", name=name,
                                    kernel_initializer=initializer, dtype=self.dtype_policy)
        layer.build(shape)
        return layer

    def build(self, x_shape, embedding_shape):
        check_rank("x", x_shape, 4)
        check_rank("embedding", embedding_shape, 2)
        out_shape = tuple(x_shape[:-1]) + (self.channels,)
        self.norm_1 = self._norm("norm_1", x_shape)
        self.conv_1 = self._conv("conv_1", x_shape)
        self.embedding_projection = keras.layers.Dense(
            self.channels, name="embedding_projection", dtype=self.dtype_policy)
        self.embedding_projection.build(embedding_shape)
        self.norm_2 = self._norm("norm_2", out_shape)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.conv_2 = self._conv("conv_2", out_shape, initializer="zeros")
        self.shortcut = None
        if x_shape[-1] != self.channels:
            self.shortcut = self._conv("shortcut", x_shape, kernel_size=1)

    def call(self, x, embedding, training=None):
        h = self.conv_1(ops.silu(self.norm_1(x)))
        h = h + self.embedding_projection(ops.silu(embedding))[:, None, None, :]
        h = self.conv_2(self.dropout_layer(ops.silu(self.norm_2(h)), training=training))
        return (x if self.shortcut is None else self.shortcut(x)) + h

    def compute_output_shape(self, x_shape, embedding_shape):
        return tuple(x_shape[:-1]) + (self.channels,)

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, num_groups=self.num_groups, dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package="kerasmm")
class ImageTextAttention(keras.layers.Layer):
    """Pixels attend to each other, then to text tokens (a "spatial transformer").

    The feature map is read as `H * W` tokens: a `kerasmm.layers.SelfAttention`
    block, then a `kerasmm.layers.CrossAttention` block to the text tokens
    (padded text positions masked out), both pre-LN with residuals.

    Args:
        num_heads: int, heads of both blocks.
        widening_factor: int, MLP width multiple of both blocks.
        dropout: float in [0, 1).

    Call arguments:
        x: `(B, H, W, C)`.
        context: text tokens `(B, L, D)`.
        context_mask: optional bool `(B, L)`, False on padding.
        training: Python bool.

    >>> block = ImageTextAttention(num_heads=2)
    >>> x, text = keras.random.normal((2, 4, 4, 8)), keras.random.normal((2, 5, 6))
    >>> tuple(block(x, text, np.array([[1, 1, 0, 0, 0]] * 2, bool)).shape)
    (2, 4, 4, 8)
    """

    def __init__(self, num_heads, widening_factor=2, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.widening_factor = check_positive_int("widening_factor", widening_factor)
        self.dropout = check_rate("dropout", dropout)

    def build(self, x_shape, context_shape, context_mask_shape=None):
        check_rank("x", x_shape, 4)
        tokens = (x_shape[0], x_shape[1] * x_shape[2], x_shape[3])
        self.self_attention = SelfAttention(
            self.num_heads, widening_factor=self.widening_factor, dropout=self.dropout,
            name="self_attention", dtype=self.dtype_policy)
        self.self_attention.build(tokens)
        self.cross_attention = CrossAttention(
            self.num_heads, widening_factor=self.widening_factor, dropout=self.dropout,
            name="cross_attention", dtype=self.dtype_policy)
        self.cross_attention.build(tokens, context_shape)

    def call(self, x, context, context_mask=None, training=None):
        _, height, width, channels = x.shape
        tokens = ops.reshape(x, (-1, height * width, channels))
        tokens = self.self_attention(tokens, training=training)
        tokens = self.cross_attention(tokens, context, context_mask=context_mask,
                                      training=training)
        return ops.reshape(tokens, (-1, height, width, channels))

    def compute_output_shape(self, x_shape, context_shape, context_mask_shape=None):
        return tuple(x_shape)

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, widening_factor=self.widening_factor,
                      dropout=self.dropout)
        return config
