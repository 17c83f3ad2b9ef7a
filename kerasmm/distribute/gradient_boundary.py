"""A fusion boundary for the residual stream's gradient (JAX on CPU).

In the backward pass of a pre-LN transformer, the gradient of the residual
stream at block `l` is the sum of the layer-norm gradients of every block
above it. XLA's CPU compiler (JAX 0.10) fuses that sum into each consumer
that needs the gradient in another layout, and duplicates it there: every
block's weight gradient recomputes the layer-norm backward of all the blocks
above, work that grows with the square of the depth. Profiling a SigLIP
B/16 train step (`jax.profiler`, batch 8) showed these `copy_bitcast_fusion`
thunks taking 42% of the step's thread time. XLA on CPU drops
`optimization_barrier` before fusing; a conditional is kept, and its operand
is one buffer that every consumer reads.

`materialize_gradient(x, training)` returns `x` unchanged. On the JAX backend
on CPU, in training, the tangent of `x` (and so, transposed, its gradient)
passes through `lax.cond` whose two branches return it: the same values
(identity in both branches, whatever the predicate), computed once.
Elsewhere (TensorFlow, whose XLA keeps the step at its matmul floor; JAX on
an accelerator, where a conditional would wait on its predicate; inference)
it is a no-op.
"""

import functools

import keras


def materialize_gradient(x, training=None):
    """`x`; with JAX on CPU in training, its gradient is one buffer.

    See the module docstring. Forward values and gradients are unchanged.
    """
    if not training or keras.backend.backend() != "jax":
        return x
    import jax

    if jax.default_backend() != "cpu" or 0 in x.shape:
        return x
    return _cpu_boundary()(x)


@functools.cache
def _cpu_boundary():
    import jax
    import jax.numpy as jnp

    def opaque_identity(x, t):
        # The predicate comes from the primal, so the cond stays linear in
        # the tangent and JAX can transpose it. Both branches return `t`.
        first = jnp.ravel(x)[0]
        bits = jax.lax.bitcast_convert_type(first, f"int{8 * first.dtype.itemsize}")
        return jax.lax.cond(bits != 12345, lambda v: v, lambda v: v * 1, t)

    @jax.custom_jvp
    def boundary(x):
        return x

    @boundary.defjvp
    def boundary_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return x, opaque_identity(x, t)

    return boundary
