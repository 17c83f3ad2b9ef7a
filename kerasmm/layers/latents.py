"""Trainable latent array (Perceiver latents, Perceiver IO output queries)."""

import keras
from keras import ops

from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_min_rank
from kerasmm.layers.position import default_initializer


@keras.saving.register_keras_serializable(package="kerasmm")
class LatentArray(keras.layers.Layer):
    """A trainable `(num_latents, latent_dim)` array, broadcast to a batch.

    The Perceiver's latent array and Perceiver IO's learned output queries
    (DeepMind creates both with `TrainablePositionEncoding`, a truncated
    normal of scale 0.02).

    Args:
        num_latents: number of latent vectors N.
        latent_dim: width D of each latent vector.
        initializer: initializer of the array. Defaults to a truncated normal
            with standard deviation 0.02, cut at two standard deviations.

    Call arguments:
        inputs: any tensor whose first dimension is the batch; only its batch
            size is used.

    Returns:
        `(batch, num_latents, latent_dim)` in the layer's compute dtype.

    Example:
    >>> inputs = keras.random.normal((3, 100, 6))
    >>> tuple(LatentArray(num_latents=8, latent_dim=16)(inputs).shape)
    (3, 8, 16)

    Reference:
        Jaegle et al., "Perceiver: General Perception with Iterative
        Attention", 2021.
    """

    def __init__(self, num_latents, latent_dim, initializer=None, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("num_latents", num_latents)
        check_positive_int("latent_dim", latent_dim)
        self.num_latents = num_latents
        self.latent_dim = latent_dim
        self.initializer = default_initializer(initializer)

    def build(self, input_shape):
        check_min_rank("inputs", input_shape, 1)
        self.latents = self.add_weight(
            shape=(self.num_latents, self.latent_dim),
            initializer=self.initializer, name="latents")

    def call(self, inputs):
        check_min_rank("inputs", inputs.shape, 1)
        latents = ops.cast(self.latents, self.compute_dtype)
        batch = ops.shape(inputs)[0]
        return ops.broadcast_to(latents[None],
                                (batch, self.num_latents, self.latent_dim))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_latents, self.latent_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_latents": self.num_latents,
            "latent_dim": self.latent_dim,
            "initializer": keras.initializers.serialize(self.initializer),
        })
        return config
