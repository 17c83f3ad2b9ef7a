"""`AttentionBlock`: what the pre-LayerNorm attention blocks share."""

import keras

from kerasmm.layers.activations import get_activation
from kerasmm.layers.mlp import MLP
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rate


def _resolve_qk(key_dim, qk_channels, num_heads):
    if key_dim is not None and qk_channels is not None:
        if key_dim * num_heads != qk_channels:
            raise ValueError(
                "Pass key_dim (per head) or qk_channels (total), not both "
                f"inconsistently. Received: key_dim={key_dim}, "
                f"qk_channels={qk_channels}, num_heads={num_heads}"
            )
    return qk_channels if key_dim is None else key_dim * num_heads


class AttentionBlock(keras.layers.Layer):
    """Arguments, norms, MLP and config shared by the pre-LN blocks
    (`CrossAttention`, `SelfAttention`); not used on its own."""

    def __init__(self, num_heads, key_dim=None, widening_factor=4, dropout=0.0,
                 qk_channels=None, v_channels=None, activation="gelu",
                 attention_dropout=0.0, layer_norm_epsilon=1e-5, intermediate_dim=None,
                 **kwargs):
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("intermediate_dim", intermediate_dim, allow_none=True)
        check_positive_int("key_dim", key_dim, allow_none=True)
        check_positive_int("widening_factor", widening_factor)
        check_positive_int("qk_channels", qk_channels, allow_none=True)
        check_positive_int("v_channels", v_channels, allow_none=True)
        check_rate("dropout", dropout)
        check_rate("attention_dropout", attention_dropout)
        get_activation(activation)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.widening_factor = widening_factor
        self.dropout = dropout
        self.qk_channels = qk_channels
        self.v_channels = v_channels
        self.activation = activation
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.intermediate_dim = intermediate_dim
        self._qk = _resolve_qk(key_dim, qk_channels, num_heads)
        self._dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def _norm(self, name, shape):
        layer = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name=name, dtype=self.dtype_policy)
        layer.build(shape)
        return layer

    def _mlp(self, shape):
        # An explicit width: LAION's ViT-bigG-14 MLP is int(4.9231 * width).
        hidden_dim = self.intermediate_dim or self.widening_factor * shape[-1]
        layer = MLP(hidden_dim, activation=self.activation,
                    dropout=self.dropout, name="mlp", dtype=self.dtype_policy)
        layer.build(shape)
        return layer

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "widening_factor": self.widening_factor,
            "dropout": self.dropout,
            "qk_channels": self.qk_channels,
            "v_channels": self.v_channels,
            "activation": self.activation,
            "attention_dropout": self.attention_dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "intermediate_dim": self.intermediate_dim,
        })
        return config
