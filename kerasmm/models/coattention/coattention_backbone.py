"""A dual-stream fusion transformer: text and image exchange keys and values."""

import warnings

import keras
from keras import ops

from kerasmm.layers import CrossAttention
from kerasmm.models.clip.clip_utils import check_tower_args
from kerasmm.models.clip.clip_utils import layer_norm
from kerasmm.models.fusion_utils import check_fusion_inputs
from kerasmm.models.fusion_utils import fusion_blocks
from kerasmm.models.fusion_utils import fusion_output_spec
from kerasmm.models.mmbt.text_embedding import TextEmbedding
from kerasmm.models.vilt.vilt_image_embedding import ViLTImageEmbedding
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rate


@keras.saving.register_keras_serializable(package="kerasmm")
class CoAttentionTransformer(keras.Model):
    """Co-attention transformer (ViLBERT / LXMERT style): two streams that cross-attend.

    The text stream starts from BERT embeddings (`TextEmbedding`), the image
    stream from patch tokens with a class token and learned positions
    (`ViLTImageEmbedding`: other image sizes resize the positions; a
    `"pixel_mask"` drops padded patches). Each of the `num_layers` layers
    first exchanges information, both directions from the streams as they
    entered the layer (LXMERT's cross-modality layer): the text's queries
    attend to the image's keys and values and the image's to the text's,
    through `kerasmm.layers.CrossAttention` (attention + MLP, residual);
    then each stream runs its own self-attention + MLP block
    (`kerasmm.layers.SelfAttention`). After a final LayerNorm per stream,
    each stream's first token gives a pooled vector (`tanh(Dense)`), and
    the two are combined (`pooling="product"`: element-wise, as ViLBERT;
    `"concat"`: concatenated) and projected to `hidden_dim`.

    Args:
        vocabulary_size: int, size of the word vocabulary.
        image_size: int, side of the square images the positions are for.
        patch_size: int, side of the square patches.
        hidden_dim: int, width of both streams.
        num_layers: int, number of co-attention layers.
        num_heads: int, attention heads; must divide `hidden_dim`.
        max_sequence_length: int, number of text positions.
        intermediate_dim: int, MLP width (default `4 * hidden_dim`).
        pooling: `"product"` or `"concat"`, how the pooled vectors combine.
        activation: MLP activation.
        layer_norm_epsilon: float > 0, epsilon of every LayerNorm.
        dropout: float in [0, 1), after embeddings, attention and MLP.
        patch_stem: `"linear"` (ViLT's patchify, that of converted
            checkpoints) or `"conv"` (stride-2 3x3 convolutions,
            `kerasmm.layers.ConvPatchEmbedding`, for training from scratch).

    Call arguments:
        inputs: dict with `"images"` float `(B, H, W, 3)` (`H`, `W`
            multiples of `patch_size`), `"token_ids"` int `(B, L)`, optional
            `"padding_mask"` `(B, L)` and `"pixel_mask"` `(B, H, W)`.

    Returns:
        `{"sequence_output": (B, L + 1 + (H / p) * (W / p), hidden_dim),
        "pooled_output": (B, hidden_dim)}`: text tokens, then image tokens.

    Example:
    >>> model = CoAttentionTransformer(vocabulary_size=50, image_size=32, patch_size=16,
    ...     hidden_dim=8, num_layers=1, num_heads=2, max_sequence_length=6)
    >>> outputs = model({"images": np.zeros((2, 32, 32, 3), "float32"),
    ...                  "token_ids": np.array([[1, 5, 2], [1, 2, 0]])})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((2, 8, 8), (2, 8))

    References:
        Lu et al., "ViLBERT: Pretraining Task-Agnostic Visiolinguistic
        Representations for Vision-and-Language Tasks", NeurIPS 2019.
        Tan and Bansal, "LXMERT: Learning Cross-Modality Encoder
        Representations from Transformers", EMNLP 2019.
    """

    def __init__(self, vocabulary_size, image_size, patch_size, hidden_dim, num_layers,
                 num_heads, max_sequence_length, intermediate_dim=None, pooling="product",
                 activation="gelu", layer_norm_epsilon=1e-12, dropout=0.0,
                 patch_stem="linear", **kwargs):
        super().__init__(**kwargs)
        check_tower_args(num_heads, "hidden_dim", hidden_dim, activation,
                         vocabulary_size=vocabulary_size, num_layers=num_layers,
                         max_sequence_length=max_sequence_length)
        check_positive_int("intermediate_dim", intermediate_dim, allow_none=True)
        self.pooling = check_choice("pooling", pooling, ("product", "concat"))
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim or 4 * hidden_dim
        self.vocabulary_size = vocabulary_size
        self.max_sequence_length = max_sequence_length
        self.image_size = image_size
        self.patch_size = patch_size
        self.activation = activation
        self.layer_norm_epsilon = check_number(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0, exclusive_minimum=True)
        self.dropout = check_rate("dropout", dropout)
        self.patch_stem = patch_stem
        dtype = self.dtype_policy

        # === Layers ===
        self.text_embedding = TextEmbedding(
            vocabulary_size, max_sequence_length, hidden_dim,
            layer_norm_epsilon=layer_norm_epsilon, name="text_embedding", dtype=dtype)
        self.image_embedding = ViLTImageEmbedding(image_size, patch_size, hidden_dim,
                                                  patch_stem=patch_stem,
                                                  name="image_embedding", dtype=dtype)
        self.embedding_dropout = keras.layers.Dropout(dropout, dtype=dtype)
        self.text_cross = fusion_blocks(self, "text_cross", CrossAttention)
        self.image_cross = fusion_blocks(self, "image_cross", CrossAttention)
        self.text_blocks = fusion_blocks(self, "text_block")
        self.image_blocks = fusion_blocks(self, "image_block")
        self.text_norm = layer_norm(layer_norm_epsilon, "text_norm", dtype)
        self.image_norm = layer_norm(layer_norm_epsilon, "image_norm", dtype)
        self.text_pooler = keras.layers.Dense(hidden_dim, activation="tanh",
                                              name="text_pooler", dtype=dtype)
        self.image_pooler = keras.layers.Dense(hidden_dim, activation="tanh",
                                               name="image_pooler", dtype=dtype)
        self.pooled_projection = keras.layers.Dense(hidden_dim, name="pooled_projection",
                                                    dtype=dtype)
        self.build(None)

    def build(self, input_shape=None):
        if self.built:
            return
        sequence = (None, None, self.hidden_dim)
        self.text_embedding.build(None)
        self.image_embedding.build((None, None, None, 3))
        for layer in self.text_cross + self.image_cross:
            layer.build(sequence, sequence)
        for layer in self.text_blocks + self.image_blocks + [self.text_norm,
                                                               self.image_norm]:
            layer.build(sequence)
        for layer in (self.text_pooler, self.image_pooler):
            layer.build((None, self.hidden_dim))
        width = self.hidden_dim * (2 if self.pooling == "concat" else 1)
        self.pooled_projection.build((None, width))
        self.built = True

    def call(self, inputs, training=None):
        text_mask = check_fusion_inputs(inputs)
        text = self.embedding_dropout(self.text_embedding(inputs["token_ids"]),
                                      training=training)
        image, image_mask = self.image_embedding(inputs["images"], inputs.get("pixel_mask"))
        image = self.embedding_dropout(image, training=training)
        for i in range(self.num_layers):
            with warnings.catch_warnings():
                # The streams carry the padding masks of the previous blocks as
                # Keras mask metadata; the cross-attentions get them explicitly.
                warnings.filterwarnings("ignore", "Layer '.*_cross_", UserWarning)
                text, image = (
                    self.text_cross[i](text, image, context_mask=image_mask,
                                       training=training),
                    self.image_cross[i](image, text, context_mask=text_mask,
                                        training=training))
            text = self.text_blocks[i](text, mask=text_mask, training=training)
            image = self.image_blocks[i](image, mask=image_mask, training=training)
        text, image = self.text_norm(text), self.image_norm(image)
        text_pooled = self.text_pooler(text[:, 0])
        image_pooled = self.image_pooler(image[:, 0])
        if self.pooling == "product":
            pooled = text_pooled * image_pooled
        else:
            pooled = ops.concatenate([text_pooled, image_pooled], axis=-1)
        return {"sequence_output": ops.concatenate([text, image], axis=1),
                "pooled_output": self.pooled_projection(pooled)}

    def compute_output_spec(self, inputs, training=None):
        images, token_ids = inputs["images"].shape, inputs["token_ids"].shape
        length = None
        if None not in (images[1], images[2], token_ids[1]):
            p = self.patch_size
            length = token_ids[1] + 1 + (images[1] // p) * (images[2] // p)
        return fusion_output_spec(self, images[0], length)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "vocabulary_size", "image_size", "patch_size", "hidden_dim", "num_layers",
            "num_heads", "max_sequence_length", "intermediate_dim", "pooling",
            "activation", "layer_norm_epsilon", "dropout",
            "patch_stem")})
        return config
