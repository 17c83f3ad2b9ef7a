"""Layers of CLIP's ModifiedResNet: anti-aliased bottleneck, attention pooling."""

import keras
from keras import ops

from kerasmm.layers import MultiHeadAttention
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank
from kerasmm.models.clip.clip_utils import normal

# PyTorch BatchNorm2d defaults: eps 1e-5, running stats momentum 0.1.
BATCH_NORM_EPSILON = 1e-5
BATCH_NORM_MOMENTUM = 0.9


def batch_norm(name, dtype, zero_init=False):
    return keras.layers.BatchNormalization(
        epsilon=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM,
        gamma_initializer="zeros" if zero_init else "ones", name=name, dtype=dtype)


def conv(filters, kernel_size, name, dtype):
    """Conv without bias; 3x3 convs are stride 1 here, so 'same' = PyTorch's pad 1."""
    return keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False,
                               name=name, dtype=dtype)


@keras.saving.register_keras_serializable(package="kerasmm")
class Bottleneck(keras.layers.Layer):
    """CLIP's anti-aliased ResNet bottleneck (OpenAI `clip/model.py: Bottleneck`).

    `conv1x1 -> BN -> ReLU -> conv3x3 -> BN -> ReLU -> avgpool(stride) ->
    conv1x1 (4 * filters) -> BN`, added to the shortcut, then ReLU. All convs
    have stride 1 and no bias; a stride > 1 is an average pool after the
    3x3 conv. The shortcut is `avgpool(stride) -> conv1x1 -> BN` when the
    stride is > 1 or the width changes, the identity otherwise. The last
    BatchNorm's scale starts at zero, as OpenAI initialises it.

    Args:
        filters: int, width of the inner convs (`planes`); the output has
            `4 * filters` channels.
        stride: int, spatial downsampling factor.

    Call arguments:
        x: `(batch, height, width, channels)`.
        training: Python bool (BatchNorm).

    Example:
    >>> block = Bottleneck(filters=4, stride=2)
    >>> tuple(block(keras.random.normal((2, 8, 8, 8))).shape)
    (2, 4, 4, 16)

    Reference:
        github.com/openai/CLIP `clip/model.py`.
    """

    expansion = 4

    def __init__(self, filters, stride=1, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("filters", filters)
        check_positive_int("stride", stride)
        self.filters = filters
        self.stride = stride
        dtype = self.dtype_policy
        out = filters * self.expansion
        self.conv1 = conv(filters, 1, "conv1", dtype)
        self.bn1 = batch_norm("bn1", dtype)
        self.conv2 = conv(filters, 3, "conv2", dtype)
        self.bn2 = batch_norm("bn2", dtype)
        self.conv3 = conv(out, 1, "conv3", dtype)
        self.bn3 = batch_norm("bn3", dtype, zero_init=True)
        self.pool = None
        if stride > 1:
            self.pool = keras.layers.AveragePooling2D(stride, name="pool", dtype=dtype)
        self.downsample_conv = None
        self.downsample_bn = None

    def build(self, input_shape):
        check_rank("x", input_shape, 4)
        out = self.filters * self.expansion
        self.conv1.build(input_shape)
        inner = tuple(input_shape[:3]) + (self.filters,)
        self.bn1.build(inner)
        self.conv2.build(inner)
        self.bn2.build(inner)
        self.conv3.build(inner)
        self.bn3.build(tuple(input_shape[:3]) + (out,))
        if self.stride > 1 or input_shape[-1] != out:
            dtype = self.dtype_policy
            self.downsample_conv = conv(out, 1, "downsample_conv", dtype)
            self.downsample_conv.build(input_shape)
            self.downsample_bn = batch_norm("downsample_bn", dtype)
            self.downsample_bn.build(tuple(input_shape[:3]) + (out,))

    def _pool(self, x):
        return x if self.pool is None else self.pool(x)

    def call(self, x, training=None):
        out = ops.relu(self.bn1(self.conv1(x), training=training))
        out = ops.relu(self.bn2(self.conv2(out), training=training))
        out = self.bn3(self.conv3(self._pool(out)), training=training)
        shortcut = x
        if self.downsample_conv is not None:
            shortcut = self.downsample_bn(self.downsample_conv(self._pool(x)),
                                          training=training)
        return ops.relu(out + shortcut)

    def compute_output_shape(self, input_shape):
        def down(n):
            return None if n is None else n // self.stride
        return (input_shape[0], down(input_shape[1]), down(input_shape[2]),
                self.filters * self.expansion)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "stride": self.stride})
        return config


@keras.saving.register_keras_serializable(package="kerasmm")
class AttentionPool2D(keras.layers.Layer):
    """CLIP's attention pooling of a feature map (OpenAI `AttentionPool2d`).

    The `(H, W)` grid is flattened row-major into `H * W` tokens, their mean
    is prepended, a learned `(H * W + 1, C)` position table is added, and
    one multi-head attention step (q/k/v/output projections with bias) lets
    the mean token attend to all `H * W + 1` tokens. Its output, projected
    to `output_dim`, is the pooled feature.

    Weights and their OpenAI names: `positional_embedding`,
    `attention.{query,key,value}` (`q_proj`, `k_proj`, `v_proj`),
    `attention.output` (`c_proj`).

    Args:
        num_heads: int, attention heads; must divide the channels C.
        output_dim: int, output width (defaults to C).

    Call arguments:
        x: `(batch, H, W, C)` with H, W and C known.

    Returns:
        `(batch, output_dim)`.

    Example:
    >>> pool = AttentionPool2D(num_heads=2, output_dim=6)
    >>> tuple(pool(keras.random.normal((2, 3, 3, 8))).shape)
    (2, 6)

    Reference:
        Radford et al., 2021, section 2.4; github.com/openai/CLIP
        `clip/model.py`.
    """

    def __init__(self, num_heads, output_dim=None, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("output_dim", output_dim, allow_none=True)
        self.num_heads = num_heads
        self.output_dim = output_dim

    def build(self, input_shape):
        check_rank("x", input_shape, 4)
        height, width, channels = input_shape[1:]
        if None in (height, width, channels):
            raise ValueError(
                "AttentionPool2D needs a known (H, W, C): its position table "
                f"has H * W + 1 rows. Received: x with shape {tuple(input_shape)}"
            )
        if channels % self.num_heads:
            raise ValueError(
                "num_heads must divide the channels of x. Received: "
                f"num_heads={self.num_heads}, channels={channels}"
            )
        self.positional_embedding = self.add_weight(
            shape=(height * width + 1, channels), initializer=normal(channels ** -0.5),
            name="positional_embedding")
        self.attention = MultiHeadAttention(
            self.num_heads, qk_channels=channels, v_channels=channels,
            output_channels=self.output_dim or channels, use_bias=True,
            name="attention", dtype=self.dtype_policy)
        self.attention.build((None, 1, channels), (None, height * width + 1, channels))

    def call(self, x):
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1] * shape[2], x.shape[-1]))
        x = ops.concatenate([ops.mean(x, axis=1, keepdims=True), x], axis=1)
        x = x + ops.cast(self.positional_embedding, x.dtype)
        return self.attention(x[:, :1, :], x)[:, 0, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim or input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"num_heads": self.num_heads, "output_dim": self.output_dim})
        return config
