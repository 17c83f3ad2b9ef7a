"""BLIP's image tower (Hugging Face `modeling_blip.py: BlipVisionModel`)."""

import keras
from keras import ops

from kerasmm.layers import LearnedPositionEmbedding
from kerasmm.layers import PatchEmbedding
from kerasmm.layers import SelfAttention
from kerasmm.models.clip.clip_utils import check_tower_args
from kerasmm.models.clip.clip_utils import layer_norm
from kerasmm.models.clip.clip_utils import normal
from kerasmm.utils.checks import check_images
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_rate


@keras.saving.register_keras_serializable(package="kerasmm")
class BLIPVisionEncoder(keras.Model):
    """BLIP's ViT: the image tokens its text decoder and encoder attend to.

    As Hugging Face's `BlipVisionModel`: a `Conv2D` patchify with bias, a
    learned class token prepended to the patches, learned positions
    (`num_patches + 1` rows), `num_layers` pre-LN blocks
    (`kerasmm.layers.SelfAttention`, exact GELU MLP) and `ln_post` over the
    whole sequence. There is no LayerNorm before the blocks (CLIP has one)
    and no projection: the output is the token sequence.

    Args:
        image_size: int, side of the square input images (384 for BLIP).
        patch_size: int, side of the square patches; must divide `image_size`.
        hidden_dim: int, width of the transformer.
        num_layers: int, number of transformer blocks.
        num_heads: int, attention heads; must divide `hidden_dim`.
        intermediate_dim: int, hidden width of each block's MLP.
        activation: MLP activation (`"gelu"`, the exact form, for BLIP).
        layer_norm_epsilon: float > 0, epsilon of every LayerNorm.
        dropout: float in [0, 1), attention-weight dropout (HF's
            `attention_dropout`).

    Call arguments:
        images: float `(batch, image_size, image_size, 3)`, channels last,
            preprocessed (`kerasmm.models.BLIPPreprocessor`).
        training: Python bool.

    Returns:
        `(batch, num_patches + 1, hidden_dim)`: the class token then the
        patch tokens, after `ln_post` (HF's `last_hidden_state`).

    Example:
    >>> encoder = BLIPVisionEncoder(image_size=32, patch_size=8, hidden_dim=16,
    ...                             num_layers=1, num_heads=2, intermediate_dim=32)
    >>> tuple(encoder(keras.random.normal((2, 32, 32, 3))).shape)
    (2, 17, 16)

    Reference:
        Li et al., "BLIP: Bootstrapping Language-Image Pre-training for
        Unified Vision-Language Understanding and Generation", 2022.
    """

    def __init__(self, image_size=384, patch_size=16, hidden_dim=768, num_layers=12,
                 num_heads=12, intermediate_dim=3072, activation="gelu",
                 layer_norm_epsilon=1e-5, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_tower_args(num_heads, "hidden_dim", hidden_dim, activation,
                         image_size=image_size, patch_size=patch_size,
                         num_layers=num_layers, intermediate_dim=intermediate_dim)
        if image_size % patch_size:
            raise ValueError("image_size must be divisible by patch_size. Received: "
                             f"image_size={image_size}, patch_size={patch_size}")
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.layer_norm_epsilon = check_number(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0, exclusive_minimum=True)
        self.dropout = check_rate("dropout", dropout)
        self.num_patches = (image_size // patch_size) ** 2
        dtype = self.dtype_policy

        # === Layers ===
        self.patch_embedding = PatchEmbedding(patch_size, hidden_dim, use_bias=True,
                                              name="patch_embedding", dtype=dtype)
        self.position_embedding = LearnedPositionEmbedding(
            self.num_patches + 1, initializer=normal(0.02), name="position_embedding",
            dtype=dtype)
        self.blocks = [
            SelfAttention(num_heads, activation=activation, intermediate_dim=intermediate_dim,
                          attention_dropout=dropout, layer_norm_epsilon=layer_norm_epsilon,
                          name=f"block_{i}", dtype=dtype)
            for i in range(num_layers)
        ]
        self.ln_post = layer_norm(layer_norm_epsilon, "ln_post", dtype)
        self.build((None, image_size, image_size, 3))

    def _check_images(self, shape, dtype=None):
        size = self.image_size
        check_images("images", shape, (size, size, 3), f"image_size={size}", dtype)

    def build(self, input_shape):
        if self.built:
            return
        self._check_images(input_shape)
        self.class_embedding = self.add_weight(
            shape=(self.hidden_dim,), initializer=normal(0.02), name="class_embedding")
        self.patch_embedding.build((None, self.image_size, self.image_size, 3))
        sequence_shape = (None, self.num_patches + 1, self.hidden_dim)
        self.position_embedding.build(sequence_shape)
        for block in self.blocks:
            block.build(sequence_shape)
        self.ln_post.build(sequence_shape)

    def call(self, images, training=None):
        self._check_images(images.shape, images.dtype)
        x = self.patch_embedding(ops.cast(images, self.compute_dtype))
        class_token = ops.cast(self.class_embedding, x.dtype)[None, None, :]
        class_token = ops.broadcast_to(class_token, (ops.shape(x)[0], 1, self.hidden_dim))
        x = ops.concatenate([class_token, x], axis=1)
        x = x + self.position_embedding(x)
        for block in self.blocks:
            x = block(x, training=training)
        return self.ln_post(x)

    def compute_output_spec(self, images, training=None):
        self._check_images(images.shape, images.dtype)
        return keras.KerasTensor((images.shape[0], self.num_patches + 1, self.hidden_dim),
                                 dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "image_size", "patch_size", "hidden_dim", "num_layers", "num_heads",
            "intermediate_dim", "activation", "layer_norm_epsilon", "dropout")})
        return config
