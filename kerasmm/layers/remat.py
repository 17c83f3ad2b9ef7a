"""Rematerialisation of blocks: activations recomputed in the backward pass."""

import keras
from keras import ops


def maybe_remat(layer, remat):
    """`layer`, or with `remat=True` a callable that rematerialises it.

    The rematerialised call goes through `keras.remat` (TF:
    `tf.recompute_grad`, JAX: `jax.checkpoint`): the activations inside
    `layer` are not kept for the backward pass but recomputed from its
    inputs, trading compute for memory. Only floating-point tensors are
    handed to `keras.remat`, positionally: TF graph mode refuses keyword
    arguments there and `jax.checkpoint` would turn Python flags such as
    `training` into traced arrays. Everything else (masks, flags) is
    closed over. (Keras' own `RematScope` passes all arguments through and
    fails on both counts.) Stateful randomness inside `layer` (dropout)
    would be drawn again in the recomputation, so callers allow remat only
    without dropout.
    """
    if not remat:
        return layer

    def rematerialized_call(*args, **kwargs):
        names = list(kwargs)
        values = list(args) + [kwargs[name] for name in names]
        differentiable = [_is_float_tensor(v) for v in values]

        def forward(*tensors):
            tensors = iter(tensors)
            filled = [next(tensors) if d else v for v, d in zip(values, differentiable)]
            return layer(*filled[:len(args)], **dict(zip(names, filled[len(args):])))

        return keras.remat(forward)(*[v for v, d in zip(values, differentiable) if d])

    return rematerialized_call


def check_remat(remat, dropout=0.0):
    """`remat` as a bool; a ValueError when it is combined with dropout."""
    if not isinstance(remat, bool):
        raise ValueError(f"remat must be a bool. Received: remat={remat!r}")
    if remat and dropout:
        raise ValueError(
            "remat=True needs dropout=0: the recomputation in the backward pass "
            f"would draw new dropout masks. Received: remat={remat}, dropout={dropout}"
        )
    return remat


def _is_float_tensor(value):
    return ops.is_tensor(value) and "float" in keras.backend.standardize_dtype(value.dtype)
