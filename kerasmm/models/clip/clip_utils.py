"""Small helpers shared by the CLIP towers and the CLIP model."""

import keras
from keras import ops

from kerasmm.layers.activations import get_activation
from kerasmm.layers.multi_head_attention import check_positive_int

# torch.nn.functional.normalize's default epsilon (on the norm).
_NORM_EPSILON = 1e-12


def check_tower_args(num_heads, width_name, width, activation=None, **ints):
    """Validates the integer arguments of a tower and the head split."""
    for name, value in {"num_heads": num_heads, width_name: width, **ints}.items():
        check_positive_int(name, value)
    if width % num_heads:
        raise ValueError(
            f"num_heads must divide {width_name}. Received: "
            f"num_heads={num_heads}, {width_name}={width}"
        )
    if activation is not None:
        get_activation(activation)


def normal(stddev):
    return keras.initializers.RandomNormal(stddev=stddev)


def layer_norm(epsilon, name, dtype):
    return keras.layers.LayerNormalization(epsilon=epsilon, name=name, dtype=dtype)


def l2_normalize(x):
    """`x / max(||x||, 1e-12)` along the last axis, computed in float32.

    Under mixed precision the squared norm of a float16 vector overflows
    easily, so the features are cast to float32 first (the result stays
    float32).
    """
    x = ops.cast(x, "float32")
    norm = ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True))
    return x / ops.maximum(norm, _NORM_EPSILON)
