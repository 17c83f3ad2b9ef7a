"""compile(accumulation_steps=k): GradCache keeps every negative of the batch."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasmm.losses import CLIPLoss
from kerasmm.losses import SigLIPLoss
from kerasmm.models import CLIP
from kerasmm.models import SigLIP
from kerasmm.models import SigLIPTextEncoder
from kerasmm.models import SigLIPVisionEncoder
from kerasmm.models import TextTransformer
from kerasmm.models import VisionTransformer
from tests.losses.test_model_mixin import TwoTowers
from tests.losses.test_model_mixin import features

BATCH = 8


def make_clip():
    return CLIP(
        VisionTransformer(image_size=16, patch_size=8, hidden_dim=16, num_layers=2,
                          num_heads=2, output_dim=8),
        TextTransformer(vocabulary_size=32, context_length=6, hidden_dim=16,
                        num_layers=1, num_heads=2, output_dim=8))


def make_siglip():
    return SigLIP(
        SigLIPVisionEncoder(image_size=16, patch_size=8, hidden_dim=16, num_layers=1,
                            num_heads=2),
        SigLIPTextEncoder(vocabulary_size=32, context_length=6, hidden_dim=16,
                          num_layers=1, num_heads=2))


def make_batch(seed=0, image_size=16):
    rng = np.random.default_rng(seed)
    return {"images": rng.normal(size=(BATCH, image_size, image_size, 3)).astype("float32"),
            "token_ids": rng.integers(1, 31, (BATCH, 6)).astype("int32")}


def fit_one_step(make_model, weights, loss, steps, batch):
    model = make_model()
    model(batch)
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss,
                  accumulation_steps=steps)
    history = model.fit(batch, batch_size=BATCH, epochs=1, verbose=0)
    return model, history.history["loss"][0]


@pytest.mark.parametrize("with_bias, l2", [(False, 0.0), (True, 0.0), (False, 0.1)])
def test_dense_towers_four_micro_batches_equal_one_batch(with_bias, l2):
    """Fast version on Dense towers; `l2` checks the regulariser path."""
    data = {k: v[:BATCH] for k, v in features().items()}
    loss = SigLIPLoss() if with_bias else CLIPLoss()
    make = lambda: TwoTowers(with_bias=with_bias, l2=l2)  # noqa: E731
    model = make()
    model(data)
    initial = model.get_weights()
    full, full_loss = fit_one_step(make, initial, loss, 1, data)
    micro, micro_loss = fit_one_step(make, initial, loss, 4, data)
    for a, b, start in zip(full.get_weights(), micro.get_weights(), initial):
        assert np.max(np.abs(a - start)) > 1e-4
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(micro_loss, full_loss, rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("make_model, loss", [
    (make_clip, CLIPLoss()),
    (make_clip, CLIPLoss(chunk_size=3)),
    (make_siglip, SigLIPLoss()),
])
def test_four_micro_batches_equal_one_full_batch(make_model, loss):
    initial = make_model().get_weights()
    batch = make_batch()
    full, full_loss = fit_one_step(make_model, initial, loss, 1, batch)
    micro, micro_loss = fit_one_step(make_model, initial, loss, 4, batch)
    moved = max(np.max(np.abs(a - b)) for a, b in zip(full.get_weights(), initial))
    assert moved > 1e-3  # The step changed the weights...
    diff = max(np.max(np.abs(a - b))
               for a, b in zip(full.get_weights(), micro.get_weights()))
    assert diff <= 1e-5  # ...in the same way.
    np.testing.assert_allclose(micro_loss, full_loss, rtol=1e-5)
    names = [w.path for w in micro.trainable_weights]
    assert any("logit_scale" in n for n in names)


def test_micro_batch_losses_differ_from_full_batch():
    """Averaging per-micro-batch losses (the optimizer's accumulation) is not
    the contrastive loss of the batch: GradCache must not compute that."""
    model = make_clip()
    batch = make_batch()
    outputs = model(batch)
    loss = CLIPLoss()
    full = float(loss(None, outputs))
    halves = [float(loss(None, {k: (v[i:i + 2] if len(v.shape) else v)
                                for k, v in outputs.items()}))
              for i in range(0, BATCH, 2)]
    assert abs(full - np.mean(halves)) > 1e-3


def test_batch_not_divisible_raises():
    model = make_clip()
    model.compile(optimizer="sgd", loss=CLIPLoss(), accumulation_steps=3)
    with pytest.raises(Exception, match="divisible by accumulation_steps"):
        model.fit(make_batch(), batch_size=BATCH, epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"loss": CLIPLoss(), "accumulation_steps": 0}, "positive"),
    ({"loss": CLIPLoss(), "accumulation_steps": 2.0}, "positive"),
    ({"loss": "mse", "accumulation_steps": 2}, "ContrastiveLoss"),
])
def test_bad_accumulation_steps(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_clip().compile(optimizer="sgd", **kwargs)


def test_compile_config_keeps_accumulation_steps():
    model = make_clip()
    model.compile(optimizer="sgd", loss=CLIPLoss(), accumulation_steps=2)
    assert model.get_compile_config()["accumulation_steps"] == 2
    restored = make_clip()
    restored.compile_from_config(model.get_compile_config())
    assert restored.accumulation_steps == 2


def run_script(name, **env):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    process = subprocess.run(
        [sys.executable, os.path.join(root, "tests", "losses", name)],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=root, **env))
    assert process.returncode == 0, process.stderr[-4000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.tf_only
def test_mirrored_strategy_with_micro_batches_equals_one_device():
    """4 logical CPUs x 2 micro-batches each: the loss still gathers every
    replica's embeddings, so 2 fit steps equal one device with k=1."""
    results = run_script("accumulation_mirrored.py")
    for name in ("clip", "siglip_chunked"):
        assert results[name]["weight_diff"] <= 1e-5, (name, results[name])
        assert results[name]["moved"] > 1e-2, (name, results[name])


@pytest.mark.slow
def test_jax_data_parallel_with_micro_batches_equals_one_device():
    results = run_script("accumulation_data_parallel.py", KERAS_BACKEND="jax",
                         XLA_FLAGS="--xla_force_host_platform_device_count=4")
    assert results["distribution"] == "DataParallel"
    assert results["weight_diff"] <= 1e-5, results
    assert results["moved"] > 1e-2, results
