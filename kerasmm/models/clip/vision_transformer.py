"""CLIP's vision transformer (OpenAI `clip/model.py: VisionTransformer`)."""

import keras
from keras import ops

from kerasmm.layers import LearnedPositionEmbedding
from kerasmm.layers import PatchEmbedding
from kerasmm.layers import SelfAttention
from kerasmm.layers.remat import check_remat
from kerasmm.layers.remat import maybe_remat
from kerasmm.models.clip.clip_utils import check_tower_args
from kerasmm.models.clip.clip_utils import check_transformer_args
from kerasmm.models.clip.clip_utils import layer_norm
from kerasmm.models.clip.image_tower import ImageTowerMixin
from kerasmm.models.clip.clip_utils import normal
from kerasmm.models.clip.clip_utils import transformer_config


@keras.saving.register_keras_serializable(package="kerasmm")
class VisionTransformer(ImageTowerMixin, keras.Model):
    """CLIP's image tower: a pre-LN ViT pooled at its class token.

    Mirrors OpenAI's `VisionTransformer` step by step, so that its weights
    load one to one: a `Conv2D` patchify without bias, a learned class token
    prepended to the patches, learned positions (`num_patches + 1` rows),
    `ln_pre`, `num_layers` pre-LN blocks (`kerasmm.layers.SelfAttention`;
    OpenAI: MLP 4x as wide, `quick_gelu`), `ln_post` on the class token and
    a projection (OpenAI: without bias) to `output_dim`. The output is *not*
    L2-normalised (like OpenAI's `encode_image`); `kerasmm.models.CLIP`
    normalises it.

    Pooled path: by default only the class token is read, so the last block
    computes that one token alone (its MLP and projections run on 1 token
    instead of `num_patches + 1`). With `output_tokens=True` every block
    runs on the whole sequence and the call also returns the patch tokens,
    as open_clip's `output_tokens` (captioning, fusion, dense features).

    The model is built on construction for `(image_size, image_size, 3)`
    images, so its weights exist before the first call.

    Weights and their OpenAI names: `patch_embedding.projection.kernel`
    (`conv1.weight`, transposed to HWIO), `class_embedding`,
    `position_embedding.embeddings` (`positional_embedding`), `ln_pre`,
    `blocks[i]` (`transformer.resblocks.i`: `attention_norm` = `ln_1`,
    `attention.{query,key,value}` = `attn.in_proj` split in three,
    `attention.output` = `attn.out_proj`, `mlp_norm` = `ln_2`,
    `mlp.dense_1` = `mlp.c_fc`, `mlp.dense_2` = `mlp.c_proj`), `ln_post`,
    `projection.kernel` (`proj`) and, with `use_projection_bias`,
    `projection.bias`.

    Args:
        image_size: int, side of the square input images.
        patch_size: int, side of the square patches; must divide `image_size`.
        hidden_dim: int, width of the transformer (OpenAI's `width`).
        num_layers: int, number of transformer blocks.
        num_heads: int, attention heads; must divide `hidden_dim`.
        output_dim: int, width of the output features (OpenAI's `embed_dim`).
        activation: MLP activation, `"quick_gelu"` for OpenAI checkpoints,
            `"gelu"` for most open_clip ones.
        layer_norm_epsilon: float > 0, epsilon of every LayerNorm.
        remat: bool, rematerialise each transformer block: its activations
            are recomputed in the backward pass instead of being stored
            (`keras.remat`), which lowers peak training memory for about one
            extra forward pass of compute. Outputs and gradients are
            unchanged.
        intermediate_dim: int, hidden width of each block's MLP; None is
            `4 * hidden_dim` (OpenAI). LAION's ViT-bigG-14 and ViT-g-14 use
            `int(4.9231 * hidden_dim)`.
        use_projection_bias: bool, give the output projection a bias.
        output_tokens: bool, also return the token sequence (see Returns).
        patch_dropout: float in [0, 1): in training only, keep a random
            `round((1 - patch_dropout) * num_patches)` of the patch tokens
            (the class token always), per example, after the position
            embeddings (FLIP; open_clip's `patch_dropout`); the identity at
            inference. In training the returned `"tokens"` are the kept ones.

    Call arguments:
        images: float `(batch, image_size, image_size, 3)`, channels last,
            already preprocessed (e.g. normalised with CLIP's mean and std by
            `kerasmm.models.CLIPPreprocessor`); integer images are refused.
        training: Python bool.

    Returns:
        `(batch, output_dim)` image features; with `output_tokens=True` a
        dict `{"pooled": (batch, output_dim), "tokens": (batch,
        num_patches, hidden_dim)}`: the pooled features and the patch tokens
        after `ln_post` (the class token left out), as open_clip returns
        them.

    Example:
    >>> encoder = VisionTransformer(image_size=32, patch_size=8, hidden_dim=16,
    ...                             num_layers=2, num_heads=2, output_dim=8)
    >>> tuple(encoder(keras.random.normal((2, 32, 32, 3))).shape)
    (2, 8)
    >>> encoder = VisionTransformer(image_size=32, patch_size=8, hidden_dim=16,
    ...                             num_layers=2, num_heads=2, output_dim=8,
    ...                             intermediate_dim=40, output_tokens=True)
    >>> outputs = encoder(keras.random.normal((2, 32, 32, 3)))
    >>> tuple(outputs["pooled"].shape), tuple(outputs["tokens"].shape)
    ((2, 8), (2, 16, 16))

    Reference:
        Radford et al., "Learning Transferable Visual Models From Natural
        Language Supervision", 2021; github.com/openai/CLIP `clip/model.py`.
    """

    def __init__(self, image_size=224, patch_size=32, hidden_dim=768,
                 num_layers=12, num_heads=12, output_dim=512,
                 activation="quick_gelu", layer_norm_epsilon=1e-5, remat=False,
                 intermediate_dim=None, use_projection_bias=False,
                 output_tokens=False, patch_dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_tower_args(num_heads, "hidden_dim", hidden_dim, activation,
                         image_size=image_size, patch_size=patch_size,
                         num_layers=num_layers, output_dim=output_dim)
        layer_norm_epsilon, use_projection_bias, output_tokens = check_transformer_args(
            layer_norm_epsilon, intermediate_dim, use_projection_bias, output_tokens)
        if image_size % patch_size:
            raise ValueError(
                "image_size must be divisible by patch_size. Received: "
                f"image_size={image_size}, patch_size={patch_size}"
            )
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.output_dim = output_dim
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.remat = check_remat(remat)
        self.intermediate_dim = intermediate_dim
        self.use_projection_bias = use_projection_bias
        self.output_tokens = output_tokens
        self.num_patches = (image_size // patch_size) ** 2
        # OpenAI initialises class token, positions and projection with
        # N(0, width ** -0.5).
        scale = hidden_dim ** -0.5
        dtype = self.dtype_policy

        # === Layers ===
        self.patch_embedding = PatchEmbedding(
            patch_size, hidden_dim, use_bias=False, name="patch_embedding",
            dtype=dtype)
        self.position_embedding = LearnedPositionEmbedding(
            self.num_patches + 1, initializer=normal(scale),
            name="position_embedding", dtype=dtype)
        self._set_patch_dropout(patch_dropout, num_prefix_tokens=1)  # The class token.
        self.ln_pre = layer_norm(layer_norm_epsilon, "ln_pre", dtype)
        self.blocks = [
            SelfAttention(num_heads, widening_factor=4, activation=activation,
                          layer_norm_epsilon=layer_norm_epsilon,
                          intermediate_dim=intermediate_dim,
                          name=f"block_{i}", dtype=dtype)
            for i in range(num_layers)
        ]
        self.ln_post = layer_norm(layer_norm_epsilon, "ln_post", dtype)
        self.projection = keras.layers.Dense(
            output_dim, use_bias=use_projection_bias, kernel_initializer=normal(scale),
            name="projection", dtype=dtype)
        self.build((None, image_size, image_size, 3))

    def build(self, input_shape):
        if self.built:
            return
        self._check_images(input_shape)
        self.patch_embedding.build((None, self.image_size, self.image_size, 3))
        self.class_embedding = self.add_weight(
            shape=(self.hidden_dim,), initializer=normal(self.hidden_dim ** -0.5),
            name="class_embedding")
        sequence_shape = (None, self.num_patches + 1, self.hidden_dim)
        self.position_embedding.build(sequence_shape)
        self.ln_pre.build(sequence_shape)
        for block in self.blocks:
            block.build(sequence_shape)
        self.ln_post.build((None, self.hidden_dim))
        self.projection.build((None, self.hidden_dim))

    def call(self, images, training=None):
        self._check_images(images.shape, images.dtype)
        x = self.patch_embedding(ops.cast(images, self.compute_dtype))
        batch = ops.shape(x)[0]
        class_token = ops.cast(self.class_embedding, x.dtype)
        class_token = ops.broadcast_to(class_token[None, None, :],
                                       (batch, 1, self.hidden_dim))
        x = ops.concatenate([class_token, x], axis=1)
        x = x + self.position_embedding(x)
        x = self._drop_patches(x, training)
        x = self.ln_pre(x)
        if self.output_tokens:
            for block in self.blocks:
                x = maybe_remat(block, self.remat)(x, training=training)
            x = self.ln_post(x)
            return {"pooled": self.projection(x[:, 0, :]), "tokens": x[:, 1:, :]}
        for block in self.blocks[:-1]:
            x = maybe_remat(block, self.remat)(x, training=training)
        # Only the class token is read: the last block computes it alone.
        x = maybe_remat(self.blocks[-1], self.remat)(
            x, training=training, query_index=ops.zeros((batch,), "int32"))
        return self.projection(self.ln_post(x[:, 0, :]))

    @property
    def pooled_dim(self):
        """The width of the pooled vector."""
        return self.output_dim

    def get_config(self):
        config = super().get_config()
        config.update({
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            **transformer_config(self),
            "patch_dropout": self.patch_dropout,
        })
        return config
