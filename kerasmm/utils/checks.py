"""Argument checks: the one home of kerasmm's validation helpers.

Every check takes the argument's name first, then its value, and raises a
`ValueError` (a `TypeError` where the type is wrong in a way no value could
fix) that names the argument and the value received, in Keras' style:
`"num_heads must be a positive integer. Received: num_heads=0"`.
Checks that normalise return the value in its canonical form.
"""

import math
import numbers

import numpy as np


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(name, value, minimum=None, allow_none=False):
    """`value` as an int; raises unless it is an int >= `minimum`."""
    if value is None and allow_none:
        return None
    if not _is_int(value) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        none = "None or " if allow_none else ""
        raise ValueError(f"{name} must be {none}an integer{bound}. Received: {name}={value!r}")
    return int(value)


def check_positive_int(name, value, allow_none=False):
    """`value` as an int; raises unless it is a positive int (or allowed None)."""
    if value is None and allow_none:
        return None
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_int_tuple(name, value):
    """`value` (an int or a non-empty sequence of ints) as a tuple of positive ints."""
    values = (value,) if _is_int(value) else value
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    if not values or any(not _is_int(v) or v <= 0 for v in values):
        raise ValueError(
            f"{name} must be a positive integer or a non-empty sequence of "
            f"positive integers. Received: {name}={value!r}"
        )
    return tuple(int(v) for v in values)


def check_number(name, value, minimum=None, exclusive_minimum=False, allow_none=False):
    """`value` as a float; raises unless it is a finite real number in range.

    `minimum` is inclusive unless `exclusive_minimum`: `check_number("epsilon",
    e, minimum=0, exclusive_minimum=True)` accepts only `e > 0`.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number. Received: {name}={value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite. Received: {name}={value!r}")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        bound = f"> {minimum}" if exclusive_minimum else f">= {minimum}"
        raise ValueError(f"{name} must be {bound}. Received: {name}={value!r}")
    return float(value)


def check_fraction(name, value):
    """A share or a probability: a number in [0, 1], as a float."""
    fraction = check_number(name, value, minimum=0)
    if fraction > 1:
        raise ValueError(f"{name} must be in [0, 1]. Received: {name}={value}")
    return fraction


def check_rate(name, value):
    """A dropout-style rate in [0, 1)."""
    value = check_number(name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1). Received: {name}={value}")
    return value


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool. Received: {name}={value!r}")
    return bool(value)


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}. Received: {name}={value!r}")
    return value


def check_divisible(name, value, divisor_name, divisor):
    """Raises unless `divisor` divides `value` (a None `value` passes)."""
    if value is not None and value % divisor:
        raise ValueError(
            f"{name} must be divisible by {divisor_name}. Received: {name}={value}, "
            f"{divisor_name}={divisor}"
        )


def check_strings(name, values, placeholder=False):
    """A non-empty list or tuple of strings (each holding `{}` if `placeholder`)."""
    if isinstance(values, str) or not isinstance(values, (list, tuple)) or not values:
        raise ValueError(
            f"{name} must be a non-empty list of strings. Received: {name}={values!r}"
        )
    for value in values:
        if not isinstance(value, str) or (placeholder and "{}" not in value):
            need = " holding '{}' where the class name goes" if placeholder else ""
            raise ValueError(f"Each entry of {name} must be a string{need}. Received: {value!r}")
    return list(values)


def check_rgb(name, value, allow_none=True):
    """None or three numbers, one per RGB channel (a mean or std), as a tuple."""
    if value is None and allow_none:
        return None
    try:
        values = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise ValueError(
            f"{name} must be None or 3 finite numbers (one per RGB channel). "
            f"Received: {name}={value!r}"
        )
    return values


def check_layer(name, value):
    """A Keras layer or model (imported lazily: this module stays Keras-free)."""
    import keras

    if not isinstance(value, keras.layers.Layer):
        raise ValueError(
            f"{name} must be a Keras layer or model. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    return value


# === Shapes (static shapes; a None dimension always passes) ===


def check_rank(name, shape, rank):
    if len(shape) != rank:
        raise ValueError(
            f"{name} must have rank {rank}. Received: {name} with shape {tuple(shape)}"
        )


def check_min_rank(name, shape, rank):
    if len(shape) < rank:
        raise ValueError(
            f"{name} must have rank >= {rank}. Received: {name} with shape {tuple(shape)}"
        )


def check_mask(name, mask_shape, batch_and_length):
    """A `(batch, length)` mask against the static `(B, L)` of what it masks."""
    shape = tuple(mask_shape)
    if len(shape) != 2 or any(
        a is not None and b is not None and a != b for a, b in zip(shape, batch_and_length)
    ):
        raise ValueError(
            f"{name} must have shape (batch, length) = {tuple(batch_and_length)}. "
            f"Received: {name} with shape {shape}"
        )


def check_same_batch(names, shapes):
    """Raises when the static batch sizes of `shapes` (named `names`) differ."""
    known = [(n, s[0]) for n, s in zip(names, shapes) if len(s) and s[0] is not None]
    if len({b for _, b in known}) > 1:
        received = ", ".join(f"{n} batch={b}" for n, b in known)
        raise ValueError(f"{', '.join(names)} must have the same batch size. Received: {received}")


# === Image batches ===

IMAGE_PREPROCESSOR_HINT = (
    "Models take preprocessed float images (resized and normalised as their "
    "weights expect); use the preset's preprocessor, e.g. "
    "`kerasmm.models.CLIPPreprocessor.from_preset(...)`, which accepts uint8 "
    "0-255 or float 0-1 pictures"
)


def check_images(name, shape, expected, setting, dtype=None):
    """A channels-last image (or video) batch: the library's one image check.

    Raises unless the static `shape` is `(batch, *expected)` (`expected` is
    the shape without its batch axis, e.g. `(224, 224, 3)`; a None entry on
    either side matches any size) and, when `dtype` is given, unless it is a
    float dtype: an integer batch (uint8 pictures) would silently be read as
    raw 0-255 values, so it is refused with the fix. `setting` names what
    fixed `expected`, e.g. `"image_size=224"`.
    """
    shape, expected = tuple(shape), tuple(expected)
    if len(shape) != len(expected) + 1 or any(
        d is not None and e is not None and d != e for d, e in zip(shape[1:], expected)
    ):
        dims = ", ".join("None" if e is None else str(e) for e in expected)
        raise ValueError(
            f"{name} must have shape (batch, {dims}) for {setting}. "
            f"Received: {name} with shape {shape}"
        )
    if dtype is not None:
        import keras

        dtype = keras.backend.standardize_dtype(dtype)
        if "float" not in dtype:
            raise ValueError(
                f"{name} must be a float batch. {IMAGE_PREPROCESSOR_HINT}. "
                f"Received: {name} with dtype {dtype}"
            )
