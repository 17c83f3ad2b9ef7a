"""One compiled function per decoding configuration, on each backend.

TensorFlow: `tf.function(jit_compile=True)` (XLA must compile it, there is
no fallback) capturing the model's variables by reference. JAX: `jax.jit`
of a stateless function that receives the variables' current values, so
weights trained after the first call are used without retracing. Other
backends run the same loop eagerly.
"""

import keras
import numpy as np


def compile_function(function, variables, jit_compile=True):
    """`function(*tensors)` compiled; returns a callable of the same args.

    `function` must be traceable: keras.ops only, static shapes. It retraces
    only for new input shapes or dtypes. `jit_compile=False` makes it a
    TensorFlow graph without XLA (TensorFlow's own kernels: oneDNN matrix
    products on CPU); JAX always compiles with XLA.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=jit_compile, reduce_retracing=False)
    if backend == "jax":
        import jax

        def stateless(values, *args):
            mapping = list(zip(variables, values))
            with keras.StatelessScope(state_mapping=mapping):
                return function(*args)

        jitted = jax.jit(stateless)
        return lambda *args: jitted([v.value for v in variables], *args)
    return function


def as_seed(seed):
    """An int32 scalar tensor for `seed` (a fresh random one when None)."""
    if seed is None:
        seed = np.random.randint(0, 2**31 - 1)
    return keras.ops.convert_to_tensor(np.int32(seed))
