"""Small helpers shared by the CLIP towers and the CLIP model."""

import keras
from keras import ops

from kerasmm.layers.activations import get_activation
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int

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


def check_transformer_args(layer_norm_epsilon, intermediate_dim, use_projection_bias,
                           output_tokens):
    """Validates the arguments the two transformer towers share; returns
    them normalised (`layer_norm_epsilon` as a float, the flags as bools)."""
    check_positive_int("intermediate_dim", intermediate_dim, allow_none=True)
    return (check_number("layer_norm_epsilon", layer_norm_epsilon, minimum=0,
                         exclusive_minimum=True),
            check_bool("use_projection_bias", use_projection_bias),
            check_bool("output_tokens", output_tokens))


# Constructor arguments both transformer towers take, stored under their names.
TRANSFORMER_ARGS = ("hidden_dim", "num_layers", "num_heads", "output_dim", "activation",
                    "layer_norm_epsilon", "remat", "intermediate_dim",
                    "use_projection_bias", "output_tokens")


def transformer_config(tower):
    """The `TRANSFORMER_ARGS` part of a tower's `get_config`."""
    return {name: getattr(tower, name) for name in TRANSFORMER_ARGS}


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
