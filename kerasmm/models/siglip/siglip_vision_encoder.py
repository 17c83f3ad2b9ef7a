"""SigLIP's vision tower (Hugging Face `SiglipVisionModel`, big_vision `vit.py`)."""

import keras
from keras import ops

from kerasmm.layers import LearnedPositionEmbedding
from kerasmm.layers import PatchEmbedding
from kerasmm.layers.remat import maybe_remat
from kerasmm.models.clip.clip_utils import layer_norm
from kerasmm.models.clip.image_tower import ImageTowerMixin
from kerasmm.models.clip.clip_utils import normal
from kerasmm.models.siglip.multihead_attention_pooling import MultiheadAttentionPooling
from kerasmm.models.siglip.siglip_utils import encoder_blocks
from kerasmm.models.siglip.siglip_utils import set_transformer_args
from kerasmm.models.siglip.siglip_utils import transformer_config
from kerasmm.utils.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasmm")
class SigLIPVisionEncoder(ImageTowerMixin, keras.Model):
    """SigLIP's image tower: a ViT without class token, pooled by a MAP head.

    Mirrors Hugging Face's `SiglipVisionModel` (SigLIP and the fixed-
    resolution SigLIP 2): a `Conv2D` patchify with bias, learned positions
    (one per patch, no class token), `num_layers` pre-LN blocks
    (`kerasmm.layers.SelfAttention`: q/k/v/output projections with biases,
    MLP with `gelu_approximate`, LayerNorm epsilon 1e-6), `ln_post` on
    every token and the attention-pooling head `head`
    (`MultiheadAttentionPooling`). There is no projection: the output width
    `output_dim` is `hidden_dim`. The output is *not* L2-normalised;
    `kerasmm.models.SigLIP` normalises it.

    With `output_tokens=True` the call also returns the patch tokens after
    `ln_post` (Hugging Face's `last_hidden_state`), as CLIP's towers do.

    Weights and their Hugging Face names (`vision_model.` prefix):
    `patch_embedding/projection` (`embeddings.patch_embedding`, OIHW ->
    HWIO), `position_embedding/embeddings` (`embeddings.position_embedding`),
    `block_i` (`encoder.layers.i`: `attention_norm` = `layer_norm1`,
    `attention/{query,key,value,output}` = `self_attn.{q,k,v,out}_proj`,
    `mlp_norm` = `layer_norm2`, `mlp/dense_1`, `mlp/dense_2` = `mlp.fc1`,
    `mlp.fc2`), `ln_post` (`post_layernorm`), `head` (`head`).

    Args:
        image_size: int, side of the square input images.
        patch_size: int, side of the square patches; must divide `image_size`.
        hidden_dim: int, width of the transformer and of the output.
        num_layers: int, number of transformer blocks.
        num_heads: int, attention heads (blocks and head); must divide
            `hidden_dim`.
        intermediate_dim: int, hidden width of every MLP; None is
            `4 * hidden_dim` (So400m: 4304 for 1152).
        activation: MLP activation, `"gelu_approximate"` for SigLIP.
        layer_norm_epsilon: float > 0, epsilon of every LayerNorm.
        remat: bool, rematerialise each block in the backward pass (lower
            peak training memory for one more forward pass of compute).
        output_tokens: bool, also return the patch tokens (see Returns).
        patch_dropout: float in [0, 1): in training only, keep a random
            `round((1 - patch_dropout) * num_patches)` of the patch tokens
            per example, after the position embeddings (FLIP; open_clip's
            `patch_dropout`; SigLIP has no class token to keep, and the MAP
            head pools whatever tokens remain); the identity at inference.
            In training the returned `"tokens"` are the kept ones.

    Call arguments:
        images: float `(batch, image_size, image_size, 3)`, channels last,
            preprocessed (pixels mapped to `[-1, 1]`, e.g. by
            `kerasmm.models.SigLIPPreprocessor`); integer images are refused.
        training: Python bool.

    Returns:
        `(batch, hidden_dim)` image features; with `output_tokens=True` a
        dict `{"pooled": (batch, hidden_dim), "tokens": (batch, num_patches,
        hidden_dim)}`.

    Example:
    >>> encoder = SigLIPVisionEncoder(image_size=32, patch_size=8, hidden_dim=16,
    ...                               num_layers=2, num_heads=2)
    >>> tuple(encoder(keras.random.normal((2, 32, 32, 3))).shape)
    (2, 16)
    >>> encoder = SigLIPVisionEncoder(image_size=32, patch_size=8, hidden_dim=16,
    ...                               num_layers=2, num_heads=2, output_tokens=True,
    ...                               patch_dropout=0.5)
    >>> outputs = encoder(keras.random.normal((2, 32, 32, 3)), training=True)
    >>> tuple(outputs["pooled"].shape), tuple(outputs["tokens"].shape)
    ((2, 16), (2, 8, 16))

    Reference:
        Zhai et al., "Sigmoid Loss for Language Image Pre-Training", 2023;
        Tschannen et al., "SigLIP 2", 2025; Hugging Face transformers
        `models/siglip/modeling_siglip.py`.
    """

    def __init__(self, image_size=224, patch_size=16, hidden_dim=768, num_layers=12,
                 num_heads=12, intermediate_dim=None, activation="gelu_approximate",
                 layer_norm_epsilon=1e-6, remat=False, output_tokens=False,
                 patch_dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("image_size", image_size)
        check_positive_int("patch_size", patch_size)
        if image_size % patch_size:
            raise ValueError("image_size must be divisible by patch_size. Received: "
                             f"image_size={image_size}, patch_size={patch_size}")
        set_transformer_args(self, hidden_dim, num_layers, num_heads, intermediate_dim,
                             activation, layer_norm_epsilon, remat, output_tokens)
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_patches = (image_size // patch_size) ** 2
        dtype = self.dtype_policy

        # === Layers ===
        self.patch_embedding = PatchEmbedding(patch_size, hidden_dim, use_bias=True,
                                              name="patch_embedding", dtype=dtype)
        self.position_embedding = LearnedPositionEmbedding(
            self.num_patches, initializer=normal(hidden_dim ** -0.5),
            name="position_embedding", dtype=dtype)
        self._set_patch_dropout(patch_dropout, num_prefix_tokens=0)
        self.blocks = encoder_blocks(self)
        self.ln_post = layer_norm(self.layer_norm_epsilon, "ln_post", dtype)
        self.head = MultiheadAttentionPooling(
            num_heads, self.intermediate_dim, activation=activation,
            layer_norm_epsilon=self.layer_norm_epsilon, name="head", dtype=dtype)
        self.build((None, image_size, image_size, 3))

    @property
    def output_dim(self):
        """Width of the pooled output: `hidden_dim` (SigLIP has no projection)."""
        return self.hidden_dim

    def build(self, input_shape):
        if self.built:
            return
        self._check_images(input_shape)
        self.patch_embedding.build((None, *self.image_shape))
        sequence_shape = (None, self.num_patches, self.hidden_dim)
        self.position_embedding.build(sequence_shape)
        for block in self.blocks:
            block.build(sequence_shape)
        self.ln_post.build(sequence_shape)
        self.head.build(sequence_shape)

    @property
    def image_shape(self):
        """The shape of one input image, `(image_size, image_size, 3)`."""
        return (self.image_size, self.image_size, 3)

    def call(self, images, training=None):
        self._check_images(images.shape, images.dtype)
        x = self.patch_embedding(ops.cast(images, self.compute_dtype))
        x = x + self.position_embedding(x)
        x = self._drop_patches(x, training)
        for block in self.blocks:
            x = maybe_remat(block, self.remat)(x, training=training)
        x = self.ln_post(x)
        pooled = self.head(x)
        if self.output_tokens:
            return {"pooled": pooled, "tokens": x}
        return pooled

    @property
    def pooled_dim(self):
        """The width of the pooled vector."""
        return self.hidden_dim

    def get_config(self):
        config = super().get_config()
        config.update({"image_size": self.image_size, "patch_size": self.patch_size,
                       **transformer_config(self), "patch_dropout": self.patch_dropout})
        return config
