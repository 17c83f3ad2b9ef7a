"""The pre-LayerNorm transformer block (CLIP towers, Perceiver latents)."""

import keras
from keras import ops

from kerasmm.distribute.gradient_boundary import materialize_gradient
from kerasmm.layers.attention_block import AttentionBlock
from kerasmm.layers.multi_head_attention import MultiHeadAttention
from kerasmm.utils.checks import check_mask
from kerasmm.utils.checks import check_rank


@keras.saving.register_keras_serializable(package="kerasmm")
class SelfAttention(AttentionBlock):
    """Pre-LN transformer block: `x += attend(LN(x))`, then `x += MLP(LN(x))`.

    The block of CLIP's towers (`activation="quick_gelu"`) and of the
    Perceiver latent transformer.

    Args:
        num_heads: number of attention heads.
        key_dim: per-head q/k width (alternative to `qk_channels`).
        widening_factor: MLP hidden width = `widening_factor * width`.
        causal: if True, position i attends only to positions <= i.
        intermediate_dim: MLP hidden width, replacing `widening_factor *
            width` when set (any width, e.g. `int(4.9231 * width)`).
        dropout: dropout rate after attention and after the MLP.
        qk_channels: total q/k width. Defaults to the input's width.
        v_channels: total value width. Defaults to the q/k width.
        activation: MLP activation: `"gelu"`, `"quick_gelu"`, any Keras name.
        attention_dropout: dropout rate on attention weights.
        layer_norm_epsilon: LayerNorm epsilon.

    Call arguments:
        x: `(B, N, D)`.
        mask: optional bool `(B, N)` padding mask; False positions are never
            attended to.
        training: Python bool.
        query_index: optional int `(B,)`: compute only that position of
            each row, `(B, 1, D)`, equal to the full output at it (it still
            attends to every position). For a last block whose other
            outputs are discarded (CLIP's pooled towers): the MLP and the
            query/output projections run on one token instead of `N`.

    Example:
    >>> block = SelfAttention(num_heads=2, causal=True, activation="quick_gelu")
    >>> tuple(block(keras.random.normal((2, 5, 8))).shape)
    (2, 5, 8)
    """

    def __init__(self, num_heads, key_dim=None, widening_factor=4, causal=False, **kwargs):
        # dropout, qk_channels, v_channels, activation, attention_dropout,
        # layer_norm_epsilon and intermediate_dim: see `AttentionBlock`.
        super().__init__(num_heads, key_dim=key_dim, widening_factor=widening_factor, **kwargs)
        self.causal = bool(causal)

    def build(self, input_shape):
        check_rank("x", input_shape, 3)
        self.attention_norm = self._norm("attention_norm", input_shape)
        self.attention = MultiHeadAttention(
            self.num_heads, qk_channels=self._qk, v_channels=self.v_channels,
            output_channels=input_shape[-1],
            attention_dropout=self.attention_dropout, name="attention",
            dtype=self.dtype_policy)
        self.attention.build(input_shape, input_shape)
        self.mlp_norm = self._norm("mlp_norm", input_shape)
        self.mlp = self._mlp(input_shape)

    def _attention_mask(self, x, mask, query_index=None):
        attention_mask = None
        if mask is not None:
            check_mask("mask", mask.shape, x.shape[:2])
            attention_mask = ops.cast(mask, "bool")[:, None, :]
        if self.causal:
            length = ops.shape(x)[1]
            keys = ops.arange(length, dtype="int32")[None, :]
            if query_index is None:
                causal = (ops.arange(length, dtype="int32")[:, None] >= keys)[None, :, :]
            else:  # The rows of the queried positions, (B, 1, N).
                causal = (query_index[:, None] >= keys)[:, None, :]
            attention_mask = causal if attention_mask is None else ops.logical_and(
                attention_mask, causal)
        return attention_mask

    def call(self, x, mask=None, training=None, query_index=None):
        if len(x.shape) != 3:
            raise ValueError(f"x must have rank 3. Received: x with shape {tuple(x.shape)}")
        if query_index is not None:
            if len(query_index.shape) != 1:
                raise ValueError("query_index must have shape (batch,). Received: "
                                 f"query_index with shape {tuple(query_index.shape)}")
            query_index = ops.cast(query_index, "int32")
        attention_mask = self._attention_mask(x, mask, query_index)
        # The residual stream's gradient, summed once (JAX on CPU; see
        # kerasmm.distribute.gradient_boundary).
        x = materialize_gradient(x, training)
        h = self.attention_norm(x)
        query = h
        if query_index is not None:
            rows = query_index[:, None, None]
            x = ops.take_along_axis(x, rows, axis=1)
            query = ops.take_along_axis(h, rows, axis=1)
        h = self.attention(query, h, attention_mask=attention_mask, training=training)
        x = x + self._dropout(h, training=training)
        return x + self.mlp(self.mlp_norm(x), training=training)

    def compute_mask(self, x, mask=None):
        return mask

    def compute_output_shape(self, x_shape, mask_shape=None):
        return tuple(x_shape)

    def get_config(self):
        config = super().get_config()
        config["causal"] = self.causal
        return config
