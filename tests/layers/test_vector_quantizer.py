import keras
import numpy as np
import pytest

from kerasmm.layers.vector_quantizer import VectorQuantizer
from tests.test_case import TestCase


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def gradient(fn, x):
    """The gradient of the scalar `fn(x)` w.r.t. `x`, by the active backend."""
    if keras.backend.backend() == "jax":
        import jax

        return np.asarray(jax.grad(fn)(x))
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return np.asarray(tape.gradient(y, x))


def numpy_nearest(z, codebook):
    distances = ((z[..., None, :] - codebook) ** 2).sum(-1)
    return distances.argmin(-1)


def built_quantizer(num_embeddings=7, dim=3, **kwargs):
    quantizer = VectorQuantizer(num_embeddings, **kwargs)
    quantizer.build((None, dim))
    codebook = np.random.default_rng(5).normal(size=(num_embeddings, dim)).astype("float32")
    quantizer.codebook.assign(codebook)
    if quantizer.use_ema:
        quantizer.ema_embedding_sum.assign(codebook)
    return quantizer, codebook


def test_picks_the_nearest_code_and_returns_it():
    quantizer, codebook = built_quantizer()
    z = np.random.default_rng(0).normal(size=(4, 5, 3)).astype("float32")
    quantized, codes = quantizer(z)
    expected = numpy_nearest(z, codebook)
    np.testing.assert_array_equal(to_numpy(codes), expected)
    assert to_numpy(codes).dtype == np.int32
    np.testing.assert_allclose(to_numpy(quantized), codebook[expected], atol=1e-6)
    np.testing.assert_allclose(to_numpy(quantizer.lookup(codes)), codebook[expected])


def test_straight_through_gradient_is_the_identity():
    # d f(quantizer(z)) / dz must equal f'(q) at the quantized q: the
    # decoder's gradient reaches the encoder unchanged.
    quantizer, codebook = built_quantizer()
    decoder = keras.layers.Dense(4, activation="tanh")
    z = np.random.default_rng(1).normal(size=(6, 3)).astype("float32")
    decoder.build((None, 3))
    q = codebook[numpy_nearest(z, codebook)]

    def through_quantizer(x):
        return keras.ops.sum(decoder(quantizer(x)[0]) ** 2)

    def on_codes(x):
        return keras.ops.sum(decoder(x) ** 2)

    grad_z = gradient(through_quantizer, z)
    np.testing.assert_allclose(grad_z, gradient(on_codes, q), rtol=1e-5, atol=1e-6)
    assert np.abs(grad_z).max() > 1e-3


@pytest.mark.parametrize("use_ema", [False, True])
def test_loss_matches_the_formula(use_ema):
    beta = 0.3
    quantizer, codebook = built_quantizer(beta=beta, use_ema=use_ema)
    z = np.random.default_rng(2).normal(size=(2, 4, 3)).astype("float32")
    quantizer(z)
    q = codebook[numpy_nearest(z, codebook)]
    squared = ((z - q) ** 2).mean()
    # codebook term + beta * commitment term (the EMA variant has no codebook term).
    expected = (0.0 if use_ema else squared) + beta * squared
    [loss] = quantizer.losses
    np.testing.assert_allclose(to_numpy(loss), expected, rtol=1e-5)

    # Only the commitment term reaches z: d/dz = beta * 2 (z - q) / N.
    def loss_of(x):
        quantizer(x)
        return quantizer.losses[0]

    np.testing.assert_allclose(gradient(loss_of, z), beta * 2 * (z - q) / z.size,
                               rtol=1e-4, atol=1e-7)


def test_ema_update_matches_numpy():
    decay, epsilon = 0.9, 1e-5
    quantizer, codebook = built_quantizer(use_ema=True, ema_decay=decay, epsilon=epsilon)
    assert not quantizer.codebook.trainable and not quantizer.trainable_weights
    z = np.random.default_rng(3).normal(size=(10, 3)).astype("float32")
    quantizer(z, training=False)
    np.testing.assert_array_equal(to_numpy(quantizer.codebook), codebook)

    quantizer(z, training=True)
    codes = numpy_nearest(z, codebook)
    one_hot = np.eye(len(codebook))[codes]
    counts = decay * 1.0 + (1 - decay) * one_hot.sum(0)
    sums = decay * codebook + (1 - decay) * one_hot.T @ z
    smoothed = (counts + epsilon) / (counts.sum() + len(codebook) * epsilon) * counts.sum()
    np.testing.assert_allclose(to_numpy(quantizer.codebook), sums / smoothed[:, None],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(quantizer.ema_cluster_size), counts, rtol=1e-6)
    # An entry no vector picked keeps (almost) its value.
    unused = np.setdiff1d(np.arange(len(codebook)), codes)
    assert len(unused)
    np.testing.assert_allclose(to_numpy(quantizer.codebook)[unused], codebook[unused],
                               rtol=1e-3, atol=1e-5)


class VectorQuantizerTest(TestCase):
    def test_layer(self):
        self.run_layer_test(
            VectorQuantizer, {"num_embeddings": 5, "beta": 0.5},
            np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32"),
            expected_output_shape=((2, 3, 3, 4), (2, 3, 3)), check_mixed_precision=False)

    def test_config_round_trip(self):
        layer = VectorQuantizer(9, beta=0.1, use_ema=True, ema_decay=0.5, epsilon=1e-3)
        config = VectorQuantizer.from_config(layer.get_config()).get_config()
        assert config == layer.get_config()
        assert config["num_embeddings"] == 9 and config["use_ema"] is True


@pytest.mark.parametrize("kwargs, message", [
    ({"num_embeddings": 0}, "num_embeddings must be a positive integer"),
    ({"num_embeddings": 4, "beta": -1.0}, "beta must be >= 0"),
    ({"num_embeddings": 4, "ema_decay": 1.0}, "ema_decay must be in"),
    ({"num_embeddings": 4, "use_ema": "yes"}, "use_ema must be a bool"),
    ({"num_embeddings": 4, "epsilon": 0.0}, "epsilon must be > 0"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VectorQuantizer(**kwargs)


def test_bad_input_rank():
    with pytest.raises(ValueError, match="z must have rank >= 2"):
        VectorQuantizer(4)(np.zeros((3,), "float32"))
