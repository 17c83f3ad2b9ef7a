"""Perceiver IO classification decoder: one trainable query -> logits."""

import keras

from kerasmm.layers.decoder_base import BaseDecoder
from kerasmm.layers.latents import LatentArray
from kerasmm.utils.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasmm")
class ClassificationDecoder(BaseDecoder):
    """One trainable query cross-attends to the latents; a Dense gives logits.

    Hugging Face's `PerceiverClassificationDecoder` (a `PerceiverBasicDecoder`
    with a trainable `(1, query_dim)` query and `use_query_residual=True`).

    Args:
        num_classes: number of logits.
        query_dim: width of the query; defaults to the latent width.
        num_heads, qk_channels, v_channels, widening_factor,
        use_query_residual, dropout: the cross-attention (see `BaseDecoder`).

    Call arguments:
        latents: `(B, N, D)`.
        inputs, subsampled_points: unused (the query does not depend on them).

    Returns:
        Logits `(B, num_classes)`.

    Example:
    >>> decoder = ClassificationDecoder(num_classes=10)
    >>> tuple(decoder(keras.random.normal((2, 16, 32))).shape)
    (2, 10)

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    def __init__(self, num_classes, query_dim=None, num_heads=1, qk_channels=None,
                 v_channels=None, widening_factor=1, use_query_residual=True,
                 dropout=0.0, **kwargs):
        super().__init__(num_heads=num_heads, qk_channels=qk_channels,
                         v_channels=v_channels, widening_factor=widening_factor,
                         use_query_residual=use_query_residual, dropout=dropout, **kwargs)
        check_positive_int("num_classes", num_classes)
        check_positive_int("query_dim", query_dim, allow_none=True)
        self.num_classes = num_classes
        self._query_dim_arg = query_dim

    def build_queries(self, latent_dim, input_dim=None):
        self.query_dim = self._query_dim_arg or latent_dim
        self.query = LatentArray(1, self.query_dim, name="query", dtype=self.dtype_policy)
        self.query.build((None,))

    def queries(self, latents, inputs=None, subsampled_points=None):
        return self.query(latents)

    def build_postprocess(self, width):
        self.final_projection = keras.layers.Dense(
            self.num_classes, name="final_projection", dtype=self.dtype_policy)
        self.final_projection.build((None, None, width))

    def postprocess(self, x, subsampled_points=None):
        return self.final_projection(x)[:, 0, :]

    def compute_output_shape(self, latents_shape):
        return (latents_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "query_dim": self._query_dim_arg})
        return config
