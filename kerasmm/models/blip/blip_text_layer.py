"""One BERT layer of BLIP's text transformers, with optional cross-attention."""

import keras
from keras import ops

from kerasmm.layers.attention_block import AttentionBlock
from kerasmm.layers.multi_head_attention import MultiHeadAttention
from kerasmm.utils.checks import check_positive_int


# Large enough that exp(masked - max) underflows to exactly 0 in float32.
_MASK_VALUE = -1e9


def heads_first(x, num_heads):
    """`(B, L, D)` -> `(B, num_heads, L, D / num_heads)`: the layout of the
    decoding caches, so that no step transposes the cached keys."""
    shape = ops.shape(x)
    x = ops.reshape(x, (shape[0], shape[1], num_heads, x.shape[-1] // num_heads))
    return ops.transpose(x, (0, 2, 1, 3))


def cached_attention(query, keys, values, mask):
    """softmax(q k^T / sqrt(d)) v for one query per head, logits in float32.

    `query` `(B, H, 1, d)`, `keys` / `values` `(B, H, T, d)`, `mask` bool
    broadcastable to `(B, H, 1, T)`; returns `(B, 1, H * d)`.
    """
    logits = ops.einsum("bhnd,bhmd->bhnm", query, keys)
    logits = ops.cast(logits, "float32") / float(query.shape[-1]) ** 0.5
    weights = ops.softmax(ops.where(mask, logits, _MASK_VALUE), axis=-1)
    x = ops.einsum("bhnm,bhmd->bhnd", ops.cast(weights, values.dtype), values)
    x = ops.transpose(x, (0, 2, 1, 3))
    return ops.reshape(x, (ops.shape(x)[0], 1, x.shape[-2] * x.shape[-1]))


@keras.saving.register_keras_serializable(package="kerasmm")
class BLIPTextLayer(AttentionBlock):
    """A post-LayerNorm BERT layer: self-attention, cross-attention, MLP.

    As Hugging Face's `BlipTextLayer`: `x = LN(x + attend(x, x))`, then,
    when given encoder tokens, `x = LN(x + attend(x, encoder_tokens))`,
    then `x = LN(x + MLP(x))`. The attentions are
    `kerasmm.layers.MultiHeadAttention` (query, key, value and output
    projections with bias), the MLP `kerasmm.layers.MLP`.

    `decode_step` runs the layer on one new token with a key/value cache
    of its self-attention and precomputed cross-attention keys and values.

    Args:
        num_heads: int, attention heads; must divide the input width.
        intermediate_dim: int, hidden width of the MLP.
        cross_attention_dim: int, width of the encoder tokens the layer
            attends to, or None (no cross-attention).
        activation: MLP activation (`"gelu"`, the exact form, for BERT).
        layer_norm_epsilon: float, epsilon of the three LayerNorms.
        dropout: float in [0, 1), dropout on the attention outputs and MLP.
        **kwargs: the other arguments of `kerasmm.layers.AttentionBlock`
            (`attention_dropout`, ...) and of `keras.layers.Layer`.

    Call arguments:
        x: `(B, L, D)`.
        attention_mask: optional bool `(B, L, L)` (True: attend).
        encoder_tokens: optional `(B, M, cross_attention_dim)`.
        encoder_mask: optional bool `(B, 1, M)` or `(B, L, M)`.
        training: Python bool.

    Example:
    >>> layer = BLIPTextLayer(num_heads=2, intermediate_dim=16, cross_attention_dim=6)
    >>> x = layer(keras.random.normal((2, 4, 8)),
    ...           encoder_tokens=keras.random.normal((2, 5, 6)))
    >>> tuple(x.shape)
    (2, 4, 8)
    """

    def __init__(self, num_heads, intermediate_dim, cross_attention_dim=None,
                 activation="gelu", layer_norm_epsilon=1e-12, dropout=0.0, **kwargs):
        # The arguments, norms, MLP and config of `AttentionBlock`.
        super().__init__(num_heads, intermediate_dim=intermediate_dim, activation=activation,
                         layer_norm_epsilon=layer_norm_epsilon, dropout=dropout, **kwargs)
        check_positive_int("intermediate_dim", intermediate_dim)
        self.cross_attention_dim = check_positive_int(
            "cross_attention_dim", cross_attention_dim, allow_none=True)

    def build(self, input_shape):
        width = input_shape[-1]
        if width % self.num_heads:
            raise ValueError(f"num_heads must divide the input width. Received: "
                             f"num_heads={self.num_heads}, width={width}")
        shape = (None, None, width)
        self.self_attention = MultiHeadAttention(
            self.num_heads, attention_dropout=self.attention_dropout, name="self_attention",
            dtype=self.dtype_policy)
        self.self_attention.build(shape, shape)
        self.self_attention_norm = self._norm("self_attention_norm", shape)
        if self.cross_attention_dim is not None:
            self.cross_attention = MultiHeadAttention(
                self.num_heads, qk_channels=width, attention_dropout=self.attention_dropout,
                name="cross_attention",
                dtype=self.dtype_policy)
            self.cross_attention.build(shape, (None, None, self.cross_attention_dim))
            self.cross_attention_norm = self._norm("cross_attention_norm", shape)
        self.mlp = self._mlp(shape)
        self.mlp_norm = self._norm("mlp_norm", shape)

    def _check_cross(self, encoder_tokens):
        if encoder_tokens is not None and self.cross_attention_dim is None:
            raise ValueError("encoder_tokens were given to a layer without cross-attention "
                             "(cross_attention_dim=None)")

    def call(self, x, attention_mask=None, encoder_tokens=None, encoder_mask=None,
             training=None):
        self._check_cross(encoder_tokens)
        h = self.self_attention(x, x, attention_mask=attention_mask, training=training)
        x = self.self_attention_norm(x + self._dropout(h, training=training))
        if encoder_tokens is not None:
            h = self.cross_attention(x, encoder_tokens, attention_mask=encoder_mask,
                                     training=training)
            x = self.cross_attention_norm(x + self._dropout(h, training=training))
        return self.mlp_norm(x + self.mlp(x, training=training))

    # === Cached decoding ===

    def cross_key_values(self, encoder_tokens):
        """Cross-attention keys and values of `encoder_tokens`, each
        `(B, heads, M, head_dim)`: computed once per generated sequence."""
        self._check_cross(encoder_tokens)
        attention = self.cross_attention
        return (heads_first(attention.key_dense(encoder_tokens), self.num_heads),
                heads_first(attention.value_dense(encoder_tokens), self.num_heads))

    def decode_step(self, x, index, keys, values, cross=None):
        """The layer on the token at position `index` only.

        Args:
            x: `(B, 1, D)`, the token's input.
            index: int scalar tensor, its position.
            keys, values: `(B, heads, T, head_dim)` self-attention cache; the
                positions before `index` are filled.
            cross: None, or `(keys, values, mask)` from `cross_key_values`
                and a bool `(B, M)` mask of the encoder tokens.

        Returns:
            `(output (B, 1, D), keys, values)` with position `index` written.
        """
        attention = self.self_attention
        start = (0, 0, index, 0)
        keys = ops.slice_update(keys, start, heads_first(attention.key_dense(x),
                                                         self.num_heads))
        values = ops.slice_update(values, start, heads_first(attention.value_dense(x),
                                                             self.num_heads))
        visible = ops.arange(ops.shape(keys)[2], dtype="int32") <= index
        query = heads_first(attention.query_dense(x), self.num_heads)
        h = cached_attention(query, keys, values, visible[None, None, None, :])
        x = self.self_attention_norm(x + attention.output_dense(h))
        if cross is not None:
            cross_keys, cross_values, mask = cross
            attention = self.cross_attention
            query = heads_first(attention.query_dense(x), self.num_heads)
            h = cached_attention(query, cross_keys, cross_values,
                                 ops.cast(mask, "bool")[:, None, None, :])
            x = self.cross_attention_norm(x + attention.output_dense(h))
        return self.mlp_norm(x + self.mlp(x)), keys, values

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return tuple(x_shape)

    def get_config(self):
        config = super().get_config()
        config["cross_attention_dim"] = self.cross_attention_dim
        return config
