"""Patch dropout (FLIP) in SigLIPVisionEncoder: no class token, training only."""

import keras
import numpy as np
import pytest

from kerasmm.models import SigLIP
from kerasmm.models import SigLIPTextEncoder
from kerasmm.models import SigLIPVisionEncoder
from kerasmm.models.clip.patch_dropout import kept_tokens
from tests.test_case import to_numpy

VISION = {"image_size": 32, "patch_size": 8, "hidden_dim": 16, "num_layers": 2,
          "num_heads": 2, "intermediate_dim": 24}
IMAGES = np.random.default_rng(0).normal(size=(3, 32, 32, 3)).astype("float32")


def encoder(rate, weights=None, **kwargs):
    model = SigLIPVisionEncoder(**VISION, patch_dropout=rate, **kwargs)
    if weights is not None:
        model.set_weights(weights)
    return model


def test_inference_unchanged_training_differs():
    reference = encoder(0.0)
    model = encoder(0.5, reference.get_weights())
    expected = to_numpy(reference(IMAGES))
    np.testing.assert_allclose(to_numpy(model(IMAGES)), expected, atol=1e-6)
    np.testing.assert_allclose(to_numpy(model(IMAGES, training=False)), expected, atol=1e-6)
    # Without patch dropout, training is inference (SigLIP has no dropout).
    np.testing.assert_allclose(to_numpy(reference(IMAGES, training=True)), expected,
                               atol=1e-6)
    trained = to_numpy(model(IMAGES, training=True))
    assert trained.shape == expected.shape
    assert np.max(np.abs(trained - expected)) > 1e-3
    # Each call draws new subsets.
    assert np.max(np.abs(trained - to_numpy(model(IMAGES, training=True)))) > 1e-3


@pytest.mark.parametrize("rate", [0.25, 0.5, 0.9])
def test_training_keeps_the_requested_patches(rate):
    """The tokens in training are the blocks run on the kept patches alone:
    the same PatchDropout draw (seed state restored) fed through the blocks
    by hand gives the tower's output exactly."""
    model = encoder(rate, output_tokens=True)
    state = to_numpy(model.token_dropout.seed_generator.state)
    outputs = model(IMAGES, training=True)
    keep = kept_tokens(16, rate)
    assert tuple(outputs["tokens"].shape) == (3, keep, 16)
    assert tuple(outputs["pooled"].shape) == (3, 16)

    model.token_dropout.seed_generator.state.assign(state)
    x = model.patch_embedding(IMAGES)
    x = model.token_dropout(x + model.position_embedding(x), training=True)
    assert tuple(x.shape) == (3, keep, 16)
    for block in model.blocks:
        x = block(x)
    x = model.ln_post(x)
    np.testing.assert_allclose(to_numpy(outputs["tokens"]), to_numpy(x), atol=1e-5)
    np.testing.assert_allclose(to_numpy(outputs["pooled"]), to_numpy(model.head(x)),
                               atol=1e-5)
    assert tuple(model(IMAGES)["tokens"].shape) == (3, 16, 16)


def test_no_prefix_token_is_kept_first():
    """Unlike CLIP's ViT, no token is pinned: over a few draws the first
    kept token is not always the first patch."""
    layer = encoder(0.5).token_dropout
    assert layer.num_prefix_tokens == 0
    tokens = np.arange(16, dtype="float32")[None, :, None].repeat(4, axis=0)
    firsts = {float(v) for _ in range(3) for v in to_numpy(layer(tokens, training=True))[:, 0, 0]}
    assert len(firsts) > 1


def test_config_round_trip_and_no_extra_weights(tmp_path):
    model = encoder(0.5)
    assert model.get_config()["patch_dropout"] == 0.5
    restored = SigLIPVisionEncoder.from_config(model.get_config())
    assert restored.patch_dropout == 0.5 and restored.token_dropout.rate == 0.5
    assert encoder(0.0).get_config()["patch_dropout"] == 0.0
    assert encoder(0.0).token_dropout is None
    assert len(model.weights) == len(encoder(0.0).weights)
    path = str(tmp_path / "tower.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.patch_dropout == 0.5
    np.testing.assert_allclose(to_numpy(loaded(IMAGES)), to_numpy(model(IMAGES)), atol=1e-6)


@pytest.mark.parametrize("rate", [-0.1, 1.0, "0.5"])
def test_bad_rate(rate):
    with pytest.raises(ValueError, match="patch_dropout"):
        encoder(rate)


def test_fit_one_step_with_patch_dropout():
    model = SigLIP(encoder(0.5), SigLIPTextEncoder(
        vocabulary_size=32, context_length=6, hidden_dim=16, num_layers=1, num_heads=2))
    model.compile(optimizer="sgd")
    before = to_numpy(model.vision_encoder.position_embedding.embeddings)
    data = {"images": IMAGES, "token_ids": np.ones((3, 6), "int32")}
    history = model.fit(data, batch_size=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = to_numpy(model.vision_encoder.position_embedding.embeddings)
    assert np.abs(after - before).max() > 0
