"""Patch dropout (FLIP) in VisionTransformer: training only, class token kept."""

import keras
import numpy as np
import pytest

from kerasmm.models import VisionTransformer
from kerasmm.models.clip.patch_dropout import PatchDropout
from kerasmm.models.clip.patch_dropout import kept_tokens

CONFIG = {"image_size": 32, "patch_size": 8, "hidden_dim": 16, "num_layers": 2,
          "num_heads": 2, "output_dim": 8}
IMAGES = np.random.default_rng(0).normal(size=(3, 32, 32, 3)).astype("float32")


def vit(seed, weights=None, **kwargs):
    keras.utils.set_random_seed(seed)
    model = VisionTransformer(**{**CONFIG, "patch_dropout": 0.5, **kwargs})
    if weights is not None:
        model.set_weights(weights)
    return model


def test_training_output_depends_on_the_seed_inference_does_not():
    reference = VisionTransformer(**CONFIG)
    weights = reference.get_weights()
    first, same, other = vit(0, weights), vit(0, weights), vit(1, weights)
    train = [np.asarray(m(IMAGES, training=True)) for m in (first, same, other)]
    np.testing.assert_array_equal(train[0], train[1])
    assert np.max(np.abs(train[0] - train[2])) > 1e-3
    # Dropped patches change the output; a second call draws other subsets.
    assert np.max(np.abs(train[0] - np.asarray(reference(IMAGES)))) > 1e-3
    assert np.max(np.abs(train[0] - np.asarray(first(IMAGES, training=True)))) > 1e-3
    expected = np.asarray(reference(IMAGES, training=False))
    for model in (first, other):
        np.testing.assert_allclose(np.asarray(model(IMAGES, training=False)), expected,
                                   atol=1e-6)
        np.testing.assert_allclose(np.asarray(model(IMAGES)), expected, atol=1e-6)


@pytest.mark.parametrize("rate", [0.25, 0.5, 0.75, 0.95])
def test_kept_token_count_and_class_token_first(rate):
    num = 16
    assert kept_tokens(num, rate) == max(1, round((1 - rate) * num))
    layer = PatchDropout(rate, num_prefix_tokens=1, seed=3)
    tokens = np.arange(2 * (num + 1), dtype="float32").reshape(2, num + 1, 1)
    kept = np.asarray(layer(tokens, training=True))
    assert kept.shape == (2, 1 + kept_tokens(num, rate), 1)
    np.testing.assert_array_equal(kept[:, 0], tokens[:, 0])  # The class token.
    for row, source in zip(kept, tokens):
        # Distinct patches taken from this example.
        assert len(set(row[1:, 0])) == len(row) - 1
        assert set(row[1:, 0]) <= set(source[1:, 0])
    np.testing.assert_array_equal(np.asarray(layer(tokens)), tokens)


def test_tokens_in_training_are_the_kept_ones():
    model = vit(0, output_tokens=True, patch_dropout=0.75)
    outputs = model(IMAGES, training=True)
    assert tuple(outputs["tokens"].shape) == (3, kept_tokens(16, 0.75), 16)
    assert tuple(model(IMAGES)["tokens"].shape) == (3, 16, 16)


def test_config_round_trip_and_no_extra_weights():
    model = vit(0)
    assert model.get_config()["patch_dropout"] == 0.5
    restored = VisionTransformer.from_config(model.get_config())
    assert restored.patch_dropout == 0.5
    assert len(model.weights) == len(VisionTransformer(**CONFIG).weights)
    assert VisionTransformer(**CONFIG).get_config()["patch_dropout"] == 0.0


@pytest.mark.parametrize("rate", [-0.1, 1.0, "0.5"])
def test_bad_rate(rate):
    with pytest.raises(ValueError, match="patch_dropout"):
        VisionTransformer(**{**CONFIG, "patch_dropout": rate})


def test_fit_one_step_with_patch_dropout():
    from kerasmm.losses import CLIPLoss
    from kerasmm.models import CLIP
    from kerasmm.models import TextTransformer

    model = CLIP(vit(0), TextTransformer(vocabulary_size=32, context_length=6,
                                         hidden_dim=16, num_layers=1, num_heads=2,
                                         output_dim=8))
    model.compile(optimizer="sgd", loss=CLIPLoss())
    data = {"images": IMAGES, "token_ids": np.ones((3, 6), "int32")}
    history = model.fit(data, batch_size=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
