import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from sklearn.cross_decomposition import CCA

from kerasmm.losses import DeepCCALoss
from tests.test_case import fit_steps


def cca_reference(view_a, view_b, r1, r2, outdim_size=None):
    """Andrew et al.'s corr(H1, H2) in float64 numpy, from the singular values
    of T = S11^-1/2 S12 S22^-1/2 (SVD here, eigh in the loss)."""
    a = np.float64(view_a) - np.mean(view_a, axis=0)
    b = np.float64(view_b) - np.mean(view_b, axis=0)
    m = len(a)
    s11 = a.T @ a / (m - 1) + r1 * np.eye(a.shape[1])
    s22 = b.T @ b / (m - 1) + r2 * np.eye(b.shape[1])
    s12 = a.T @ b / (m - 1)

    def inverse_sqrt(s):
        values, vectors = np.linalg.eigh(s)
        return vectors @ np.diag(values ** -0.5) @ vectors.T

    singular = np.linalg.svd(inverse_sqrt(s11) @ s12 @ inverse_sqrt(s22), compute_uv=False)
    return singular[:outdim_size]


def linear_views(n=600, seed=0):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 3))
    view_a = shared @ rng.normal(size=(3, 5)) + 0.7 * rng.normal(size=(n, 5))
    view_b = shared @ rng.normal(size=(3, 4)) + 0.9 * rng.normal(size=(n, 4))
    return view_a.astype("float32"), view_b.astype("float32")


def test_correlations_equal_scikit_learn_cca():
    view_a, view_b = linear_views()
    cca = CCA(n_components=4, max_iter=5000, tol=1e-10).fit(view_a, view_b)
    scores_a, scores_b = cca.transform(view_a, view_b)
    expected = [np.corrcoef(scores_a[:, k], scores_b[:, k])[0, 1] for k in range(4)]
    correlations = keras.ops.convert_to_numpy(
        DeepCCALoss(r1=0.0, r2=0.0).canonical_correlations(view_a, view_b))
    assert correlations.shape == (4,)
    assert expected[0] > 0.8 and expected[-1] < 0.1  # a spread of correlations
    np.testing.assert_allclose(correlations, expected, atol=1e-3)


@pytest.mark.parametrize("outdim_size", [None, 2])
def test_loss_is_minus_the_sum_of_the_top_correlations(compute, outdim_size):
    view_a, view_b = linear_views(n=200, seed=1)
    view_b = view_b[:, :4]
    loss = DeepCCALoss(outdim_size=outdim_size, r1=1e-3, r2=1e-2)
    pairs = np.stack([view_a[:, :4], view_b], axis=1)
    value = compute(lambda p: loss(None, p), pairs)
    expected = cca_reference(view_a[:, :4], view_b, 1e-3, 1e-2, outdim_size)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    np.testing.assert_allclose(float(value), -expected.sum(), rtol=1e-4)


def test_views_of_different_widths():
    view_a, view_b = linear_views(n=300, seed=2)
    correlations = DeepCCALoss(r1=0.1, r2=0.2).canonical_correlations(view_a, view_b)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(correlations),
                               cca_reference(view_a, view_b, 0.1, 0.2), atol=1e-5)


@pytest.mark.parametrize("outdim_size", [None, 2])
def test_gradients_match_finite_differences(value_and_grads, central_differences,
                                            outdim_size):
    rng = np.random.default_rng(3)
    shared = rng.normal(size=(24, 3))
    pairs = np.stack([shared + 0.5 * rng.normal(size=(24, 3)),
                      shared @ rng.normal(size=(3, 3)) + 0.5 * rng.normal(size=(24, 3))],
                     axis=1).astype("float32")
    loss = DeepCCALoss(outdim_size=outdim_size, r1=1e-2, r2=1e-2)
    value, (grad,) = value_and_grads(lambda p: loss(None, p), pairs)

    def reference(p):
        return -cca_reference(p[:, 0], p[:, 1], 1e-2, 1e-2, outdim_size).sum()

    (expected,) = central_differences(reference, pairs)
    np.testing.assert_allclose(value, reference(np.float64(pairs)), rtol=1e-4)
    assert np.abs(expected).max() > 1e-2
    np.testing.assert_allclose(grad, expected, atol=2e-4 * np.abs(expected).max())


def test_gradient_is_finite_when_the_batch_is_narrower_than_the_views(value_and_grads):
    pairs = np.random.default_rng(4).normal(size=(5, 2, 8)).astype("float32")
    _, (grad,) = value_and_grads(lambda p: DeepCCALoss()(None, p), pairs)
    assert np.all(np.isfinite(grad))


def test_fit_increases_the_correlation():
    rng = np.random.default_rng(5)
    shared = rng.normal(size=(512, 2))
    view_a = np.concatenate([np.tanh(shared), rng.normal(size=(512, 4))], axis=1)
    view_b = np.concatenate([shared ** 3, rng.normal(size=(512, 4))], axis=1)
    inputs = [keras.Input((6,)), keras.Input((6,))]
    towers = [keras.Sequential([keras.layers.Dense(16, activation="tanh"),
                                keras.layers.Dense(2)]) for _ in inputs]
    outputs = keras.ops.stack([tower(x) for tower, x in zip(towers, inputs)], axis=1)
    model = keras.Model(inputs, outputs)
    loss = DeepCCALoss(outdim_size=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    x = [view_a.astype("float32"), view_b.astype("float32")]

    def total_correlation():
        return -float(loss(None, model.predict(x, verbose=0, batch_size=512)))

    before = total_correlation()
    history = fit_steps(model, 60, x)  # 60 full-batch steps
    after = total_correlation()
    assert history[-1] < history[0]
    assert after > before + 0.3 and after > 1.5, (before, after)


MIRRORED_SCRIPT = """
import json, os
os.environ["KERAS_BACKEND"] = "tensorflow"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
from kerasmm.losses import DeepCCALoss

x = np.random.default_rng(5).normal(size=(64, 4)).astype("float32")

def steps(strategy):
    with strategy.scope():
        keras.utils.set_random_seed(2)
        inputs = keras.Input((4,))
        views = [keras.layers.Dense(3)(inputs), keras.layers.Dense(3)(inputs * inputs)]
        model = keras.Model(inputs, keras.ops.stack(views, axis=1))
        start = [v.numpy() for v in model.trainable_variables]
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=DeepCCALoss())
    model.fit(x, None, batch_size=64, epochs=1, verbose=0, shuffle=False)
    return [v.numpy() - s for v, s in zip(model.trainable_variables, start)]

one = steps(tf.distribute.OneDeviceStrategy("/cpu:0"))
two = steps(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
print(json.dumps({"diff": max(float(np.abs(a - b).max()) for a, b in zip(one, two)),
                  "moved": max(float(np.abs(a).max()) for a in one)}))
"""


@pytest.mark.slow
@pytest.mark.tf_only
def test_mirrored_strategy_step_equals_one_device():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    process = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True,
                             text=True, timeout=600, env=dict(os.environ, PYTHONPATH=root))
    assert process.returncode == 0, process.stderr[-4000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert result["moved"] > 1e-2, result
    assert result["diff"] <= 1e-4 * result["moved"], result


def test_config_round_trip():
    loss = DeepCCALoss(outdim_size=3, r1=0.1, r2=0.2, epsilon=1e-6, name="cca")
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, DeepCCALoss)
    assert restored.get_config() == loss.get_config()


@pytest.mark.parametrize("kwargs, match", [
    ({"outdim_size": 0}, "outdim_size"),
    ({"r1": -1.0}, "r1"),
    ({"r2": float("nan")}, "r2"),
    ({"epsilon": 0.0}, "epsilon"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DeepCCALoss(**kwargs)


def test_bad_inputs():
    loss = DeepCCALoss(outdim_size=3)
    with pytest.raises(ValueError, match=r"y_pred must have shape \(batch, 2, dim\)"):
        loss(None, np.zeros((4, 3, 2), "float32"))
    with pytest.raises(ValueError, match="outdim_size must be <="):
        loss(None, np.zeros((4, 2, 2), "float32"))
    with pytest.raises(ValueError, match="sample_weight"):
        loss(None, np.zeros((4, 2, 3), "float32"), sample_weight=np.ones(4))


@pytest.mark.parametrize("batch", [0, 1])
def test_fewer_than_two_examples_are_refused(batch):
    pairs = np.ones((batch, 2, 3), "float32")
    with pytest.raises(ValueError, match="batch size must be at least 2"):
        DeepCCALoss()(None, pairs)
