"""`fit` under `mixed_bfloat16` / `mixed_float16`: no NaN, float32 loss.

CLIP (with CLIPLoss and with SigLIPLoss) and Perceiver IO, on whichever
backend runs the suite (CI runs it on TensorFlow and on JAX). The loss
values are checked against numpy transcriptions of the formulas, on the
float32 embeddings the model returns.
"""

import math

import keras
import numpy as np
import pytest

import kerasmm
from tests.test_case import to_numpy

POLICIES = ["mixed_bfloat16", "mixed_float16"]
BATCH = 8
VOCABULARY = 32


@pytest.fixture(params=POLICIES)
def policy(request):
    keras.config.set_dtype_policy(request.param)  # conftest resets it
    return request.param


def clip_data(num=8 * BATCH, seed=0):
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(1, VOCABULARY - 1, size=(num, 8)).astype("int32")
    token_ids[:, -1] = VOCABULARY - 1  # end of text: the largest id
    return {"images": rng.normal(size=(num, 16, 16, 3)).astype("float32"),
            "token_ids": token_ids}


def clip_model(**kwargs):
    return kerasmm.models.CLIP(
        kerasmm.models.VisionTransformer(
            image_size=16, patch_size=8, hidden_dim=16, num_layers=1,
            num_heads=2, output_dim=16),
        kerasmm.models.TextTransformer(
            vocabulary_size=VOCABULARY, context_length=8, hidden_dim=16,
            num_layers=1, num_heads=2, output_dim=16),
        **kwargs,
    )


def log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def np_clip_loss(image, text, scale):
    logits = scale * image @ text.T
    labels = np.arange(len(logits))

    def cross_entropy(z):
        z = z - z.max(1, keepdims=True)
        return np.mean(np.log(np.exp(z).sum(1)) - z[labels, labels])

    return (cross_entropy(logits) + cross_entropy(logits.T)) / 2


def np_siglip_loss(image, text, scale, bias):
    logits = scale * image @ text.T + bias
    signs = 2.0 * np.eye(len(logits)) - 1.0
    return np.mean(-np.sum(log_sigmoid(signs * logits), axis=1))


def check_optimizer(model, policy):
    # Keras wraps the optimizer for loss scaling under mixed_float16 only.
    scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16"), type(model.optimizer)


def fit_without_nan(model, x, y=None):
    """Two epochs of 8 steps: under mixed_float16 Keras' dynamic loss
    scale starts at 2**15 and skips overflowing steps while it halves."""
    before = [np.array(to_numpy(w)) for w in model.trainable_weights]
    assert before, "build the model first"
    history = model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False,
                        verbose=0).history["loss"]
    assert np.all(np.isfinite(history)), history
    after = [to_numpy(w) for w in model.trainable_weights]
    for w in model.trainable_weights:
        assert w.dtype == "float32", (w.path, w.dtype)
    assert all(np.all(np.isfinite(a)) for a in after)
    return history, before, after


def loss_on_first_batch(model, data):
    """The compiled loss of the first batch (float32) and its embeddings.

    `predict_on_batch` runs the towers in one compiled program (eager
    op-by-op calls in low precision are slow on JAX).
    """
    batch = {k: v[:BATCH] for k, v in data.items()}
    outputs = model.predict_on_batch(batch)
    for key in ("image_embeddings", "text_embeddings"):
        assert outputs[key].dtype == "float32", (key, outputs[key].dtype)
    loss = model.compute_loss(x=batch, y=None, y_pred=outputs)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    embeddings = [np.asarray(outputs[key], "float64")
                  for key in ("image_embeddings", "text_embeddings")]
    return float(to_numpy(loss)), embeddings


@pytest.mark.slow  # 2 policies x a few fit steps: ~10 s each
def test_clip_loss_fit(policy):
    model = clip_model()
    # Far above the clamp: CLIPLoss must use exp(min(10, ln 100)) = 100.
    model.logit_scale.assign(10.0)
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  loss=kerasmm.losses.CLIPLoss())
    check_optimizer(model, policy)
    data = clip_data()
    loss, (image, text) = loss_on_first_batch(model, data)
    # bfloat16 towers: the float32 loss is still the formula on the
    # float32 embeddings they return.
    np.testing.assert_allclose(loss, np_clip_loss(image, text, 100.0),
                               rtol=1e-5)
    history, before, after = fit_without_nan(model, data)
    if policy == "mixed_float16":
        # Scaled float16 gradients overflowed; the optimizer skipped those
        # steps instead of writing inf / NaN into the weights.
        assert float(to_numpy(model.optimizer.dynamic_scale)) < 2.0 ** 15
    # Clamped: no gradient reaches logit_scale; the towers do train.
    assert float(to_numpy(model.logit_scale)) == 10.0
    moved = [not np.array_equal(b, a) for b, a in zip(before, after)]
    assert sum(moved) >= len(moved) - 1, moved
    assert history[-1] < history[0], history


@pytest.mark.slow
def test_siglip_loss_fit(policy):
    model = clip_model(logit_scale_init=math.log(10.0), logit_bias_init=-10.0)
    model.compile(optimizer=keras.optimizers.SGD(0.02),
                  loss=kerasmm.losses.SigLIPLoss())
    check_optimizer(model, policy)
    data = clip_data()
    loss, (image, text) = loss_on_first_batch(model, data)
    np.testing.assert_allclose(
        loss, np_siglip_loss(image, text, 10.0, -10.0), rtol=1e-5)
    history, before, after = fit_without_nan(model, data)
    moved = [not np.array_equal(b, a) for b, a in zip(before, after)]
    assert all(moved), moved  # scale and bias included: SigLIP trains them
    assert history[-1] < history[0], history


@pytest.mark.slow
def test_perceiver_io_fit(policy):
    model = kerasmm.models.PerceiverIO(
        kerasmm.layers.ImageAdapter((8, 8, 3), num_bands=2),
        kerasmm.layers.ClassificationDecoder(3),
        num_latents=4, latent_dim=8, num_self_attends_per_block=1,
        num_cross_attention_heads=1, num_self_attention_heads=2)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(8 * BATCH, 8, 8, 3)).astype("float32")
    labels = rng.integers(0, 3, size=(8 * BATCH,)).astype("int32")
    model.build((None, 8, 8, 3))
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    check_optimizer(model, policy)
    history, before, after = fit_without_nan(model, images, labels)
    assert all(not np.array_equal(b, a) for b, a in zip(before, after))
    assert history[-1] < history[0], history
