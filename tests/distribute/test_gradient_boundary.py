"""`materialize_gradient`: the same values and derivatives, one gradient buffer on JAX CPU.

The boundary is JAX code (`lax.cond` under a `custom_jvp`); its derivative
checks run with `jax` directly, whatever the Keras backend, against plain
JAX autodiff of the same function without the boundary. The Keras-level
test runs a stack of `SelfAttention` blocks on the current backend.
"""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from kerasmm.distribute import gradient_boundary
from kerasmm.distribute.gradient_boundary import materialize_gradient
from kerasmm.layers import SelfAttention


def _f(boundary):
    w = jnp.asarray(np.random.default_rng(0).standard_normal((3, 5)), "float32")

    def f(x):
        y = boundary(jnp.tanh(x))
        return jnp.sum(jnp.sin(y @ w) * y[:, :1])

    return f


X = jnp.asarray(np.random.default_rng(1).standard_normal((4, 3)), "float32")


def test_boundary_keeps_values_gradients_tangents_and_hessians():
    boundary = gradient_boundary._cpu_boundary()
    with_b, plain = _f(boundary), _f(lambda y: y)
    np.testing.assert_array_equal(boundary(X), X)
    np.testing.assert_allclose(with_b(X), plain(X), rtol=1e-6)
    np.testing.assert_allclose(jax.grad(with_b)(X), jax.grad(plain)(X), rtol=1e-6, atol=1e-7)
    tangent = jnp.ones_like(X)
    np.testing.assert_allclose(jax.jvp(with_b, (X,), (tangent,))[1],
                               jax.jvp(plain, (X,), (tangent,))[1], rtol=1e-6)
    np.testing.assert_allclose(jax.hessian(with_b)(X), jax.hessian(plain)(X),
                               rtol=1e-5, atol=1e-6)
    # A finite difference of the gradient's direction, independent of autodiff.
    step = 1e-3
    difference = (with_b(X + step * tangent) - with_b(X - step * tangent)) / (2 * step)
    np.testing.assert_allclose(jnp.vdot(jax.grad(with_b)(X), tangent), difference,
                               rtol=1e-2)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_boundary_gradient_is_a_conditional_xla_keeps(dtype):
    boundary = gradient_boundary._cpu_boundary()
    x = X.astype(dtype)

    def loss(x):
        return jnp.sum(jnp.square(boundary(x * 2.0)))

    grad = jax.jit(jax.grad(loss))
    np.testing.assert_allclose(np.asarray(grad(x), "float32"),
                               np.asarray(8.0 * x, "float32"), rtol=1e-2)
    compiled = grad.lower(x).compile().as_text()
    assert "conditional(" in compiled
    # Without the boundary there is nothing to branch on.
    plain = jax.jit(jax.grad(lambda x: jnp.sum(jnp.square(x * 2.0))))
    assert "conditional(" not in plain.lower(x).compile().as_text()


def test_materialize_gradient_is_a_no_op_outside_jax_cpu_training():
    x = keras.ops.ones((2, 3))
    assert materialize_gradient(x, training=False) is x
    assert materialize_gradient(x, training=None) is x
    empty = keras.ops.ones((0, 3))
    assert materialize_gradient(empty, training=True) is empty
    if keras.backend.backend() != "jax":
        assert materialize_gradient(x, training=True) is x


def _blocks():
    keras.utils.set_random_seed(0)
    blocks = [SelfAttention(2, name=f"block_{i}") for i in range(3)]
    for block in blocks:
        block.build((2, 5, 8))
    return blocks


def _loss_and_grads(blocks, x):
    """The loss of the stack in training and its gradients, current backend."""
    variables = [v for block in blocks for v in block.trainable_variables]

    def forward(x):
        for block in blocks:
            x = block(x, training=True)
        return keras.ops.sum(keras.ops.square(x[:, 0]))

    if keras.backend.backend() == "jax":
        def stateless(values, x):
            mapping = list(zip(variables, values))
            with keras.StatelessScope(state_mapping=mapping):
                return forward(x)

        values = [v.value for v in variables]
        loss, grads = jax.value_and_grad(stateless)(values, x)
        text = jax.jit(jax.grad(stateless)).lower(values, x).compile().as_text()
        return loss, grads, text
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = forward(x)
    return loss, tape.gradient(loss, variables), None


def test_self_attention_stack_gradients_equal_the_stack_without_the_boundary(monkeypatch):
    x = keras.ops.convert_to_tensor(
        np.random.default_rng(2).standard_normal((2, 5, 8)), "float32")
    blocks = _blocks()
    loss, grads, text = _loss_and_grads(blocks, x)
    from kerasmm.layers import self_attention

    monkeypatch.setattr(self_attention, "materialize_gradient", lambda x, training: x)
    plain_loss, plain_grads, plain_text = _loss_and_grads(blocks, x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loss),
                               keras.ops.convert_to_numpy(plain_loss), rtol=1e-6)
    for g, p in zip(grads, plain_grads):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(g),
                                   keras.ops.convert_to_numpy(p), rtol=1e-5, atol=1e-6)
    if keras.backend.backend() == "jax" and jax.default_backend() == "cpu":
        # One boundary per block in the compiled gradient, but the first: no
        # gradient flows to the stack's input. None without the boundary.
        assert text.count(" conditional(") == len(blocks) - 1
        assert " conditional(" not in plain_text
