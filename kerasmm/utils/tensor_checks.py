"""Checks of tensor *values*: the one module with backend-specific branches.

`kerasmm.utils.checks` validates arguments and static shapes; the checks
here look at the numbers inside a tensor (token ids in range, pixels in
range, a batch large enough), which are known only when the data flows:

- concrete values (eager calls, numpy, JAX outside `jit`, torch): checked
  in Python, raising a `ValueError` naming the argument, the allowed range
  and the values received;
- TensorFlow graphs (`tf.function`, `tf.data`, `fit` / `predict` on the
  TensorFlow backend): a `tf.debugging` assertion carrying the same
  message, which raises `tf.errors.InvalidArgumentError` when the step runs.
  XLA drops assertions: functions compiled with `jit_compile=True` (which
  Keras' `compile()` picks by default on a GPU) and TPU steps run unchecked.
  There no assertion is added at all, as XLA would only log
  `Ignoring Assert operator` at every compilation;
- JAX inside `jit` (so `fit` / `predict` on the JAX backend): values are
  abstract tracers and no data-dependent error can be raised; the check is
  skipped. Check such data before it reaches the model, or call the model
  once eagerly.

Symbolic `keras.KerasTensor`s (building a functional model) carry no
values: only their dtype is checked.

Each check returns its input (in TensorFlow graphs with the assertion as a
control dependency), so `x = check_...(name, x, ...)` guarantees the check
runs before `x` is used.
"""

import keras
import numpy as np


def _is_tf_graph_tensor(x):
    """True for a symbolic `tf.Tensor` (inside `tf.function` or `tf.data`)."""
    if not type(x).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return tf.is_symbolic_tensor(x)


def concrete_values(x):
    """`x` as a numpy array, or None when its values are not known yet
    (a Keras symbolic tensor, a tensor inside `tf.function` or `tf.data`,
    a JAX tracer)."""
    if isinstance(x, keras.KerasTensor) or _is_tf_graph_tensor(x):
        return None
    if keras.backend.backend() == "jax":
        import jax

        if isinstance(x, jax.core.Tracer):
            return None
    return np.asarray(keras.ops.convert_to_numpy(x) if not isinstance(
        x, (np.ndarray, np.generic, list, tuple, int, float)) else x)


def _dtype_name(x):
    dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    return keras.backend.standardize_dtype(dtype)


def _tf_assert(x, condition, message, data=()):
    """`x` with a control dependency on `tf.debugging.Assert(condition)`.

    Inside a function that XLA compiles, `x` itself: XLA drops assertions.
    """
    import tensorflow as tf

    if tf.__internal__.get_enclosing_xla_context() is not None:
        return x
    check = tf.debugging.Assert(condition, [message, *data], summarize=8)
    with tf.control_dependencies([check]):
        return tf.identity(x)


def check_values_in_range(name, x, minimum, maximum, description):
    """Raises unless every value of `x` lies in `[minimum, maximum]`.

    NaN is out of range. `description` says what `x` must be, e.g.
    `"integers in [0, vocabulary_size) = [0, 64)"`; the error reads
    `"<name> must be <description>. Received: values in [lo, hi]"`.
    Returns `x` (see the module docstring for graphs and JAX `jit`).
    """
    values = concrete_values(x)
    if values is not None:
        if values.size == 0:
            return x
        inside = np.all((values >= minimum) & (values <= maximum))
        if not inside:
            low, high = np.nanmin(values), np.nanmax(values)
            nan = ", NaN" if np.isnan(values).any() else ""
            raise ValueError(
                f"{name} must be {description}. Received: {name} with values "
                f"in [{low}, {high}]{nan}"
            )
        return x
    if not _is_tf_graph_tensor(x):
        return x  # A KerasTensor or a JAX tracer: nothing to check yet.
    import tensorflow as tf

    inside = tf.reduce_all(
        tf.logical_and(x >= tf.cast(minimum, x.dtype), x <= tf.cast(maximum, x.dtype))
    )
    message = f"{name} must be {description}. Received: {name} with min, max ="
    return _tf_assert(x, inside, message, (tf.reduce_min(x), tf.reduce_max(x)))


def check_token_ids(name, token_ids, vocabulary_size):
    """Raises unless `token_ids` are integers in `[0, vocabulary_size)`.

    Float (or bool) ids are refused, not truncated: a `ValueError` names
    the dtype. Values are checked as `check_values_in_range` does: eagerly,
    by a `tf.debugging` assertion in TensorFlow graphs, not inside JAX `jit`.

    Args:
        name: the argument's name for the message (`"token_ids"`).
        token_ids: a tensor, array or nested list of ids.
        vocabulary_size: int, one more than the largest valid id.

    Returns:
        `token_ids` (in a TensorFlow graph, with the assertion attached).

    Example:

    >>> check_token_ids("token_ids", np.array([[0, 5, 9]]), vocabulary_size=10).shape
    (1, 3)
    >>> check_token_ids("token_ids", np.array([[0, 10]]), vocabulary_size=10)
    Traceback (most recent call last):
    ...
    ValueError: token_ids must be integers in [0, vocabulary_size) = [0, 10). Received: token_ids with values in [0, 10]
    """
    dtype = _dtype_name(token_ids)
    if "int" not in dtype:
        raise ValueError(
            f"{name} must be an integer tensor (float ids would be truncated "
            f"to other tokens). Received: {name} with dtype {dtype}"
        )
    return check_values_in_range(
        name, token_ids, 0, vocabulary_size - 1,
        f"integers in [0, vocabulary_size) = [0, {vocabulary_size})",
    )


def check_batch_at_least(name, size, minimum, reason):
    """Raises unless the (possibly dynamic) batch size `size` is >= `minimum`.

    `size` is a Python int or a scalar tensor (`ops.shape(x)[0]` in a
    graph). Returns `size`, in a TensorFlow graph with an assertion
    attached.
    """
    value = concrete_values(size)
    if value is not None:
        if int(value) < minimum:
            raise ValueError(
                f"{name} must be at least {minimum}: {reason}. Received: "
                f"{name}={int(value)}"
            )
        return size
    if not _is_tf_graph_tensor(size):
        return size
    message = f"{name} must be at least {minimum}: {reason}. Received: {name} ="
    return _tf_assert(size, size >= minimum, message, (size,))


def static_size(size):
    """A batch size as a Python int when known now (statically or
    eagerly), else None."""
    if isinstance(size, (int, np.integer)):
        return int(size)
    value = concrete_values(size)
    return None if value is None else int(value)


def check_utf8(name, texts):
    """Raises unless every string of `texts` is valid UTF-8.

    `texts`: a str or bytes, a list of them, a numpy array of them, or a
    `tf.string` tensor. Concrete values raise a `ValueError` naming the
    encoding and the first bad string (a `str` holding a lone surrogate has
    no UTF-8 form either); a symbolic `tf.string` tensor (inside `tf.data`
    or `tf.function`) gets an assertion with the same message. Returns
    `texts`.
    """
    if _is_tf_graph_tensor(texts):
        import tensorflow as tf

        # Transcoding replaces each invalid sequence (and only those) with
        # U+FFFD, so a string changes exactly when it was invalid.
        fixed = tf.strings.unicode_transcode(
            texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        # The bad strings are shown as transcoded (U+FFFD at each invalid
        # sequence): the error message itself must be valid UTF-8.
        message = (f"{name} must be valid UTF-8 text. Received invalid "
                   "strings (each invalid byte sequence shown as U+FFFD):")
        flat, flat_fixed = tf.reshape(texts, [-1]), tf.reshape(fixed, [-1])
        invalid = tf.boolean_mask(flat_fixed, tf.not_equal(flat, flat_fixed))
        return _tf_assert(texts, tf.reduce_all(tf.equal(texts, fixed)), message,
                          (invalid,))
    if hasattr(texts, "numpy"):
        values = texts.numpy()
    else:
        values = texts
    values = np.asarray(values, dtype=object).reshape(-1).tolist()
    for value in values:
        try:
            if isinstance(value, bytes):
                value.decode("utf-8")
            else:
                str(value).encode("utf-8")
        except UnicodeError as error:
            raise ValueError(
                f"{name} must be valid UTF-8 text. Received: {value!r:.80} "
                f"({error.reason} at position {error.start})"
            ) from None
    return texts
