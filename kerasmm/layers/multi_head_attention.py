"""Multi-head dot-product attention with separately sized q/k and v channels."""

import math

import keras
from keras import ops

from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank

# Large enough that exp(masked - max) underflows to exactly 0 in float32.
_MASK_VALUE = -1e9


def dot_product_attention(query, key, value, mask=None, dropout=None,
                          training=None):
    """softmax(q k^T / sqrt(d)) v over heads, with logits in float32.

    Args:
        query: `(B, N, H, Dqk)`. key: `(B, M, H, Dqk)`. value: `(B, M, H, Dv)`.
        mask: optional bool, broadcastable to `(B, H, N, M)`; False entries get
            exactly zero weight.
        dropout: optional `keras.layers.Dropout` applied to the weights.
    Returns:
        `(B, N, H, Dv)` in the dtype of `value`.

    On JAX, in inference, float32 inputs of one head width go through
    `keras.ops.dot_product_attention` (`jax.nn`'s attention: the
    same products, scale, mask and float32 softmax). XLA's CPU backend runs
    its two products and softmax as separate YNNPACK fusions, where it
    makes one slower fusion of the einsums below: a SigLIP B/16 vision
    tower takes 2.08 CPU s against 2.26 (`benchmarks/README.md`, JAX).
    """
    scale = 1.0 / math.sqrt(query.shape[-1])
    if _backend_attention_applies(query, value, training):
        return ops.dot_product_attention(query, key, value, mask=mask, scale=scale)
    logits = ops.einsum("bnhd,bmhd->bhnm", query, key)
    logits = ops.cast(logits, "float32") * scale
    if mask is not None:
        logits = ops.where(mask, logits, _MASK_VALUE)
    weights = ops.softmax(logits, axis=-1)
    weights = ops.cast(weights, value.dtype)
    if dropout is not None:
        weights = dropout(weights, training=training)
    return ops.einsum("bhnm,bmhd->bnhd", weights, value)


def _jax_inference(training):
    """JAX outside training: where XLA's CPU backend runs inference faster
    with `jax.nn`'s attention and separate q/k/v matmuls, and training
    faster with kerasmm's einsums and the fused projection."""
    return keras.backend.backend() == "jax" and not training


def _backend_attention_applies(query, value, training):
    """Whether `keras.ops.dot_product_attention` computes the same thing
    faster: on JAX, in inference (its gradient is slower: a CLIP ViT-B/32
    train step takes 5.0 CPU s with it, 4.6 without), float32, equal q/k
    and v head widths."""
    return (_jax_inference(training)
            and keras.backend.standardize_dtype(query.dtype) == "float32"
            and keras.backend.standardize_dtype(value.dtype) == "float32"
            and query.shape[-1] == value.shape[-1])


@keras.saving.register_keras_serializable(package="kerasmm")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention whose query and context may differ in length and width.

    The attention used inside `CrossAttention` and `SelfAttention`, as in
    DeepMind's Perceiver (`perceiver.py: Attention`): query/key projections
    to `qk_channels`, value projection to `v_channels`, heads split from those
    totals, and an output projection to `output_channels`.

    Args:
        num_heads: number of heads; must divide `qk_channels` and `v_channels`.
        qk_channels: total query/key width. Defaults to the query's width.
        v_channels: total value width. Defaults to `qk_channels`.
        output_channels: output width. Defaults to the query's width.
        use_bias: whether the four projections have biases.
        attention_dropout: dropout rate on the attention weights.

    Call arguments:
        query: `(B, N, Dq)`.
        context: `(B, M, Dc)`.
        attention_mask: optional bool `(B, N, M)` or `(B, 1, M)`; True = attend.
        training: Python bool.

    Example:
    >>> layer = MultiHeadAttention(num_heads=2, qk_channels=8)
    >>> tuple(layer(keras.random.normal((1, 3, 4)), keras.random.normal((1, 5, 6))).shape)
    (1, 3, 4)
    """

    def __init__(self, num_heads, qk_channels=None, v_channels=None,
                 output_channels=None, use_bias=True, attention_dropout=0.0,
                 **kwargs):
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("qk_channels", qk_channels, allow_none=True)
        check_positive_int("v_channels", v_channels, allow_none=True)
        check_positive_int("output_channels", output_channels, allow_none=True)
        if not 0.0 <= attention_dropout < 1.0:
            raise ValueError(
                "attention_dropout must be in [0, 1). "
                f"Received: attention_dropout={attention_dropout}"
            )
        self.num_heads = num_heads
        self.qk_channels = qk_channels
        self.v_channels = v_channels
        self.output_channels = output_channels
        self.use_bias = use_bias
        self.attention_dropout = attention_dropout
        # Padding arrives as `attention_mask`; a Keras mask riding on the
        # normalised inputs is already folded into it.
        self.supports_masking = True
        self._dropout = keras.layers.Dropout(attention_dropout, dtype=self.dtype_policy)

    def _resolved_channels(self, query_shape):
        qk = self.qk_channels or query_shape[-1]
        v = self.v_channels or qk
        out = self.output_channels or query_shape[-1]
        for name, value in (("qk_channels", qk), ("v_channels", v)):
            if value % self.num_heads:
                raise ValueError(
                    f"num_heads must divide {name}. Received: "
                    f"num_heads={self.num_heads}, {name}={value}"
                )
        return qk, v, out

    def build(self, query_shape, context_shape):
        check_rank("query", query_shape, 3)
        check_rank("context", context_shape, 3)
        qk, v, out = self._resolved_channels(query_shape)

        def dense(units, name, in_dim):
            layer = keras.layers.Dense(
                units, use_bias=self.use_bias, name=name,
                kernel_initializer=keras.initializers.VarianceScaling(
                    scale=1.0, mode="fan_in", distribution="truncated_normal"),
                dtype=self.dtype_policy,
            )
            layer.build((None, None, in_dim))
            return layer

        self.query_dense = dense(qk, "query", query_shape[-1])
        self.key_dense = dense(qk, "key", context_shape[-1])
        self.value_dense = dense(v, "value", context_shape[-1])
        self.output_dense = dense(out, "output", v)

    def _split_heads(self, x):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        # A static head width: with -1, graphs with an unknown batch lose it.
        return ops.reshape(x, (batch, length, self.num_heads,
                               x.shape[-1] // self.num_heads))

    def _fusable(self, training=None):
        # JAX, XLA's CPU backend: the fused matmul speeds up training (a CLIP
        # ViT-B/32 train step takes 4.6 CPU s with it, 5.6 without) but not
        # inference, where concatenating the kernels costs more than the one
        # matmul saves (a SigLIP B/16 vision tower: 2.02 CPU s with three
        # matmuls, 2.08 with one).
        if _jax_inference(training):
            return False
        return not any(layer.lora_enabled or layer.quantization_mode for layer in (
            self.query_dense, self.key_dense, self.value_dense))

    def _fused_projections(self, x, layers):
        """`layer(x) for layer in layers` as one matmul: the kernels (and
        biases) are concatenated inside the call, the weights stay separate
        (same saved layout, same math per output column)."""
        dtype = self.compute_dtype
        y = ops.matmul(x, ops.concatenate(
            [ops.cast(layer.kernel, dtype) for layer in layers], axis=-1))
        if self.use_bias:
            y = y + ops.concatenate([ops.cast(layer.bias, dtype) for layer in layers],
                                    axis=-1)
        ends = [sum(layer.units for layer in layers[:i + 1]) for i in range(len(layers))]
        return ops.split(y, ends[:-1], axis=-1)

    def _projections(self, query, context, training=None):
        """q, k and v: one matmul for all three when the query is the context
        (self-attention), one for k and v otherwise."""
        if not self._fusable(training):
            return (self.query_dense(query), self.key_dense(context),
                    self.value_dense(context))
        if query is context:
            return self._fused_projections(
                context, (self.query_dense, self.key_dense, self.value_dense))
        return (self.query_dense(query),
                *self._fused_projections(context, (self.key_dense, self.value_dense)))

    def call(self, query, context, attention_mask=None, training=None):
        q, k, v = (self._split_heads(x) for x in self._projections(query, context, training))
        mask = None
        if attention_mask is not None:
            mask = ops.cast(attention_mask, "bool")[:, None, :, :]
        x = dot_product_attention(q, k, v, mask, self._dropout, training)
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, length, x.shape[-2] * x.shape[-1]))
        return self.output_dense(x)

    def compute_output_shape(self, query_shape, context_shape):
        _, _, out = self._resolved_channels(query_shape)
        return tuple(query_shape[:-1]) + (out,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "qk_channels": self.qk_channels,
            "v_channels": self.v_channels,
            "output_channels": self.output_channels,
            "use_bias": self.use_bias,
            "attention_dropout": self.attention_dropout,
        })
        return config
