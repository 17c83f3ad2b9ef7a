"""Perceiver IO cross-attention: a query array attends to a context array."""

import keras
from keras import ops

from kerasmm.layers.attention_block import AttentionBlock
from kerasmm.layers.multi_head_attention import MultiHeadAttention
from kerasmm.utils.checks import check_mask
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank
from kerasmm.utils.checks import check_same_batch


@keras.saving.register_keras_serializable(package="kerasmm")
class CrossAttention(AttentionBlock):
    """Perceiver IO cross-attention block (DeepMind `perceiver.py: CrossAttention`).

    `x = query + attend(LN(query), LN(context))` (the residual is optional),
    then `x = x + MLP(LN(x))`. Query and context may differ in length and
    width. By default the q/k width follows the context (`shape_for_attn="kv"`)
    and the output width follows the query.

    Args:
        num_heads: number of attention heads.
        key_dim: per-head q/k width (alternative to `qk_channels`).
        widening_factor: MLP hidden width = `widening_factor * output width`.
        dropout: dropout rate after attention and after the MLP.
        qk_channels: total q/k width. Default: see `shape_for_attn`.
        v_channels: total value width. Defaults to the q/k width.
        output_channels: output width. Defaults to the query's width.
        use_query_residual: add the query to the attention output.
        shape_for_attn: `"kv"` or `"q"`: whose width sets the default q/k width.
        activation: MLP activation (`"gelu"` is exact erf GELU).
        attention_dropout: dropout rate on attention weights.
        layer_norm_epsilon: LayerNorm epsilon.

    Call arguments:
        query: `(B, N, Dq)`.
        context: `(B, M, Dc)`.
        context_mask: optional bool `(B, M)`; False positions are never attended.
        training: Python bool.

    Example:
    >>> block = CrossAttention(num_heads=2, widening_factor=1)
    >>> latents, inputs = keras.random.normal((2, 4, 8)), keras.random.normal((2, 50, 6))
    >>> tuple(block(latents, inputs).shape)
    (2, 4, 8)

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    def __init__(self, num_heads, key_dim=None, widening_factor=4, output_channels=None,
                 use_query_residual=True, shape_for_attn="kv", **kwargs):
        # dropout, qk_channels, v_channels, activation, attention_dropout,
        # layer_norm_epsilon and intermediate_dim: see `AttentionBlock`.
        super().__init__(num_heads, key_dim=key_dim, widening_factor=widening_factor, **kwargs)
        check_positive_int("output_channels", output_channels, allow_none=True)
        if shape_for_attn not in ("kv", "q"):
            raise ValueError(
                f"shape_for_attn must be 'kv' or 'q'. Received: shape_for_attn={shape_for_attn!r}"
            )
        self.output_channels = output_channels
        self.use_query_residual = use_query_residual
        self.shape_for_attn = shape_for_attn

    def build(self, query_shape, context_shape):
        check_rank("query", query_shape, 3)
        check_rank("context", context_shape, 3)
        check_same_batch(("query", "context"), (query_shape, context_shape))
        out = self.output_channels or query_shape[-1]
        if self.use_query_residual and out != query_shape[-1]:
            raise ValueError(
                "With use_query_residual=True, output_channels must equal the "
                f"query width. Received: output_channels={out}, query width="
                f"{query_shape[-1]}"
            )
        default_qk = context_shape[-1] if self.shape_for_attn == "kv" else query_shape[-1]
        self.query_norm = self._norm("query_norm", query_shape)
        self.context_norm = self._norm("context_norm", context_shape)
        self.attention = MultiHeadAttention(
            self.num_heads, qk_channels=self._qk or default_qk,
            v_channels=self.v_channels, output_channels=out,
            attention_dropout=self.attention_dropout, name="attention",
            dtype=self.dtype_policy)
        self.attention.build(query_shape, context_shape)
        out_shape = tuple(query_shape[:-1]) + (out,)
        self.mlp_norm = self._norm("mlp_norm", out_shape)
        self.mlp = self._mlp(out_shape)

    def call(self, query, context, context_mask=None, training=None):
        check_same_batch(("query", "context"), (query.shape, context.shape))
        attention_mask = None
        if context_mask is not None:
            check_mask("context_mask", context_mask.shape, context.shape[:2])
            attention_mask = ops.cast(context_mask, "bool")[:, None, :]
        x = self.attention(self.query_norm(query), self.context_norm(context),
                           attention_mask=attention_mask, training=training)
        x = self._dropout(x, training=training)
        if self.use_query_residual:
            x = x + query
        return x + self.mlp(self.mlp_norm(x), training=training)

    def compute_output_shape(self, query_shape, context_shape):
        return tuple(query_shape[:-1]) + (self.output_channels or query_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update({
            "output_channels": self.output_channels,
            "use_query_residual": self.use_query_residual,
            "shape_for_attn": self.shape_for_attn,
        })
        return config
