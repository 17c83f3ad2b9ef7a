"""Gradient helpers shared by the loss tests (backend-aware, test-only)."""

import keras
import numpy as np
import pytest


def _value_and_grads(fn, *arrays):
    """Value of `fn(*arrays)` and its gradients, by the active backend."""
    arrays = [np.asarray(a) for a in arrays]
    if keras.backend.backend() == "jax":
        import jax

        value, grads = jax.jit(
            jax.value_and_grad(fn, argnums=tuple(range(len(arrays))))
        )(*arrays)
    else:
        import tensorflow as tf

        tensors = [tf.convert_to_tensor(a) for a in arrays]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            value = fn(*tensors)
        grads = tape.gradient(value, tensors)
    return float(value), [np.asarray(g, dtype="float64") for g in grads]


def _central_differences(fn, *arrays, eps=1e-5):
    """Gradients of a float64 numpy function by central differences."""
    arrays = [np.array(a, dtype="float64") for a in arrays]
    grads = []
    for array in arrays:
        grad = np.zeros_like(array)
        flat, flat_grad = array.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + eps
            plus = fn(*arrays)
            flat[i] = saved - eps
            minus = fn(*arrays)
            flat[i] = saved
            flat_grad[i] = (plus - minus) / (2 * eps)
        grads.append(grad)
    return grads


@pytest.fixture
def value_and_grads():
    return _value_and_grads


@pytest.fixture
def central_differences():
    return _central_differences


def _compute(fn, *arrays):
    """`fn(*arrays)`, jitted on JAX (one compile instead of op-by-op)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)(*arrays)
    return fn(*arrays)


@pytest.fixture
def compute():
    return _compute
