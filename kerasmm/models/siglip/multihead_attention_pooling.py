"""SigLIP's attention-pooling head "MAP": a learned probe attends to the tokens."""

import keras
from keras import ops

from kerasmm.layers import MLP
from kerasmm.layers import MultiHeadAttention
from kerasmm.layers.activations import get_activation
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank


@keras.saving.register_keras_serializable(package="kerasmm")
class MultiheadAttentionPooling(keras.layers.Layer):
    """Pools a token sequence into one vector with a learned query (MAP).

    A learned probe `(1, 1, width)` attends to the tokens (multi-head
    attention with biases on the q/k/v/output projections, as
    `torch.nn.MultiheadAttention`), then a residual MLP on the normalised
    result: `h = attend(probe, x)`, `h + MLP(LayerNorm(h))`. The head of
    SigLIP's vision tower (big_vision's `MAPHead`, Hugging Face's
    `SiglipMultiheadAttentionPoolingHead`). The tokens are not normalised
    here (SigLIP's tower applies its post-LayerNorm before).

    Weights and their Hugging Face names: `probe`, `attention/{query,key,
    value}` (`attention.in_proj_weight` / `in_proj_bias` split in three),
    `attention/output` (`attention.out_proj`), `layer_norm` (`layernorm`),
    `mlp/dense_1`, `mlp/dense_2` (`mlp.fc1`, `mlp.fc2`).

    Args:
        num_heads: int, attention heads; must divide the tokens' width.
        intermediate_dim: int, hidden width of the MLP.
        activation: MLP activation; SigLIP's is `"gelu_approximate"`
            (PyTorch's `gelu_pytorch_tanh`).
        layer_norm_epsilon: float > 0, epsilon of the LayerNorm.

    Call arguments:
        x: `(batch, length, width)` tokens.

    Returns:
        `(batch, width)`.

    Example:
    >>> pooling = MultiheadAttentionPooling(num_heads=2, intermediate_dim=32)
    >>> tuple(pooling(keras.random.normal((3, 5, 8))).shape)
    (3, 8)

    Reference:
        Zhai et al., "Scaling Vision Transformers", 2022 (MAP head); Zhai
        et al., "Sigmoid Loss for Language Image Pre-Training", 2023.
    """

    def __init__(self, num_heads, intermediate_dim, activation="gelu_approximate",
                 layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("intermediate_dim", intermediate_dim)
        get_activation(activation)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.layer_norm_epsilon = check_number(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0, exclusive_minimum=True)

    def build(self, input_shape):
        check_rank("x", input_shape, 3)
        width = input_shape[-1]
        if width is None or width % self.num_heads:
            raise ValueError(f"num_heads must divide the width of x. Received: "
                             f"num_heads={self.num_heads}, x with shape {tuple(input_shape)}")
        dtype = self.dtype_policy
        self.probe = self.add_weight(
            shape=(1, 1, width), initializer=keras.initializers.GlorotUniform(),
            name="probe")
        self.attention = MultiHeadAttention(self.num_heads, output_channels=width,
                                            name="attention", dtype=dtype)
        self.attention.build((None, 1, width), input_shape)
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="layer_norm", dtype=dtype)
        self.layer_norm.build((None, 1, width))
        self.mlp = MLP(self.intermediate_dim, activation=self.activation, name="mlp",
                       dtype=dtype)
        self.mlp.build((None, 1, width))

    def call(self, x):
        probe = ops.cast(self.probe, x.dtype)
        probe = ops.broadcast_to(probe, (ops.shape(x)[0], 1, x.shape[-1]))
        h = self.attention(probe, x)
        return (h + self.mlp(self.layer_norm(h)))[:, 0, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config
