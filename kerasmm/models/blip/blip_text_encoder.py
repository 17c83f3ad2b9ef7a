"""BLIP's BERT text encoder (Hugging Face `modeling_blip_text.py: BlipTextModel`)."""

import keras
from keras import ops

from kerasmm.layers import LearnedPositionEmbedding
from kerasmm.models.blip.blip_text_layer import BLIPTextLayer
from kerasmm.models.clip.clip_utils import check_tower_args
from kerasmm.models.clip.clip_utils import layer_norm
from kerasmm.models.clip.clip_utils import normal
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_rate

_ARGUMENTS = ("vocabulary_size", "hidden_dim", "num_layers", "num_heads", "intermediate_dim",
              "max_sequence_length", "cross_attention_dim", "activation",
              "layer_norm_epsilon", "dropout")


@keras.saving.register_keras_serializable(package="kerasmm")
class BLIPTextEncoder(keras.Model):
    """BLIP's BERT: token and absolute position embeddings, post-LN layers.

    As Hugging Face's `BlipTextModel` (without its pooler): word plus
    position embeddings, a LayerNorm, then `num_layers` `BLIPTextLayer`s
    (self-attention, cross-attention to encoder tokens when given, MLP;
    each followed by residual and LayerNorm). Bidirectional: BLIP's text
    encoder of questions (VQA) and of captions (image-text matching, and
    alone for the contrastive features). `BLIPTextDecoder` is the causal
    subclass with the language-model head.

    Args:
        vocabulary_size: int, rows of the token embedding (BLIP: 30524, BERT's
            30522 plus `[DEC]` and `[ENC]`).
        hidden_dim: int, width of the transformer.
        num_layers: int, number of layers.
        num_heads: int, attention heads; must divide `hidden_dim`.
        intermediate_dim: int, hidden width of each layer's MLP.
        max_sequence_length: int, rows of the position embedding.
        cross_attention_dim: int, width of the encoder tokens attended to
            (BLIP: the vision width), or None (no cross-attention layers).
        activation: MLP activation (`"gelu"`, the exact form).
        layer_norm_epsilon: float > 0 (BERT: 1e-12).
        dropout: float in [0, 1), dropout after embeddings and sublayers.

    Call arguments:
        inputs: a dict: `"token_ids"` int `(B, L)`; optional
            `"padding_mask"` bool `(B, L)` (True: a real token);
            optional `"encoder_tokens"` `(B, M, cross_attention_dim)` and
            `"encoder_mask"` bool `(B, M)` (default: all attended).
        training: Python bool.

    Returns:
        `(B, L, hidden_dim)`, the last layer's tokens.

    Example:
    >>> encoder = BLIPTextEncoder(vocabulary_size=50, hidden_dim=16, num_layers=1,
    ...                           num_heads=2, intermediate_dim=32,
    ...                           max_sequence_length=8, cross_attention_dim=12)
    >>> tokens = encoder({"token_ids": np.array([[1, 5, 7, 0]]),
    ...                   "padding_mask": np.array([[True, True, True, False]]),
    ...                   "encoder_tokens": np.zeros((1, 3, 12), "float32")})
    >>> tuple(tokens.shape)
    (1, 4, 16)
    """

    causal = False

    def __init__(self, vocabulary_size=30524, hidden_dim=768, num_layers=12, num_heads=12,
                 intermediate_dim=3072, max_sequence_length=512, cross_attention_dim=None,
                 activation="gelu", layer_norm_epsilon=1e-12, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_tower_args(num_heads, "hidden_dim", hidden_dim, activation,
                         vocabulary_size=vocabulary_size, num_layers=num_layers,
                         intermediate_dim=intermediate_dim,
                         max_sequence_length=max_sequence_length)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.cross_attention_dim = cross_attention_dim
        self.activation = activation
        self.layer_norm_epsilon = check_number(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0, exclusive_minimum=True)
        self.dropout = check_rate("dropout", dropout)
        dtype = self.dtype_policy

        # === Layers ===
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, hidden_dim, embeddings_initializer=normal(0.02),
            name="token_embedding", dtype=dtype)
        self.position_embedding = LearnedPositionEmbedding(
            max_sequence_length, initializer=normal(0.02), name="position_embedding",
            dtype=dtype)
        self.embedding_norm = layer_norm(self.layer_norm_epsilon, "embedding_norm", dtype)
        self.embedding_dropout = keras.layers.Dropout(dropout, dtype=dtype)
        self.blocks = [
            BLIPTextLayer(num_heads, intermediate_dim, cross_attention_dim=cross_attention_dim,
                          activation=activation, layer_norm_epsilon=self.layer_norm_epsilon,
                          dropout=dropout, name=f"layer_{i}", dtype=dtype)
            for i in range(num_layers)
        ]
        self.build((None, None))

    def build(self, input_shape=None):
        if self.built:
            return
        shape = (None, None, self.hidden_dim)
        self.token_embedding.build((None, None))
        self.position_embedding.build((None, self.max_sequence_length, self.hidden_dim))
        self.embedding_norm.build(shape)
        for block in self.blocks:
            block.build(shape)

    def embed(self, token_ids, start=0):
        """Embedded `(B, L)` token ids at positions `start ...`, after the LayerNorm."""
        length = ops.shape(token_ids)[1]
        positions = ops.arange(length, dtype="int32") + start
        x = self.token_embedding(token_ids)
        x = x + ops.take(self.position_embedding.embeddings, positions, axis=0)[None]
        return self.embedding_norm(ops.cast(x, self.compute_dtype))

    def _check_inputs(self, inputs):
        if not isinstance(inputs, dict) or "token_ids" not in inputs:
            raise ValueError("inputs must be a dict with 'token_ids' (and optionally "
                             "'padding_mask', 'encoder_tokens', 'encoder_mask'). Received: "
                             f"{sorted(inputs) if isinstance(inputs, dict) else type(inputs)}")
        length = inputs["token_ids"].shape[1]
        if length is not None and length > self.max_sequence_length:
            raise ValueError(f"token_ids must not be longer than max_sequence_length. "
                             f"Received: length {length}, "
                             f"max_sequence_length={self.max_sequence_length}")

    def attention_mask(self, token_ids, padding_mask=None):
        """`(B, L, L)` bool: padding on the keys, and causal for a decoder."""
        length = ops.shape(token_ids)[1]
        if padding_mask is None:
            padding_mask = ops.ones_like(token_ids, dtype="bool")
        mask = ops.cast(padding_mask, "bool")[:, None, :]
        if self.causal:
            positions = ops.arange(length, dtype="int32")
            mask = ops.logical_and(mask, (positions[:, None] >= positions[None, :])[None])
        return ops.broadcast_to(mask, (ops.shape(token_ids)[0], length, length))

    def call(self, inputs, training=None):
        self._check_inputs(inputs)
        token_ids = inputs["token_ids"]
        x = self.embedding_dropout(self.embed(token_ids), training=training)
        mask = self.attention_mask(token_ids, inputs.get("padding_mask"))
        encoder_tokens = inputs.get("encoder_tokens")
        encoder_mask = inputs.get("encoder_mask")
        if encoder_tokens is not None:
            encoder_tokens = ops.cast(encoder_tokens, self.compute_dtype)
            if encoder_mask is not None:
                encoder_mask = ops.cast(encoder_mask, "bool")[:, None, :]
        for block in self.blocks:
            x = block(x, attention_mask=mask, encoder_tokens=encoder_tokens,
                      encoder_mask=encoder_mask, training=training)
        return x

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in _ARGUMENTS})
        return config
