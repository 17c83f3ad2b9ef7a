"""The two-layer MLP of transformer blocks."""

import keras

from kerasmm.layers.activations import get_activation
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rate


@keras.saving.register_keras_serializable(package="kerasmm")
class MLP(keras.layers.Layer):
    """Dense(hidden) -> activation -> Dense(output) -> dropout.

    Args:
        hidden_dim: width of the hidden layer.
        output_dim: output width; defaults to the input's width.
        activation: activation name or callable (`"quick_gelu"` for CLIP).
        dropout: dropout rate on the output.
    """

    def __init__(self, hidden_dim, output_dim=None, activation="gelu",
                 dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("hidden_dim", hidden_dim)
        check_positive_int("output_dim", output_dim, allow_none=True)
        check_rate("dropout", dropout)
        get_activation(activation)
        self.hidden_dim = hidden_dim
        self.output_dim = output_dim
        self.activation = activation
        self.dropout = dropout
        self._activation_fn = get_activation(activation)
        self._dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        self.dense_1 = keras.layers.Dense(self.hidden_dim, name="dense_1",
                                          dtype=self.dtype_policy)
        self.dense_1.build(input_shape)
        self.dense_2 = keras.layers.Dense(self.output_dim or input_shape[-1],
                                          name="dense_2", dtype=self.dtype_policy)
        self.dense_2.build(tuple(input_shape[:-1]) + (self.hidden_dim,))

    def call(self, x, training=None):
        x = self._activation_fn(self.dense_1(x))
        return self._dropout(self.dense_2(x), training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim or input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim, "output_dim": self.output_dim,
                       "activation": self.activation, "dropout": self.dropout})
        return config
