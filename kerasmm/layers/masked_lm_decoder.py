"""Perceiver IO masked language modelling decoder: position queries -> token logits."""

import keras
from keras import ops

from kerasmm.layers.decoder_base import BaseDecoder
from kerasmm.layers.latents import LatentArray
from kerasmm.utils.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasmm")
class MaskedLMDecoder(BaseDecoder):
    """One learned query per text position; logits over the vocabulary.

    Hugging Face's `PerceiverForMaskedLM` head: a `PerceiverBasicDecoder`
    with a trainable `(max_sequence_length, position_dim)` query table,
    `use_query_residual=False` and no final projection, then
    `PerceiverEmbeddingDecoder`: `logits = x @ E^T + bias`, with `E` the
    input token embedding matrix (`tie_embeddings=True`; `PerceiverIO` passes
    its `TextAdapter`'s matrix). With `tie_embeddings=False` a Dense layer
    gives the logits instead.

    The queries cover the input's length `L` (the first `L` rows of the
    table), so logits are `(B, L, vocabulary_size)`; without `inputs`, all
    `max_sequence_length` rows are used (Hugging Face always uses all rows;
    the two agree when texts are padded to `max_sequence_length`).

    Args:
        vocabulary_size: number of logits per position.
        max_sequence_length: rows of the query table.
        position_dim: query width; defaults to the width of `inputs` (the
            token embedding width, as Hugging Face), else the latent width.
            With tied embeddings it must equal the token embedding width.
        tie_embeddings: logits from the input embedding matrix (plus a bias).
        num_heads, qk_channels, v_channels, widening_factor,
        use_query_residual, dropout: the cross-attention (see
        `BaseDecoder`). Hugging Face's language model uses `num_heads=8`,
        `qk_channels=256`, `v_channels=position_dim`.

    Call arguments:
        latents: `(B, N, D)`.
        inputs: optional `(B, L, C)` adapter features; sets `L`.
        subsampled_points: optional int `(n,)` positions to decode.
        embedding_matrix: `(vocabulary_size, position_dim)`, required with
            `tie_embeddings=True`.

    Example:
    >>> decoder = MaskedLMDecoder(vocabulary_size=262, max_sequence_length=16,
    ...                           tie_embeddings=False)
    >>> tuple(decoder(keras.random.normal((2, 8, 32))).shape)
    (2, 16, 262)

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    def __init__(self, vocabulary_size=262, max_sequence_length=2048, position_dim=None,
                 tie_embeddings=True, num_heads=8, qk_channels=None, v_channels=None,
                 widening_factor=1, use_query_residual=False, dropout=0.0, **kwargs):
        super().__init__(num_heads=num_heads, qk_channels=qk_channels,
                         v_channels=v_channels, widening_factor=widening_factor,
                         use_query_residual=use_query_residual, dropout=dropout, **kwargs)
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("max_sequence_length", max_sequence_length)
        check_positive_int("position_dim", position_dim, allow_none=True)
        self.vocabulary_size = vocabulary_size
        self.max_sequence_length = max_sequence_length
        self.position_dim = position_dim
        self.tie_embeddings = bool(tie_embeddings)

    def build_queries(self, latent_dim, input_dim=None):
        self.query_dim = self.position_dim or input_dim or latent_dim
        self.position_embeddings = LatentArray(
            self.max_sequence_length, self.query_dim, name="position_embeddings",
            dtype=self.dtype_policy)
        self.position_embeddings.build((None,))

    def _length(self, inputs):
        if inputs is None:
            return self.max_sequence_length
        length = inputs.shape[1]
        if length is None or length > self.max_sequence_length:
            raise ValueError(
                "The text length must be known and at most max_sequence_length. "
                f"Received: length={length}, max_sequence_length={self.max_sequence_length}"
            )
        return length

    def queries(self, latents, inputs=None, subsampled_points=None):
        table = self.position_embeddings(latents)
        if subsampled_points is not None:
            return ops.take(table, ops.cast(subsampled_points, "int32"), axis=1)
        return table[:, :self._length(inputs)]

    def build_postprocess(self, width):
        if self.tie_embeddings:
            self.bias = self.add_weight(shape=(self.vocabulary_size,),
                                        initializer="zeros", name="bias")
        else:
            self.final_projection = keras.layers.Dense(
                self.vocabulary_size, name="final_projection", dtype=self.dtype_policy)
            self.final_projection.build((None, None, width))

    def postprocess(self, x, subsampled_points=None, embedding_matrix=None):
        if not self.tie_embeddings:
            return self.final_projection(x)
        if embedding_matrix is None:
            raise ValueError(
                "MaskedLMDecoder(tie_embeddings=True) needs the input embedding "
                "matrix: call it with embedding_matrix=..., or use it in PerceiverIO "
                "with a TextAdapter. Received: embedding_matrix=None"
            )
        if tuple(embedding_matrix.shape) != (self.vocabulary_size, x.shape[-1]):
            raise ValueError(
                "embedding_matrix must have shape (vocabulary_size, query width) = "
                f"{(self.vocabulary_size, x.shape[-1])}. Received: embedding_matrix "
                f"with shape {tuple(embedding_matrix.shape)}"
            )
        matrix = ops.cast(embedding_matrix, x.dtype)
        return ops.einsum("bnd,vd->bnv", x, matrix) + ops.cast(self.bias, x.dtype)

    def call(self, latents, inputs=None, subsampled_points=None, embedding_matrix=None,
             training=None):
        query = self.queries(latents, inputs, subsampled_points)
        x = self.cross_attention(query, latents, training=training)
        return self.postprocess(x, subsampled_points, embedding_matrix)

    def compute_output_shape(self, latents_shape):
        return (latents_shape[0], self.max_sequence_length, self.vocabulary_size)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary_size": self.vocabulary_size,
            "max_sequence_length": self.max_sequence_length,
            "position_dim": self.position_dim,
            "tie_embeddings": self.tie_embeddings,
        })
        return config
