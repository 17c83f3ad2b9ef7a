"""What `kerasmm.models.CLIP` needs to know about its towers: widths and input shapes.

A tower is a kerasmm tower (its `output_dim`), a functional Keras model (its
`output_shape`) or any other Keras model, whose width is read from a symbolic
call on a `KerasTensor`.
"""

import warnings

import keras

from kerasmm.models.clip.modified_resnet import ModifiedResNet
from kerasmm.models.clip.text_transformer import TextTransformer
from kerasmm.models.clip.vision_transformer import VisionTransformer

# Towers that end in their own projection: CLIP adds none to them.
PROJECTED_TOWERS = (VisionTransformer, ModifiedResNet, TextTransformer)
IMAGE_TOWERS = (VisionTransformer, ModifiedResNet)
# What a symbolic call feeds a tower that is neither functional nor built:
# channels-last RGB images of any size, token ids of any length.
DEFAULT_INPUTS = {"vision_encoder": ((None, None, None, 3), "float32"),
                  "text_encoder": ((None, None), "int32")}


def _flat_shape(shape):
    """`shape` as a tuple if it is one tensor's shape, else None."""
    if isinstance(shape, (list, tuple)) and all(
            d is None or isinstance(d, int) for d in shape):
        return tuple(shape)
    return None


def input_shape(encoder):
    """The input shape of a functional or built one-input `encoder`, else None."""
    try:
        return _flat_shape(encoder.input_shape)  # Functional models.
    except (AttributeError, ValueError, RuntimeError, TypeError):
        pass
    config = encoder.get_build_config() if encoder.built else None
    return _flat_shape((config or {}).get("input_shape"))


def symbolic_output_shape(encoder, name):
    """The output shape of `encoder` (`name` a key of `DEFAULT_INPUTS`), from
    a symbolic call on a `KerasTensor` of the shape it was built with, else
    of the default shape."""
    shape, dtype = DEFAULT_INPUTS[name]
    shape = input_shape(encoder) or shape
    was_built = encoder.built
    try:
        with warnings.catch_warnings():
            if not was_built:  # A guess: Keras' warnings about its failure are noise.
                warnings.simplefilter("ignore", UserWarning)
            output = encoder(keras.KerasTensor(shape, dtype=dtype))
    except Exception as error:  # Whatever the subclass raises.
        # A failed trace may leave the model marked built without its weights.
        encoder.built = was_built
        example = "(None, 224, 224, 3)" if name == "vision_encoder" else "(None, 77)"
        raise ValueError(
            f"Cannot tell the output width of {name}: a symbolic call on inputs "
            f"of shape {shape} failed. Build it for your inputs first, e.g. "
            f"`{name}.build({example})`, or pass a functional Keras model or a "
            f"kerasmm tower. Received: {name}={encoder.name!r} of type "
            f"{type(encoder).__name__}; the call raised: {error}"
        ) from error
    return output.shape if hasattr(output, "shape") else output


def output_width(encoder, name):
    """The width of the vectors `encoder` returns; raises unless they are 2D.

    Read from a kerasmm tower's `output_dim`, a functional model's
    `output_shape`, and a symbolic call for any other (subclassed) model.
    """
    if not isinstance(encoder, keras.layers.Layer):
        raise TypeError(
            f"{name} must be a Keras model or layer. Received: {name} of "
            f"type {type(encoder).__name__}"
        )
    if isinstance(encoder, PROJECTED_TOWERS):
        return encoder.output_dim
    try:
        shape = encoder.output_shape
    except (AttributeError, ValueError, RuntimeError):
        shape = symbolic_output_shape(encoder, name)
    if not isinstance(shape, tuple) or len(shape) != 2 or shape[-1] is None:
        raise ValueError(
            f"{name} must map its inputs to vectors of shape (batch, width), "
            f"e.g. with pooling='avg'. Received: {name} output shape {shape}"
        )
    return shape[-1]
