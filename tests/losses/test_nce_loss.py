import keras
import numpy as np
import pytest

from kerasmm.losses import NCELoss


def nce_reference(pairs, noise, temperature):
    """Gutmann & Hyvarinen NCE in float64 numpy.

    Model log-density s = <a, p> / T (unnormalised), noise q uniform over the
    B - 1 other items, k noise samples per pair: the posterior of "data" is
    h(u) = sigmoid(s(u) - log(k q)); loss = -log h(true) - sum log(1 - h).
    """
    anchors, positives = np.float64(pairs[:, 0]), np.float64(pairs[:, 1])
    anchors = anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
    positives = positives / np.linalg.norm(positives, axis=1, keepdims=True)
    batch, k = noise.shape
    log_kq = np.log(k * (1.0 / (batch - 1)))

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    total = 0.0
    for i in range(batch):
        h_true = sigmoid(anchors[i] @ positives[i] / temperature - log_kq)
        total -= np.log(h_true)
        for j in noise[i]:
            h_noise = sigmoid(anchors[i] @ positives[j] / temperature - log_kq)
            total -= np.log(1 - h_noise)
    return total / batch


def make_pairs(batch=6, dim=4, seed=3):
    return np.random.default_rng(seed).normal(size=(batch, 2, dim)).astype(
        "float32")


def test_noise_indices_are_other_items_uniformly(compute):
    loss = NCELoss(num_noise_samples=4000, seed=7)
    noise = keras.ops.convert_to_numpy(compute(lambda: loss.noise_indices(5)))
    assert noise.shape == (5, 4000)
    for i in range(5):
        others = [j for j in range(5) if j != i]
        assert set(np.unique(noise[i])) == set(others)
        frequencies = np.bincount(noise[i], minlength=5)[others] / 4000
        np.testing.assert_allclose(frequencies, 0.25, atol=0.03)


def test_noise_is_deterministic_given_seed(compute):
    first, again, other = map(keras.ops.convert_to_numpy, compute(lambda: (
        NCELoss(3, seed=1).noise_indices(8),
        NCELoss(3, seed=1).noise_indices(8),
        NCELoss(3, seed=2).noise_indices(8),
    )))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("num_noise_samples", [1, 9])
def test_value_matches_numpy(compute, num_noise_samples):
    pairs = make_pairs()
    loss = NCELoss(num_noise_samples, temperature=0.5, seed=4)
    value, noise = compute(
        lambda p: (loss(None, p), loss.noise_indices(len(pairs))), pairs
    )
    noise = keras.ops.convert_to_numpy(noise)
    np.testing.assert_allclose(
        float(value), nce_reference(pairs, noise, 0.5), rtol=1e-5
    )


def test_gradients_match_finite_differences(value_and_grads,
                                            central_differences, compute):
    pairs = make_pairs()
    loss = NCELoss(3, temperature=0.5, seed=5)
    noise = keras.ops.convert_to_numpy(
        compute(lambda: loss.noise_indices(len(pairs))))
    _, (grad,) = value_and_grads(lambda p: loss(None, p), pairs)
    (expected,) = central_differences(
        lambda p: nce_reference(p, noise, 0.5), pairs
    )
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5)


def test_float16_inputs_give_float32_loss(compute):
    pairs = keras.ops.cast(make_pairs(), "float16")
    value = compute(lambda p: NCELoss(2)(None, (p[:, 0], p[:, 1])), pairs)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_noise_samples": 0}, "num_noise_samples=0"),
        ({"num_noise_samples": 2.0}, "num_noise_samples=2.0"),
        ({"num_noise_samples": 2, "temperature": 0.0}, "temperature=0.0"),
        ({"num_noise_samples": 2, "seed": -1}, "seed=-1"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NCELoss(**kwargs)


def test_batch_of_one_raises():
    with pytest.raises(ValueError, match="at least 2"):
        NCELoss(2)(None, make_pairs(batch=1))


def test_config_round_trip():
    loss = NCELoss(5, temperature=0.2, normalize=False, seed=3)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert isinstance(restored, NCELoss)
    assert restored.get_config() == loss.get_config()
