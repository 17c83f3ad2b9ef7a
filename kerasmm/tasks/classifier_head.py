"""`ClassifierHead`: ViLT's classifier (dense, LayerNorm, GELU, dense)."""

import keras
from keras import ops

from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasmm")
class ClassifierHead(keras.layers.Layer):
    """`Dense(hidden_dim) -> LayerNorm -> GELU (exact) -> Dense(num_outputs)`.

    The classifier of Hugging Face's `ViltForQuestionAnswering` and
    `ViltForImagesAndTextClassification`.

    Args:
        hidden_dim: int, width of the hidden layer.
        num_outputs: int, number of logits.
        layer_norm_epsilon: float > 0 (torch's `nn.LayerNorm` default).

    Example:
    >>> head = ClassifierHead(hidden_dim=8, num_outputs=3)
    >>> tuple(head(keras.random.normal((2, 4))).shape)
    (2, 3)
    """

    def __init__(self, hidden_dim, num_outputs, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.num_outputs = check_positive_int("num_outputs", num_outputs)
        self.layer_norm_epsilon = check_number("layer_norm_epsilon", layer_norm_epsilon,
                                               minimum=0, exclusive_minimum=True)
        dtype = self.dtype_policy
        self.dense_1 = keras.layers.Dense(hidden_dim, name="dense_1", dtype=dtype)
        self.norm = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="norm",
                                                    dtype=dtype)
        self.dense_2 = keras.layers.Dense(num_outputs, name="dense_2", dtype=dtype)

    def build(self, input_shape):
        self.dense_1.build(input_shape)
        hidden = tuple(input_shape[:-1]) + (self.hidden_dim,)
        self.norm.build(hidden)
        self.dense_2.build(hidden)

    def call(self, x):
        x = keras.activations.gelu(self.norm(self.dense_1(x)), approximate=False)
        return ops.cast(self.dense_2(x), "float32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_outputs,)

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim,
                "num_outputs": self.num_outputs,
                "layer_norm_epsilon": self.layer_norm_epsilon}
