import os

import keras
import numpy as np
import pytest

from kerasmm.layers import GradientReversal


def value_and_input_gradient(layer, x, upstream, jit=False):
    """`layer(x)` and the gradient of `sum(layer(x) * upstream)` w.r.t. `x`,
    by the active backend."""
    if keras.backend.backend() == "jax":
        import jax

        def objective(inputs):
            y = layer(inputs)
            return keras.ops.sum(y * upstream), y

        fn = jax.value_and_grad(objective, has_aux=True)
        (_, y), grad = (jax.jit(fn) if jit else fn)(x)
        return np.asarray(y), np.asarray(grad)
    import tensorflow as tf

    def step(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            y = layer(inputs)
            objective = tf.reduce_sum(y * upstream)
        return y, tape.gradient(objective, inputs)

    y, grad = (tf.function(step, jit_compile=True) if jit else step)(tf.constant(x))
    return np.asarray(y), np.asarray(grad)


def inputs(shape=(3, 5), dtype="float32"):
    rng = np.random.default_rng(0)
    return rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)


@pytest.mark.parametrize("lambda_", [0.0, 0.3, 1.0, 2.5])
@pytest.mark.parametrize("jit", [False, True])
def test_identity_forward_reversed_gradient(lambda_, jit):
    x, upstream = inputs()
    y, grad = value_and_input_gradient(GradientReversal(lambda_), x, upstream, jit=jit)
    np.testing.assert_array_equal(y, x)  # bit for bit
    np.testing.assert_allclose(grad, -lambda_ * upstream, rtol=1e-6, atol=1e-7)


def test_current_lambda_can_be_changed_during_training():
    layer = GradientReversal(1.0)
    x, upstream = inputs()
    layer.current_lambda.assign(0.25)
    _, grad = value_and_input_gradient(layer, x, upstream)
    np.testing.assert_allclose(grad, -0.25 * upstream, rtol=1e-6)
    assert layer.get_config()["lambda_"] == 1.0  # the config keeps the initial value
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1


def test_reversal_inside_a_model_flips_the_trained_features():
    # A feature layer under a reversed head moves to *increase* the head's loss.
    x = np.ones((8, 1), "float32")
    y = np.ones((8, 1), "float32")
    deltas = {}
    for lambda_ in (0.0, 1.0):
        keras.utils.set_random_seed(0)
        feature = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)
        inputs_ = keras.Input((1,))
        head = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False,
                                  trainable=False)
        model = keras.Model(inputs_, head(GradientReversal(lambda_)(feature(inputs_)))
                            if lambda_ else head(feature(inputs_)))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        y_target = 2.0 * y  # the feature should grow from 1 towards 2
        model.fit(x, y_target, epochs=1, batch_size=8, verbose=0)
        deltas[lambda_] = float(keras.ops.convert_to_numpy(feature.kernel)[0, 0]) - 1.0
    assert deltas[0.0] > 0
    np.testing.assert_allclose(deltas[1.0], -deltas[0.0], rtol=1e-5)


def test_mixed_precision_dtype_is_kept():
    layer = GradientReversal(0.5, dtype="mixed_float16")
    x = keras.ops.convert_to_tensor(inputs(dtype="float16")[0])
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    assert keras.backend.standardize_dtype(layer.current_lambda.dtype) == "float32"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(y), keras.ops.convert_to_numpy(x))


def test_config_and_keras_round_trip(tmp_path):
    layer = GradientReversal(0.7, name="reverse")
    restored = GradientReversal.from_config(layer.get_config())
    assert restored.get_config() == layer.get_config()
    assert restored.compute_output_shape((None, 4)) == (None, 4)

    inputs_ = keras.Input((4,))
    model = keras.Model(inputs_, keras.layers.Dense(2)(GradientReversal(0.7)(inputs_)))
    path = os.path.join(tmp_path, "reversal.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = inputs((3, 4))[0]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    assert isinstance(loaded.layers[1], GradientReversal)
    assert loaded.layers[1].get_config()["lambda_"] == 0.7


@pytest.mark.parametrize("lambda_", [-0.5, float("inf"), "1", True])
def test_bad_lambda(lambda_):
    with pytest.raises(ValueError, match="lambda_"):
        GradientReversal(lambda_)
