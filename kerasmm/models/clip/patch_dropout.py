"""Patch dropout (FLIP): train a ViT on a random subset of its patch tokens."""

import keras
from keras import ops

from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_rate


def kept_tokens(num_tokens, rate):
    """How many of `num_tokens` patch tokens patch dropout at `rate` keeps:
    `round((1 - rate) * num_tokens)`, at least 1."""
    return max(1, int(round((1.0 - rate) * num_tokens)))


@keras.saving.register_keras_serializable(package="kerasmm")
class PatchDropout(keras.layers.Layer):
    """Keeps a random subset of the patch tokens while training.

    FLIP (Li et al., 2023) and open_clip's `patch_dropout` drop a random
    fraction `rate` of a ViT's patch tokens in training, after the position
    embeddings are added: each example keeps its own random
    `round((1 - rate) * num_patches)` patches (at least one), in random
    order, which cuts the cost of every block by about `1 / (1 - rate)`
    and regularises. The first `num_prefix_tokens` tokens (the class
    token) are always kept, first. At inference (`training` not True) the
    layer is the identity.

    Args:
        rate: float in [0, 1), the fraction of patch tokens dropped.
        num_prefix_tokens: int >= 0, leading tokens always kept.
        seed: None or int, seed of the random subsets.

    Call arguments:
        tokens: `(batch, num_prefix_tokens + num_patches, dim)`.
        training: Python bool.

    Returns:
        `(batch, num_prefix_tokens + kept, dim)` in training, else `tokens`.

    Example:
    >>> layer = PatchDropout(0.5, num_prefix_tokens=1, seed=0)
    >>> tokens = keras.random.normal((2, 1 + 16, 8))
    >>> tuple(layer(tokens, training=True).shape), tuple(layer(tokens).shape)
    ((2, 9, 8), (2, 17, 8))

    Reference:
        Li et al., "Scaling Language-Image Pre-training via Masking", 2023;
        open_clip `transformer.py: PatchDropout`.
    """

    def __init__(self, rate, num_prefix_tokens=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate("rate", rate)
        self.num_prefix_tokens = check_int("num_prefix_tokens", num_prefix_tokens, minimum=0)
        self.seed = check_int("seed", seed, allow_none=True)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, tokens, training=None):
        if not training or self.rate == 0.0:
            return tokens
        prefix = tokens[:, :self.num_prefix_tokens]
        patches = tokens[:, self.num_prefix_tokens:]
        num_patches = patches.shape[1]
        keep = kept_tokens(num_patches, self.rate)
        noise = keras.random.uniform((ops.shape(patches)[0], num_patches),
                                     seed=self.seed_generator)
        _, indices = ops.top_k(noise, keep)
        kept = ops.take_along_axis(patches, ops.expand_dims(indices, -1), axis=1)
        return ops.concatenate([prefix, kept], axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape  # Inference; training shortens axis 1.

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "num_prefix_tokens": self.num_prefix_tokens,
                       "seed": self.seed})
        return config
