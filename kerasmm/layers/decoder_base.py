"""What the Perceiver IO decoders share: queries -> cross-attend latents -> outputs.

A decoder is a Keras layer called as `decoder(latents, inputs=None,
subsampled_points=None)`:

- `latents`: `(B, N, D)`, the encoder's output;
- `inputs`: the adapter's features `(B, M, C)` (some queries depend on them,
  e.g. the masked-LM decoder takes its length from the text);
- `subsampled_points`: optional int `(n,)` flat indices of the output grid
  to decode (DeepMind's chunked decoding; a dict per modality for
  `MultimodalDecoder`).

Subclasses provide three pieces, which `MultimodalDecoder` also uses one by
one: `build_queries(latent_dim, input_dim)` / `queries(...)` (the output queries, width
`query_dim`), and `build_postprocess(width)` / `postprocess(x, ...)` (from the
cross-attention output to the decoder's outputs).
"""

import keras

from kerasmm.layers.cross_attention import CrossAttention
from kerasmm.utils.checks import check_rate
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank


class BaseDecoder(keras.layers.Layer):
    """Cross-attention decoder arguments shared by all decoders.

    Args:
        num_heads: heads of the decoder cross-attention.
        qk_channels: q/k width; defaults to the latent width (DeepMind's
            `shape_for_attn="kv"`).
        v_channels: value width; defaults to `qk_channels`.
        widening_factor: MLP width multiple of the cross-attention block.
        use_query_residual: add the queries to the attention output.
        dropout: dropout rate inside the cross-attention block.
    """

    def __init__(self, num_heads=1, qk_channels=None, v_channels=None, widening_factor=1,
                 use_query_residual=False, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("qk_channels", qk_channels, allow_none=True)
        check_positive_int("v_channels", v_channels, allow_none=True)
        check_positive_int("widening_factor", widening_factor)
        check_rate("dropout", dropout)
        for name, value in (("qk_channels", qk_channels), ("v_channels", v_channels)):
            if value is not None and value % num_heads:
                raise ValueError(
                    f"num_heads must divide {name}. Received: num_heads={num_heads}, "
                    f"{name}={value}"
                )
        self.num_heads = num_heads
        self.qk_channels = qk_channels
        self.v_channels = v_channels
        self.widening_factor = widening_factor
        self.use_query_residual = bool(use_query_residual)
        self.dropout = dropout
        self.query_dim = None

    # Subclass hooks ------------------------------------------------------
    def build_queries(self, latent_dim, input_dim=None):
        raise NotImplementedError(
            f"{type(self).__name__} must implement build_queries(latent_dim, input_dim)")

    def queries(self, latents, inputs=None, subsampled_points=None):
        raise NotImplementedError(
            f"{type(self).__name__} must implement queries(latents, inputs, subsampled_points)")

    def build_postprocess(self, width):
        raise NotImplementedError(
            f"{type(self).__name__} must implement build_postprocess(width)")

    def postprocess(self, x, subsampled_points=None):
        raise NotImplementedError(
            f"{type(self).__name__} must implement postprocess(x, subsampled_points)")

    # Keras ----------------------------------------------------------------
    def build(self, latents_shape, inputs_shape=None):
        check_rank("latents", latents_shape, 3)
        self.build_queries(latents_shape[-1],
                           None if inputs_shape is None else inputs_shape[-1])
        if self.qk_channels is None and latents_shape[-1] % self.num_heads:
            raise ValueError(
                "num_heads must divide the latent width (the default qk_channels). "
                f"Received: num_heads={self.num_heads}, latent width={latents_shape[-1]}"
            )
        self.cross_attention = CrossAttention(
            self.num_heads, widening_factor=self.widening_factor, dropout=self.dropout,
            qk_channels=self.qk_channels, v_channels=self.v_channels,
            use_query_residual=self.use_query_residual, name="cross_attention",
            dtype=self.dtype_policy)
        self.cross_attention.build((None, None, self.query_dim), tuple(latents_shape))
        self.build_postprocess(self.query_dim)

    def call(self, latents, inputs=None, subsampled_points=None, training=None):
        query = self.queries(latents, inputs, subsampled_points)
        x = self.cross_attention(query, latents, training=training)
        return self.postprocess(x, subsampled_points)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "qk_channels": self.qk_channels,
            "v_channels": self.v_channels,
            "widening_factor": self.widening_factor,
            "use_query_residual": self.use_query_residual,
            "dropout": self.dropout,
        })
        return config
