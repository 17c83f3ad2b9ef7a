"""MMBT: image features of any shape as tokens, pooling against a hand-made
reference, padding invariance, fit and `.keras` round trip, and errors."""

import keras
import numpy as np
import pytest

from kerasmm.models import MMBT
from kerasmm.models import VisionTransformer
from kerasmm.models import build_conv_encoder
from kerasmm.models.mmbt.mmbt_backbone import adaptive_pool_matrix
from tests.test_case import TestCase

CONFIG = dict(vocabulary_size=30, hidden_dim=8, num_layers=1, num_heads=2,
              max_sequence_length=6, intermediate_dim=12)


def feature_map_encoder(size=16):
    """A CNN whose (B, 2, 2, 6) feature map becomes 4 tokens."""
    return keras.Sequential([keras.Input((size, size, 3)),
                             keras.layers.Conv2D(6, 8, strides=8, name="conv")])


def inputs(rng, batch=2, size=16):
    return {"images": rng.normal(size=(batch, size, size, 3)).astype("float32"),
            "token_ids": rng.integers(1, 30, (batch, 5)).astype("int32"),
            "padding_mask": np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]][:batch], bool)}


@pytest.mark.parametrize("encoder, num_image_tokens, tokens", [
    (feature_map_encoder, None, 4),
    (lambda: build_conv_encoder(image_size=16, conv_widths=(4, 8), output_dim=6), None, 1),
    (lambda: VisionTransformer(image_size=16, patch_size=4, hidden_dim=8, num_layers=1,
                               num_heads=2, output_dim=4, output_tokens=True), None, 16),
    (feature_map_encoder, 3, 3),
])
def test_image_features_become_tokens(encoder, num_image_tokens, tokens):
    model = MMBT(encoder(), num_image_tokens=num_image_tokens, **CONFIG)
    outputs = model(inputs(np.random.default_rng(0)))
    assert outputs["sequence_output"].shape == (2, tokens + 2 + 5, 8)
    assert outputs["pooled_output"].shape == (2, 8)
    symbolic = model({"images": keras.KerasTensor((None, 16, 16, 3)),
                      "token_ids": keras.KerasTensor((None, 5), dtype="int32")})
    assert tuple(symbolic["sequence_output"].shape) == (None, tokens + 7, 8)


def test_pooling_averages_token_bins_as_torch():
    # AdaptiveAvgPool1d(3) over 5 tokens: bins [0, 2), [1, 4), [3, 5).
    expected = np.array([[.5, .5, 0, 0, 0], [0, 1 / 3, 1 / 3, 1 / 3, 0], [0, 0, 0, .5, .5]])
    np.testing.assert_allclose(adaptive_pool_matrix(5, 3), expected, atol=1e-7)
    np.testing.assert_allclose(adaptive_pool_matrix(4, 2), [[.5, .5, 0, 0], [0, 0, .5, .5]])
    # In the model: the projection of the pooled features, before the frame.
    model = MMBT(feature_map_encoder(), num_image_tokens=2, **CONFIG)
    images = inputs(np.random.default_rng(1))["images"]
    features = np.asarray(model.image_encoder(images)).reshape(2, 4, 6)
    pooled = np.stack([features[:, :2].mean(1), features[:, 2:].mean(1)], axis=1)
    kernel, bias = (np.asarray(w) for w in model.image_projection.weights)
    table = np.asarray(model.image_position_embedding)
    segment = np.asarray(model.text_embedding.segment(1))[0, 0]
    x = pooled @ kernel + bias + table[1:3] + segment
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    gamma, beta = (np.asarray(w) for w in model.text_embedding.norm.weights)
    expected = (x - mean) / np.sqrt(var + 1e-12) * gamma + beta
    np.testing.assert_allclose(np.asarray(model.embed_image(images))[:, 1:3], expected,
                               atol=1e-5)


def test_padding_tokens_do_not_change_outputs():
    model = MMBT(feature_map_encoder(), **CONFIG)
    data = inputs(np.random.default_rng(2))
    other = dict(data, token_ids=data["token_ids"].copy())
    other["token_ids"][1, 3:] = [7, 9]
    a, b = model(data), model(other)
    np.testing.assert_allclose(a["pooled_output"], b["pooled_output"], atol=1e-6)
    np.testing.assert_allclose(np.asarray(a["sequence_output"])[1, :6 + 3],
                               np.asarray(b["sequence_output"])[1, :6 + 3], atol=1e-6)
    unmasked = model({**other, "padding_mask": np.ones((2, 5), bool)})
    assert np.abs(np.asarray(unmasked["pooled_output"])[1]
                  - np.asarray(a["pooled_output"])[1]).max() > 1e-4


class TestMMBT(TestCase):
    def test_fit_and_keras_round_trip(self):
        model = MMBT(feature_map_encoder(), num_image_tokens=3, **CONFIG)
        self.run_model_test(model, inputs(np.random.default_rng(3)),
                            expected_output_shape={"sequence_output": (2, 10, 8),
                                                   "pooled_output": (2, 8)})
        config = model.get_config()
        clone = MMBT.from_config(config)
        assert clone.num_image_tokens == 3 and clone.image_encoder is not model.image_encoder
        assert len(clone.weights) == len(model.weights)


def test_errors():
    data = inputs(np.random.default_rng(4))
    model = MMBT(feature_map_encoder(), **CONFIG)
    with pytest.raises(ValueError, match="'images' and 'token_ids'"):
        model({"images": data["images"]})
    with pytest.raises(ValueError, match="max_sequence_length"):
        model({**data, "token_ids": np.ones((2, 7), "int32"), "padding_mask": None})
    with pytest.raises(ValueError, match="padding_mask must have the shape"):
        model({**data, "padding_mask": np.ones((2, 4), bool)})
    with pytest.raises(ValueError, match="vocabulary_size"):
        model({**data, "token_ids": np.full((2, 5), 30, "int32")})
    with pytest.raises(TypeError, match="image_encoder"):
        MMBT("resnet", **CONFIG)
    with pytest.raises(ValueError, match="num_heads"):
        MMBT(feature_map_encoder(), **{**CONFIG, "num_heads": 3})
    with pytest.raises(ValueError, match="num_image_tokens"):
        MMBT(feature_map_encoder(), num_image_tokens=0, **CONFIG)
    with pytest.raises(ValueError, match="image_shape"):
        MMBT(keras.layers.Conv2D(4, 8, strides=8), **CONFIG)
    video = keras.Sequential([keras.Input((2, 8, 8, 3)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="feature map"):
        MMBT(video, **CONFIG)
    dynamic = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(4, 8)])
    with pytest.raises(ValueError, match="pass num_image_tokens"):
        MMBT(dynamic, **CONFIG)
