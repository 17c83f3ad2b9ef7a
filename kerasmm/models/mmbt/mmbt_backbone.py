"""MMBT: any image model's features as extra tokens of a BERT-style transformer."""

import keras
import numpy as np
from keras import ops

from kerasmm.models.clip.clip_utils import check_tower_args
from kerasmm.models.clip.clip_utils import layer_norm
from kerasmm.models.clip.clip_utils import normal
from kerasmm.models.fusion_utils import check_fusion_inputs
from kerasmm.models.fusion_utils import fusion_blocks
from kerasmm.models.fusion_utils import fusion_output_spec
from kerasmm.models.mmbt.text_embedding import TextEmbedding
from kerasmm.utils.checks import check_int_tuple
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rate


def feature_tokens_shape(shape):
    """`(N, C)` of the tokens an image feature shape becomes (see `MMBT`)."""
    shape = tuple(shape)
    if len(shape) == 2:
        return 1, shape[1]
    if len(shape) == 3:
        return shape[1], shape[2]
    if len(shape) == 4:
        return (None if None in shape[1:3] else shape[1] * shape[2]), shape[3]
    raise ValueError("The image features must be vectors (B, C), tokens (B, N, C) or a "
                     f"feature map (B, h, w, C). Received: features with shape {shape}")


def adaptive_pool_matrix(length, size):
    """`(size, length)`: torch's `AdaptiveAvgPool1d(size)` as a matrix (bin `i`
    averages `[floor(i * length / size), ceil((i + 1) * length / size))`)."""
    matrix = np.zeros((size, length), "float32")
    for i in range(size):
        start, end = (i * length) // size, -((-(i + 1) * length) // size)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


@keras.saving.register_keras_serializable(package="kerasmm")
class MMBT(keras.Model):
    """Multimodal Bitransformer: image features as tokens of a text transformer.

    As Kiela et al. and Hugging Face's `MMBTModel`: `image_encoder(images)`
    gives features, a `(B, C)` vector (one token), `(B, N, C)` tokens (a
    kerasmm tower built with `output_tokens=True` returns a dict whose
    `"tokens"` are used) or a CNN feature map `(B, h, w, C)` (flattened
    row-major to `h * w` tokens); with `num_image_tokens` they are
    average-pooled to that many tokens (torch's `AdaptiveAvgPool1d`, as
    MMBT's `num_image_embeds`). A Dense layer projects them to `hidden_dim`
    and they are framed by learned start and end tokens, with their own
    positions and segment 1, and LayerNorm (BERT's, shared with the text).
    The text (`TextEmbedding`, segment 0) follows, and `num_layers` pre-LN
    blocks (`kerasmm.layers.SelfAttention`) run over
    `[start, image tokens, end, text]`, then a final LayerNorm; pooled =
    `tanh(Dense(start token))`. The image encoder trains with the rest.

    Args:
        image_encoder: a Keras model or layer mapping `images` to features.
            Its output shape must be static: a functional model's is read
            from it, another layer's from `image_shape` (a kerasmm tower's
            from its `image_size`).
        vocabulary_size: int, size of the word vocabulary.
        hidden_dim: int, transformer width.
        num_layers: int, number of blocks.
        num_heads: int, attention heads; must divide `hidden_dim`.
        max_sequence_length: int, number of text positions.
        num_image_tokens: int, tokens the features are pooled to, or None
            (every feature token).
        image_shape: `(H, W, C)` the encoder is built for, needed only if
            it is not a functional model.
        intermediate_dim: int, MLP width (default `4 * hidden_dim`).
        activation: MLP activation.
        layer_norm_epsilon: float > 0, epsilon of every LayerNorm.
        dropout: float in [0, 1), after embeddings, attention and MLP.

    Call arguments:
        inputs: dict with `"images"` (what `image_encoder` takes),
            `"token_ids"` int `(B, L)` and optional `"padding_mask"` `(B, L)`.

    Returns:
        `{"sequence_output": (B, N + 2 + L, hidden_dim), "pooled_output":
        (B, hidden_dim)}`: the image part first.

    Example:
    >>> encoder = keras.Sequential([keras.Input((16, 16, 3)),
    ...                             keras.layers.Conv2D(6, 8, strides=8)])
    >>> model = MMBT(encoder, vocabulary_size=50, hidden_dim=8, num_layers=1,
    ...              num_heads=2, max_sequence_length=6)
    >>> outputs = model({"images": np.zeros((2, 16, 16, 3), "float32"),
    ...                  "token_ids": np.array([[1, 5, 2], [1, 2, 0]])})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((2, 9, 8), (2, 8))

    Reference:
        Kiela et al., "Supervised Multimodal Bitransformers for Classifying
        Images and Text", 2019.
    """

    def __init__(self, image_encoder, vocabulary_size, hidden_dim, num_layers, num_heads,
                 max_sequence_length, num_image_tokens=None, image_shape=None,
                 intermediate_dim=None, activation="gelu", layer_norm_epsilon=1e-12,
                 dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(image_encoder, keras.layers.Layer):
            raise TypeError("image_encoder must be a Keras layer or model. Received: "
                            f"image_encoder={type(image_encoder).__name__}")
        check_tower_args(num_heads, "hidden_dim", hidden_dim, activation,
                         vocabulary_size=vocabulary_size, num_layers=num_layers,
                         max_sequence_length=max_sequence_length)
        check_positive_int("num_image_tokens", num_image_tokens, allow_none=True)
        check_positive_int("intermediate_dim", intermediate_dim, allow_none=True)
        self.image_encoder = image_encoder
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.max_sequence_length = max_sequence_length
        self.image_shape = None if image_shape is None else check_int_tuple(
            "image_shape", image_shape)
        self.intermediate_dim = intermediate_dim or 4 * hidden_dim
        self.activation = activation
        self.layer_norm_epsilon = check_number(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0, exclusive_minimum=True)
        self.dropout = check_rate("dropout", dropout)
        length, self.feature_dim = feature_tokens_shape(self._feature_shape())
        if num_image_tokens is None and length is None:
            raise ValueError("The image encoder's number of tokens is not static: pass "
                             "num_image_tokens. Received: num_image_tokens=None")
        self.num_image_tokens = num_image_tokens
        self.feature_tokens = length
        dtype = self.dtype_policy

        # === Layers ===
        self.text_embedding = TextEmbedding(
            vocabulary_size, max_sequence_length, hidden_dim,
            layer_norm_epsilon=layer_norm_epsilon, name="text_embedding", dtype=dtype)
        self.image_projection = keras.layers.Dense(hidden_dim, name="image_projection",
                                                   dtype=dtype)
        self.embedding_dropout = keras.layers.Dropout(dropout, dtype=dtype)
        self.blocks = fusion_blocks(self, "block")
        self.final_norm = layer_norm(layer_norm_epsilon, "final_norm", dtype)
        self.pooler = keras.layers.Dense(hidden_dim, activation="tanh", name="pooler",
                                         dtype=dtype)
        self.build(None)

    def _feature_shape(self):
        outputs = getattr(self.image_encoder, "outputs", None)
        if outputs is None:
            shape = self.image_shape
            size = getattr(self.image_encoder, "image_size", None)
            if shape is None and isinstance(size, int):
                shape = (size, size, 3)  # A kerasmm tower.
            if shape is None:
                raise ValueError("image_shape is needed when image_encoder is not a "
                                 "functional model. Received: image_shape=None")
            outputs = self.image_encoder.compute_output_spec(
                keras.KerasTensor((None,) + tuple(shape)))
        if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
            outputs = outputs[0]
        if isinstance(outputs, dict):
            outputs = outputs["tokens"]
        return outputs.shape

    def build(self, input_shape=None):
        if self.built:
            return
        self.text_embedding.build(None)
        self.image_projection.build((None, None, self.feature_dim))
        tokens = (self.num_image_tokens or self.feature_tokens) + 2
        self.image_frame = self.add_weight(shape=(2, self.hidden_dim), name="image_frame",
                                           initializer=normal(0.02))
        self.image_position_embedding = self.add_weight(
            shape=(tokens, self.hidden_dim), name="image_position_embedding",
            initializer=normal(0.02))
        sequence = (None, None, self.hidden_dim)
        for block in self.blocks:
            block.build(sequence)
        self.final_norm.build(sequence)
        self.pooler.build((None, self.hidden_dim))
        self.built = True

    def embed_image(self, images, training=None):
        """`(B, N + 2, hidden_dim)`: the framed, embedded image tokens."""
        features = self.image_encoder(images, training=training)
        if isinstance(features, dict):
            features = features["tokens"]
        length, _ = feature_tokens_shape(features.shape)
        x = ops.reshape(features, (ops.shape(features)[0], -1, self.feature_dim))
        if self.num_image_tokens is not None and length != self.num_image_tokens:
            if length is None:
                raise ValueError("Pooling to num_image_tokens needs a static number of "
                                 f"feature tokens. Received: features {features.shape}")
            pool = adaptive_pool_matrix(length, self.num_image_tokens)
            x = ops.einsum("kn,bnc->bkc", ops.cast(pool, x.dtype), x)
        x = self.image_projection(x)
        frame = ops.cast(self.image_frame, x.dtype)
        frame = ops.broadcast_to(frame[None], (ops.shape(x)[0], 2, self.hidden_dim))
        x = ops.concatenate([frame[:, :1], x, frame[:, 1:]], axis=1)
        x = x + ops.cast(self.image_position_embedding, x.dtype)[None]
        return self.text_embedding.norm(x + self.text_embedding.segment(1))

    def call(self, inputs, training=None):
        padding_mask = check_fusion_inputs(inputs)
        image = self.embed_image(inputs["images"], training=training)
        text = self.text_embedding(inputs["token_ids"])
        x = self.embedding_dropout(ops.concatenate([image, text], axis=1),
                                   training=training)
        image_mask = ops.ones(ops.shape(image)[:2], "bool")
        mask = ops.concatenate([image_mask, padding_mask], axis=1)
        for block in self.blocks:
            x = block(x, mask=mask, training=training)
        x = self.final_norm(x)
        return {"sequence_output": x, "pooled_output": self.pooler(x[:, 0])}

    def compute_output_spec(self, inputs, training=None):
        length = inputs["token_ids"].shape[1]
        if length is not None:
            length += (self.num_image_tokens or self.feature_tokens) + 2
        return fusion_output_spec(self, inputs["token_ids"].shape[0], length)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "vocabulary_size", "hidden_dim", "num_layers", "num_heads",
            "max_sequence_length", "num_image_tokens", "image_shape", "intermediate_dim",
            "activation", "layer_norm_epsilon", "dropout")})
        config["image_encoder"] = keras.saving.serialize_keras_object(self.image_encoder)
        return config

    @classmethod
    def from_config(cls, config):
        if isinstance(config.get("image_encoder"), dict):
            config = {**config, "image_encoder": keras.saving.deserialize_keras_object(
                config["image_encoder"])}
        return cls(**config)
