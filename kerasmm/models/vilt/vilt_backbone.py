"""ViLT: one transformer over word and patch tokens (Hugging Face `ViltModel`)."""

import keras
from keras import ops

from kerasmm.layers import SelfAttention
from kerasmm.models.clip.clip_utils import check_tower_args
from kerasmm.models.clip.clip_utils import layer_norm
from kerasmm.models.vilt.vilt_image_embedding import ViLTImageEmbedding
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rate
from kerasmm.utils.tensor_checks import check_token_ids


@keras.saving.register_keras_serializable(package="kerasmm")
class ViLT(keras.Model):
    """Vision-and-Language Transformer: single-stream fusion without a CNN.

    As Hugging Face's `ViltModel`: BERT text embeddings (word, position and
    token type 0, then LayerNorm), the image tokens of `ViLTImageEmbedding`
    (patches with positions resized to each image's valid area and a class
    token), a modality type embedding added to each (0 for text,
    `image_token_type` for the image), `num_layers` pre-LN blocks
    (`kerasmm.layers.SelfAttention`) over the concatenation, a final
    LayerNorm and a pooler (dense + tanh on the first text token).

    Args:
        vocabulary_size: int, size of the word vocabulary.
        image_size: int, side of the square images the positions were
            trained on (other sizes resize them).
        patch_size: int, side of the square patches.
        hidden_dim: int, transformer width.
        num_layers: int, number of blocks.
        num_heads: int, attention heads; must divide `hidden_dim`.
        max_sequence_length: int, number of text positions.
        intermediate_dim: int, MLP width (default `4 * hidden_dim`).
        type_vocabulary_size: int, BERT token types (only type 0 is used).
        modality_type_vocabulary_size: int, modality types: 2, or 3 for two
            images (NLVR2).
        activation: MLP activation (exact `"gelu"` for ViLT).
        layer_norm_epsilon: float > 0, epsilon of every LayerNorm.
        dropout: float in [0, 1), dropout after attention and MLP.
        patch_stem: `"linear"` (ViLT's patchify, that of converted
            checkpoints) or `"conv"` (stride-2 3x3 convolutions,
            `kerasmm.layers.ConvPatchEmbedding`, for training from scratch).
        position_initializer: the image position table's start, `"normal"`
            (ViLT's std 0.02) or `"sincos"` (2D sine-cosine,
            `kerasmm.layers.sincos_2d_positions`; for training from scratch
            with `patch_stem="conv"`, whose tokens drown a 0.02 table).

    Call arguments:
        inputs: dict with `"images"` float `(B, H, W, 3)` (`H`, `W`
            multiples of `patch_size`), `"token_ids"` int `(B, L)`,
            optional `"padding_mask"` `(B, L)` and `"pixel_mask"` `(B, H, W)`
            (0 on padded pixels).
        image_token_type: int, the image's modality type (1; 2 for the
            second image of NLVR2).

    Returns:
        `{"sequence_output": (B, L + 1 + (H / p) * (W / p), hidden_dim),
        "pooled_output": (B, hidden_dim)}`: text tokens first.

    Example:
    >>> model = ViLT(vocabulary_size=50, image_size=32, patch_size=16, hidden_dim=8,
    ...              num_layers=1, num_heads=2, max_sequence_length=6)
    >>> outputs = model({"images": np.zeros((2, 32, 32, 3), "float32"),
    ...                  "token_ids": np.array([[1, 5, 2], [1, 2, 0]])})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((2, 8, 8), (2, 8))

    Reference:
        Kim et al., "ViLT: Vision-and-Language Transformer Without
        Convolution or Region Supervision", ICML 2021.
    """

    def __init__(self, vocabulary_size, image_size, patch_size, hidden_dim, num_layers,
                 num_heads, max_sequence_length, intermediate_dim=None,
                 type_vocabulary_size=2, modality_type_vocabulary_size=2,
                 activation="gelu", layer_norm_epsilon=1e-12, dropout=0.0,
                 patch_stem="linear", position_initializer="normal", **kwargs):
        super().__init__(**kwargs)
        check_tower_args(num_heads, "hidden_dim", hidden_dim, activation,
                         vocabulary_size=vocabulary_size, num_layers=num_layers,
                         max_sequence_length=max_sequence_length,
                         type_vocabulary_size=type_vocabulary_size,
                         modality_type_vocabulary_size=modality_type_vocabulary_size)
        check_positive_int("intermediate_dim", intermediate_dim, allow_none=True)
        self.vocabulary_size = vocabulary_size
        self.image_size = image_size
        self.patch_size = patch_size
        self.patch_stem = patch_stem
        self.position_initializer = position_initializer
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.max_sequence_length = max_sequence_length
        self.intermediate_dim = intermediate_dim or 4 * hidden_dim
        self.type_vocabulary_size = type_vocabulary_size
        self.modality_type_vocabulary_size = modality_type_vocabulary_size
        self.activation = activation
        self.layer_norm_epsilon = check_number(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0, exclusive_minimum=True)
        self.dropout = check_rate("dropout", dropout)
        dtype = self.dtype_policy

        # === Layers ===
        def embedding(size, name):
            return keras.layers.Embedding(
                size, hidden_dim, embeddings_initializer=keras.initializers.RandomNormal(
                    stddev=0.02), name=name, dtype=dtype)

        self.token_embedding = embedding(vocabulary_size, "token_embedding")
        self.position_embedding = embedding(max_sequence_length, "position_embedding")
        self.token_type_embedding = embedding(type_vocabulary_size, "token_type_embedding")
        self.embedding_norm = layer_norm(layer_norm_epsilon, "embedding_norm", dtype)
        self.image_embedding = ViLTImageEmbedding(image_size, patch_size, hidden_dim,
                                                  patch_stem=patch_stem,
                                                  position_initializer=position_initializer,
                                                  name="image_embedding", dtype=dtype)
        self.modality_embedding = embedding(modality_type_vocabulary_size,
                                            "modality_embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout, dtype=dtype)
        self.blocks = [
            SelfAttention(num_heads, intermediate_dim=self.intermediate_dim,
                          activation=activation, dropout=dropout,
                          layer_norm_epsilon=layer_norm_epsilon, name=f"block_{i}",
                          dtype=dtype)
            for i in range(num_layers)
        ]
        self.final_norm = layer_norm(layer_norm_epsilon, "final_norm", dtype)
        self.pooler = keras.layers.Dense(hidden_dim, activation="tanh", name="pooler",
                                         dtype=dtype)
        self.build(None)

    def build(self, input_shape=None):
        if self.built:
            return
        for table in (self.token_embedding, self.position_embedding,
                      self.token_type_embedding, self.modality_embedding):
            table.build((None, None))
        sequence = (None, None, self.hidden_dim)
        self.embedding_norm.build(sequence)
        self.image_embedding.build((None, None, None, 3))
        for block in self.blocks:
            block.build(sequence)
        self.final_norm.build(sequence)
        self.pooler.build((None, self.hidden_dim))
        self.built = True

    def embed_text(self, token_ids):
        """BERT's text embeddings, LayerNorm included: `(B, L, hidden_dim)`."""
        token_ids = check_token_ids("token_ids", token_ids, self.vocabulary_size)
        if token_ids.shape[1] is not None and token_ids.shape[1] > self.max_sequence_length:
            raise ValueError(f"token_ids must have at most max_sequence_length="
                             f"{self.max_sequence_length} tokens. Received: token_ids with "
                             f"shape {tuple(token_ids.shape)}")
        length = ops.shape(token_ids)[1]
        x = self.token_embedding(token_ids)
        x = x + self.position_embedding(ops.arange(length, dtype="int32"))[None]
        x = x + self.token_type_embedding(ops.zeros((1, 1), "int32"))
        return self.embedding_norm(x)

    def call(self, inputs, image_token_type=1, training=None):
        if not isinstance(inputs, dict) or not {"images", "token_ids"} <= set(inputs):
            raise ValueError("inputs must be a dict with 'images' and 'token_ids' (and "
                             "optional 'padding_mask', 'pixel_mask'). Received: "
                             f"{sorted(inputs) if isinstance(inputs, dict) else type(inputs)}")
        check_positive_int("image_token_type", image_token_type)
        if image_token_type >= self.modality_type_vocabulary_size:
            raise ValueError(
                "image_token_type must be below modality_type_vocabulary_size="
                f"{self.modality_type_vocabulary_size}. Received: "
                f"image_token_type={image_token_type}")
        token_ids = inputs["token_ids"]
        padding_mask = inputs.get("padding_mask")
        if padding_mask is None:
            padding_mask = ops.ones(ops.shape(token_ids), "bool")
        text = self.embed_text(token_ids)
        text = text + self.modality_embedding(ops.zeros((1, 1), "int32"))
        image, image_mask = self.image_embedding(inputs["images"], inputs.get("pixel_mask"))
        image = image + self.modality_embedding(
            ops.full((1, 1), image_token_type, "int32"))
        x = self.embedding_dropout(ops.concatenate([text, image], axis=1), training=training)
        mask = ops.concatenate([ops.cast(padding_mask, "bool"), image_mask], axis=1)
        for block in self.blocks:
            x = block(x, mask=mask, training=training)
        x = self.final_norm(x)
        return {"sequence_output": x, "pooled_output": self.pooler(x[:, 0])}

    def compute_output_spec(self, inputs, image_token_type=1, training=None):
        images, token_ids = inputs["images"].shape, inputs["token_ids"].shape
        length = None
        if None not in (images[1], images[2], token_ids[1]):
            p = self.patch_size
            length = token_ids[1] + 1 + (images[1] // p) * (images[2] // p)
        return {
            "sequence_output": keras.KerasTensor((images[0], length, self.hidden_dim),
                                                 dtype=self.compute_dtype),
            "pooled_output": keras.KerasTensor((images[0], self.hidden_dim),
                                               dtype=self.compute_dtype),
        }

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "vocabulary_size", "image_size", "patch_size", "hidden_dim", "num_layers",
            "num_heads", "max_sequence_length", "intermediate_dim", "type_vocabulary_size",
            "modality_type_vocabulary_size", "activation", "layer_norm_epsilon", "dropout",
            "patch_stem", "position_initializer")})
        return config
