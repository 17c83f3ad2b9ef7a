"""The ViT of open_clip's CoCa: every token of the last block, before any norm."""

import keras
from keras import ops

from kerasmm.models.clip.vision_transformer import VisionTransformer


@keras.saving.register_keras_serializable(package="kerasmm")
class CoCaVisionTransformer(VisionTransformer):
    """CLIP's ViT trunk returning all its tokens, as open_clip's CoCa reads them.

    open_clip's CoCa (`attentional_pool=True`) pools the output of the last
    block, the class token first, with its `AttentionalPooler`, and only
    then applies `ln_post` and `proj`, to the pooled queries. This tower is
    `kerasmm.models.VisionTransformer` (patchify, class token, positions,
    `ln_pre`, blocks; the same weights and names) without `ln_post` and
    `projection`, which `kerasmm.models.CoCa(shared_pooler=True)` holds
    instead (`image_norm`, `image_projection`).

    Args:
        image_size, patch_size, hidden_dim, num_layers, num_heads, activation,
        layer_norm_epsilon, remat, intermediate_dim, patch_dropout: as
            `kerasmm.models.VisionTransformer`.

    Call arguments:
        images: float `(batch, image_size, image_size, 3)`, preprocessed.
        training: Python bool.

    Returns:
        `(batch, num_patches + 1, hidden_dim)`: the class token, then the
        patch tokens (the kept ones under patch dropout in training).

    Example:
    >>> tower = CoCaVisionTransformer(image_size=16, patch_size=8, hidden_dim=8,
    ...                               num_layers=1, num_heads=2)
    >>> tuple(tower(np.zeros((2, 16, 16, 3))).shape)
    (2, 5, 8)
    >>> sorted({w.path.split("/")[1] for w in tower.weights} & {"ln_post", "projection"})
    []
    """

    def __init__(self, image_size=224, patch_size=32, hidden_dim=768, num_layers=12,
                 num_heads=12, activation="gelu", layer_norm_epsilon=1e-5, remat=False,
                 intermediate_dim=None, patch_dropout=0.0, **kwargs):
        # What VisionTransformer's get_config writes and this tower fixes.
        for name in ("output_dim", "output_tokens", "use_projection_bias"):
            kwargs.pop(name, None)
        super().__init__(image_size=image_size, patch_size=patch_size,
                         hidden_dim=hidden_dim, num_layers=num_layers, num_heads=num_heads,
                         output_dim=hidden_dim, activation=activation,
                         layer_norm_epsilon=layer_norm_epsilon, remat=remat,
                         intermediate_dim=intermediate_dim, output_tokens=True,
                         patch_dropout=patch_dropout, **kwargs)

    def build(self, input_shape):
        if not self.built:
            # No weights here: CoCa norms and projects the pooled queries.
            del self.ln_post, self.projection
            self.ln_post = keras.layers.Identity(name="ln_post", dtype=self.dtype_policy)
            self.projection = keras.layers.Identity(name="projection",
                                                    dtype=self.dtype_policy)
        super().build(input_shape)

    def call(self, images, training=None):
        outputs = super().call(images, training=training)
        return ops.concatenate([outputs["pooled"][:, None, :], outputs["tokens"]], axis=1)

    def compute_output_shape(self, input_shape):
        self._check_images(input_shape)
        return (input_shape[0], self.num_patches + 1, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        for name in ("output_dim", "output_tokens", "use_projection_bias"):
            config.pop(name, None)
        return config
