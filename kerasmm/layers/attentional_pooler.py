"""open_clip's `AttentionalPooler`: learned queries attend to a token sequence."""

import keras
from keras import ops

from kerasmm.layers.multi_head_attention import MultiHeadAttention
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank


@keras.saving.register_keras_serializable(package="kerasmm")
class AttentionalPooler(keras.layers.Layer):
    """`num_queries` learned queries cross-attend to the input tokens.

    `attend(LN(queries), LN(tokens))`, no residual and no MLP, as open_clip's
    `AttentionalPooler` (CoCa pools its image tokens with one such pooler for
    the contrastive embedding and another for the captioning queries).

    Args:
        output_dim: width of the queries and of the output.
        num_heads: attention heads; must divide `output_dim`.
        num_queries: number of learned queries.
        layer_norm_epsilon: LayerNorm epsilon.

    Call arguments:
        tokens: `(B, N, D)`.

    Returns:
        `(B, num_queries, output_dim)`.

    Example:
    >>> pooler = AttentionalPooler(output_dim=8, num_heads=2, num_queries=3)
    >>> tuple(pooler(keras.random.normal((2, 5, 6))).shape)
    (2, 3, 8)

    Reference:
        Yu et al., "CoCa: Contrastive Captioners are Image-Text Foundation
        Models", 2022; open_clip `transformer.py: AttentionalPooler`.
    """

    def __init__(self, output_dim, num_heads, num_queries=1, layer_norm_epsilon=1e-5,
                 **kwargs):
        super().__init__(**kwargs)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.num_queries = check_positive_int("num_queries", num_queries)
        self.layer_norm_epsilon = layer_norm_epsilon

    def build(self, tokens_shape):
        check_rank("tokens", tokens_shape, 3)
        self.queries = self.add_weight(
            shape=(self.num_queries, self.output_dim), name="queries",
            initializer=keras.initializers.RandomNormal(stddev=self.output_dim ** -0.5))
        self.query_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="query_norm", dtype=self.dtype_policy)
        self.query_norm.build((None, self.num_queries, self.output_dim))
        self.token_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="token_norm", dtype=self.dtype_policy)
        self.token_norm.build(tokens_shape)
        self.attention = MultiHeadAttention(
            self.num_heads, qk_channels=self.output_dim, output_channels=self.output_dim,
            name="attention", dtype=self.dtype_policy)
        query_shape = (tokens_shape[0], self.num_queries, self.output_dim)
        self.attention.build(query_shape, tokens_shape)

    def call(self, tokens):
        batch = ops.shape(tokens)[0]
        queries = ops.broadcast_to(self.queries[None], (batch, self.num_queries, self.output_dim))
        return self.attention(self.query_norm(queries), self.token_norm(tokens))

    def compute_output_shape(self, tokens_shape):
        return (tokens_shape[0], self.num_queries, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({"output_dim": self.output_dim, "num_heads": self.num_heads,
                       "num_queries": self.num_queries,
                       "layer_norm_epsilon": self.layer_norm_epsilon})
        return config
