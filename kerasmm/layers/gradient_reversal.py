"""Gradient reversal (Ganin & Lempitsky, 2015)."""

import keras
from keras import ops

from kerasmm.utils.checks import check_number


@keras.saving.register_keras_serializable(package="kerasmm")
class GradientReversal(keras.layers.Layer):
    """Identity forward; multiplies the gradient by `-lambda_` backward.

    Placed between a feature extractor and a domain (or modality)
    discriminator, it lets one optimiser step train the discriminator to
    tell the domains apart while pushing the features to make that
    impossible: the features receive the discriminator's gradient reversed
    and scaled by `lambda_`.

    The output is `x_s + (-lambda_) * (x - x_s)` with `x_s =
    stop_gradient(x)`: `x - x_s` is exactly 0, so the output equals `x` bit
    for bit (finite inputs), while its derivative is `-lambda_`. It is plain
    `keras.ops`, so it works on every backend, under XLA and in mixed
    precision.

    `lambda_` is kept in a non-trainable scalar weight, `self.current_lambda`:
    Ganin & Lempitsky raise it from 0 to 1 during training
    (`2 / (1 + exp(-10 p)) - 1` at progress `p`), which a callback does with
    `layer.current_lambda.assign(value)` without retracing the train step
    (on JAX, assign between epochs: `fit` holds the variables' values in
    its state during an epoch).

    Args:
        lambda_: float >= 0, the initial gradient scale (0 blocks the
            gradient, 1 reverses it unscaled).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of any shape.

    Example:

    >>> layer = GradientReversal(lambda_=0.5)
    >>> x = keras.ops.convert_to_tensor([1.0, -2.0, 3.0])
    >>> keras.ops.convert_to_numpy(layer(x))
    array([ 1., -2.,  3.], dtype=float32)
    >>> float(keras.ops.convert_to_numpy(layer.current_lambda))
    0.5

    Reference:
        - [Ganin & Lempitsky, 2015](https://arxiv.org/abs/1409.7495)
    """

    def __init__(self, lambda_=1.0, **kwargs):
        super().__init__(**kwargs)
        self.lambda_ = check_number("lambda_", lambda_, minimum=0)
        self.current_lambda = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.lambda_),
            trainable=False, name="lambda")
        self.supports_masking = True

    def call(self, inputs):
        stopped = ops.stop_gradient(inputs)
        scale = ops.cast(-self.current_lambda, inputs.dtype)
        return stopped + scale * (inputs - stopped)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"lambda_": self.lambda_})
        return config
