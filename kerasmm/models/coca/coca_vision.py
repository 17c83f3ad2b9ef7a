"""What CoCa needs from its vision encoder: tokens `(B, N, D)` and their width."""

import warnings

import keras
from keras import ops

from kerasmm.models.clip.clip_towers import input_shape
from kerasmm.utils.checks import check_images


def as_tokens(output):
    """Image tokens from an encoder's output: a tower's `"tokens"`, a rank-3
    tensor as is, or vectors `(B, D)` as one token `(B, 1, D)`."""
    if isinstance(output, dict):
        if "tokens" not in output:
            raise ValueError(
                "vision_encoder returns a dict without 'tokens': build a kerasmm tower "
                f"with output_tokens=True. Received: keys {sorted(output)}")
        output = output["tokens"]
    if len(output.shape) == 2:
        return ops.expand_dims(output, 1)
    if len(output.shape) != 3:
        raise ValueError("vision_encoder must return tokens (batch, tokens, width) or "
                         f"vectors (batch, width). Received: shape {tuple(output.shape)}")
    return output


def _image_shape(encoder):
    shape = input_shape(encoder)
    if shape is None:
        size = getattr(encoder, "image_size", None)
        shape = (None, size, size, 3) if isinstance(size, int) else (None, None, None, 3)
    return shape


def token_width(encoder):
    """The width of `encoder`'s tokens, from a symbolic call."""
    if not isinstance(encoder, keras.layers.Layer):
        raise TypeError("vision_encoder must be a Keras model or layer. Received: "
                        f"vision_encoder of type {type(encoder).__name__}")
    shape = _image_shape(encoder)
    was_built = encoder.built
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            output = encoder(keras.KerasTensor(shape, dtype="float32"))
    except Exception as error:  # Whatever a subclassed model raises.
        encoder.built = was_built
        raise ValueError(
            f"Cannot tell the token width of vision_encoder: a symbolic call on images "
            f"of shape {shape} failed. Build it first, e.g. "
            f"`vision_encoder.build((None, 224, 224, 3))`. Received: vision_encoder="
            f"{encoder.name!r}; the call raised: {error}") from error
    width = as_tokens(output).shape[-1]
    if width is None:
        raise ValueError("vision_encoder's token width must be static. Received: None")
    return width


def check_vision_inputs(encoder, images):
    """Rank-4 float images of the encoder's size (when known)."""
    shape = _image_shape(encoder)
    setting = f"the input shape of vision_encoder {encoder.name!r}"
    check_images("images", images.shape, shape[1:], setting, images.dtype)
