"""Perceiver IO text adapter: byte embeddings plus learned positions."""

import keras
from keras import ops

from kerasmm.utils.checks import check_positive_int
from kerasmm.layers.position import LearnedPositionEmbedding
from kerasmm.layers.position import default_initializer
from kerasmm.utils.tensor_checks import check_token_ids


def split_text_inputs(inputs):
    """`(token_ids, padding_mask or None)` from a dict or bare token ids."""
    if isinstance(inputs, dict):
        if "token_ids" not in inputs:
            raise ValueError(
                "Text inputs given as a dict need a 'token_ids' entry. Received: "
                f"keys {sorted(inputs)}"
            )
        return inputs["token_ids"], inputs.get("padding_mask")
    return inputs, None


@keras.saving.register_keras_serializable(package="kerasmm")
class TextAdapter(keras.layers.Layer):
    """Token ids to a Perceiver input array: embeddings + learned positions.

    Hugging Face's `PerceiverTextPreprocessor`: `embed(ids) + positions[:L]`.
    The padding mask, when given, is passed on to the encoder, so padded
    positions are never attended to.

    Args:
        vocabulary_size: number of token ids; 262 for UTF-8 bytes plus the six
            special tokens of `kerasmm.preprocessing.ByteTokenizer`.
        max_sequence_length: the longest sequence (rows of the position table).
        embedding_dim: width of token and position embeddings.
        embeddings_initializer: initializer of both tables; defaults to a
            truncated normal with standard deviation 0.02.

    Call arguments:
        inputs: int `(B, L)` token ids in `[0, vocabulary_size)`, or a dict
            `{"token_ids": (B, L), "padding_mask": bool (B, L)}` (True at
            real tokens). Float ids and ids out of range raise a
            `ValueError` (in TensorFlow graphs an `InvalidArgumentError`;
            not checked inside JAX `jit`: see
            `kerasmm.utils.tensor_checks`).

    Returns:
        `{"features": (B, L, embedding_dim)}` plus `"padding_mask"` (bool)
        when the input had one.

    Example:
    >>> adapter = TextAdapter(max_sequence_length=16, embedding_dim=8)
    >>> ids = keras.ops.array([[10, 11, 12, 0]])
    >>> out = adapter({"token_ids": ids, "padding_mask": ids != 0})
    >>> tuple(out["features"].shape), tuple(out["padding_mask"].shape)
    ((1, 4, 8), (1, 4))

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    def __init__(self, vocabulary_size=262, max_sequence_length=2048, embedding_dim=768,
                 embeddings_initializer=None, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("max_sequence_length", max_sequence_length)
        check_positive_int("embedding_dim", embedding_dim)
        self.vocabulary_size = vocabulary_size
        self.max_sequence_length = max_sequence_length
        self.embedding_dim = embedding_dim
        self.embeddings_initializer = default_initializer(embeddings_initializer)

    @property
    def output_dim(self):
        return self.embedding_dim

    @property
    def embedding_matrix(self):
        """The `(vocabulary_size, embedding_dim)` token table (for tied decoders)."""
        return self.token_embedding.embeddings

    def _check(self, ids_shape, mask_shape):
        if len(ids_shape) != 2:
            raise ValueError(
                f"token_ids must have shape (batch, length). Received: token_ids "
                f"with shape {tuple(ids_shape)}"
            )
        if ids_shape[1] is not None and ids_shape[1] > self.max_sequence_length:
            raise ValueError(
                "The text is longer than max_sequence_length. Received: length="
                f"{ids_shape[1]}, max_sequence_length={self.max_sequence_length}"
            )
        if mask_shape is not None and (len(mask_shape) != 2 or any(
                a is not None and b is not None and a != b
                for a, b in zip(mask_shape, ids_shape))):
            raise ValueError(
                "padding_mask must have the shape of token_ids. Received: "
                f"padding_mask shape {tuple(mask_shape)}, token_ids shape "
                f"{tuple(ids_shape)}"
            )

    def build(self, input_shape):
        ids_shape, mask_shape = split_text_inputs(input_shape)
        self._check(ids_shape, mask_shape)
        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size, self.embedding_dim,
            embeddings_initializer=self.embeddings_initializer, name="token_embedding",
            dtype=self.dtype_policy)
        self.token_embedding.build(ids_shape)
        self.position_embedding = LearnedPositionEmbedding(
            self.max_sequence_length, initializer=self.embeddings_initializer,
            name="position_embedding", dtype=self.dtype_policy)
        self.position_embedding.build((None, None, self.embedding_dim))

    def call(self, inputs):
        token_ids, padding_mask = split_text_inputs(inputs)
        self._check(token_ids.shape, None if padding_mask is None else padding_mask.shape)
        token_ids = check_token_ids("token_ids", token_ids, self.vocabulary_size)
        x = self.token_embedding(ops.cast(token_ids, "int32"))
        outputs = {"features": x + self.position_embedding(x)}
        if padding_mask is not None:
            outputs["padding_mask"] = ops.cast(padding_mask, "bool")
        return outputs

    def compute_output_shape(self, input_shape):
        ids_shape, mask_shape = split_text_inputs(input_shape)
        outputs = {"features": tuple(ids_shape) + (self.embedding_dim,)}
        if mask_shape is not None:
            outputs["padding_mask"] = tuple(ids_shape)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary_size": self.vocabulary_size,
            "max_sequence_length": self.max_sequence_length,
            "embedding_dim": self.embedding_dim,
            "embeddings_initializer": keras.initializers.serialize(
                self.embeddings_initializer),
        })
        return config
