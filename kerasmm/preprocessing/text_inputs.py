"""What the tokenizers accept as text: one function, one set of errors."""

import numpy as np
import tensorflow as tf

from kerasmm.utils.tensor_checks import check_utf8


def string_tensor(name, inputs, require_utf8=True):
    """`(texts, scalar)`: `inputs` as a `tf.string` tensor of rank 0 or 1.

    Accepts a str or bytes, a list or tuple of them, a numpy array of them,
    or a `tf.string` tensor of rank 0 or 1 (eager or symbolic). A `str` is
    encoded as UTF-8 (one holding a lone surrogate is refused); with
    `require_utf8`, bytes and string tensors must be valid UTF-8 too
    (`kerasmm.utils.tensor_checks.check_utf8`). `scalar` is True for a
    single text.
    """
    if not isinstance(inputs, tf.Tensor):
        array = isinstance(inputs, np.ndarray) and inputs.dtype.kind in "OSU"
        scalar = isinstance(inputs, (str, bytes)) or (array and inputs.ndim == 0)
        items = inputs.reshape(-1).tolist() if array and inputs.ndim <= 1 else inputs
        items = [items] if isinstance(items, (str, bytes)) else items
        if not isinstance(items, (list, tuple)) or not all(
            isinstance(t, (str, bytes)) for t in items
        ):
            raise TypeError(
                f"{name} must be a str, a list of str or a string tensor of "
                f"rank 0 or 1. Received: {name}={inputs!r:.80}"
            )
        check_utf8(name, [t for t in items if require_utf8 or isinstance(t, str)])
        texts = [t.encode("utf-8") if isinstance(t, str) else t for t in items]
        texts = tf.constant(texts, dtype=tf.string, shape=[len(texts)])
        return (texts[0] if scalar else texts), scalar
    if inputs.dtype != tf.string or inputs.shape.rank not in (0, 1):
        raise ValueError(
            f"{name} must be a string tensor of rank 0 or 1. Received: "
            f"dtype={inputs.dtype.name}, shape={inputs.shape}"
        )
    if require_utf8:
        inputs = check_utf8(name, inputs)
    return inputs, inputs.shape.rank == 0
