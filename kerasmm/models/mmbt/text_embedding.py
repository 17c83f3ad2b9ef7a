"""`TextEmbedding`: BERT's input embeddings (word, position, segment, LayerNorm)."""

import keras
from keras import ops

from kerasmm.layers import LearnedPositionEmbedding
from kerasmm.models.clip.clip_utils import layer_norm
from kerasmm.models.clip.clip_utils import normal
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.tensor_checks import check_token_ids


@keras.saving.register_keras_serializable(package="kerasmm")
class TextEmbedding(keras.layers.Layer):
    """Word + position + segment embeddings, then LayerNorm (BERT's embeddings).

    The text side of the fusion backbones `MMBT` and `CoAttentionTransformer`.
    `segment(index)` and `norm` are exposed so that another modality can be
    embedded as a further segment with the same table and LayerNorm (MMBT's
    image tokens).

    Args:
        vocabulary_size: int, size of the word vocabulary.
        max_sequence_length: int, number of text positions.
        hidden_dim: int, embedding width.
        type_vocabulary_size: int, number of segments.
        layer_norm_epsilon: float > 0.

    Call arguments:
        token_ids: int `(B, L)`, `L <= max_sequence_length`.

    Returns:
        `(B, L, hidden_dim)`, all of segment 0.

    Example:
    >>> layer = TextEmbedding(vocabulary_size=20, max_sequence_length=8, hidden_dim=4)
    >>> tuple(layer(np.array([[1, 2, 3]])).shape)
    (1, 3, 4)
    """

    def __init__(self, vocabulary_size, max_sequence_length, hidden_dim,
                 type_vocabulary_size=2, layer_norm_epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("vocabulary_size", vocabulary_size),
                            ("max_sequence_length", max_sequence_length),
                            ("hidden_dim", hidden_dim),
                            ("type_vocabulary_size", type_vocabulary_size)):
            check_positive_int(name, value)
        self.vocabulary_size = vocabulary_size
        self.max_sequence_length = max_sequence_length
        self.hidden_dim = hidden_dim
        self.type_vocabulary_size = type_vocabulary_size
        self.layer_norm_epsilon = check_number("layer_norm_epsilon", layer_norm_epsilon,
                                               minimum=0, exclusive_minimum=True)
        dtype = self.dtype_policy
        self.word_embedding = keras.layers.Embedding(
            vocabulary_size, hidden_dim, embeddings_initializer=normal(0.02),
            name="word_embedding", dtype=dtype)
        self.position_embedding = LearnedPositionEmbedding(
            max_sequence_length, initializer=normal(0.02), name="position_embedding",
            dtype=dtype)
        self.segment_embedding = keras.layers.Embedding(
            type_vocabulary_size, hidden_dim, embeddings_initializer=normal(0.02),
            name="segment_embedding", dtype=dtype)
        self.norm = layer_norm(layer_norm_epsilon, "norm", dtype)

    def build(self, input_shape=None):
        self.word_embedding.build((None, None))
        self.segment_embedding.build((None, None))
        self.position_embedding.build((None, self.max_sequence_length, self.hidden_dim))
        self.norm.build((None, None, self.hidden_dim))

    def segment(self, index):
        """`(1, 1, hidden_dim)`: the embedding of segment `index`."""
        return self.segment_embedding(ops.full((1, 1), index, "int32"))

    def call(self, token_ids):
        token_ids = check_token_ids("token_ids", token_ids, self.vocabulary_size)
        if len(token_ids.shape) != 2:
            raise ValueError("token_ids must have shape (batch, length). Received: "
                             f"token_ids with shape {tuple(token_ids.shape)}")
        if token_ids.shape[1] is not None and token_ids.shape[1] > self.max_sequence_length:
            raise ValueError(
                f"token_ids must have at most max_sequence_length={self.max_sequence_length}"
                f" tokens. Received: token_ids with shape {tuple(token_ids.shape)}")
        words = self.word_embedding(token_ids)
        return self.norm(words + self.position_embedding(words) + self.segment(0))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "vocabulary_size", "max_sequence_length", "hidden_dim", "type_vocabulary_size",
            "layer_norm_epsilon")})
        return config
