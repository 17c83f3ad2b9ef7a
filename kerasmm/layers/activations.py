"""Activations used by kerasmm blocks that Keras does not name."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasmm")
def quick_gelu(x):
    """CLIP's GELU approximation: `x * sigmoid(1.702 * x)`."""
    return x * ops.sigmoid(1.702 * x)


@keras.saving.register_keras_serializable(package="kerasmm")
def gelu_approximate(x):
    """Tanh-approximated GELU (the `jax.nn.gelu` default DeepMind uses)."""
    return keras.activations.gelu(x, approximate=True)


_ACTIVATIONS = {"quick_gelu": quick_gelu, "gelu_approximate": gelu_approximate}


def get_activation(name):
    """Returns the activation function for `name`.

    Accepts kerasmm's names (`"quick_gelu"`, `"gelu_approximate"`), any name
    `keras.activations.get` knows (`"gelu"` is the exact erf form), or a
    callable.
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(
            "activation must be a string or a callable. "
            f"Received: activation={name!r}"
        )
    if name in _ACTIVATIONS:
        return _ACTIVATIONS[name]
    try:
        return keras.activations.get(name)
    except ValueError:
        raise ValueError(
            "Unknown activation. Expected 'quick_gelu', 'gelu_approximate' or "
            f"a Keras activation name. Received: activation={name!r}"
        ) from None
