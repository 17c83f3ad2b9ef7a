"""BLIP's towers: shapes, masks, the decoder's cached step, configs and errors."""

import keras
import numpy as np
import pytest

from kerasmm.models import BLIPTextDecoder
from kerasmm.models import BLIPTextEncoder
from kerasmm.models import BLIPVisionEncoder
from kerasmm.models.blip import BLIPTextLayer

TEXT = dict(vocabulary_size=40, hidden_dim=16, num_layers=2, num_heads=4,
            intermediate_dim=24, max_sequence_length=10, cross_attention_dim=12)


def vision():
    return BLIPVisionEncoder(image_size=16, patch_size=8, hidden_dim=12, num_layers=1,
                             num_heads=3, intermediate_dim=20)


def test_vision_encoder_returns_class_and_patch_tokens():
    encoder = vision()
    tokens = encoder(np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32"))
    assert tokens.shape == (2, 5, 12)
    # ln_post (gamma 1, beta 0) ends it: each token has zero mean, unit variance.
    np.testing.assert_allclose(np.mean(tokens, -1), 0, atol=1e-5)
    symbolic = encoder(keras.KerasTensor((None, 16, 16, 3)))
    assert tuple(symbolic.shape) == (None, 5, 12)
    with pytest.raises(ValueError, match="image_size=16"):
        encoder(np.zeros((1, 32, 32, 3), "float32"))
    with pytest.raises(ValueError, match="patch_size"):
        BLIPVisionEncoder(image_size=20, patch_size=8)


def test_cached_decode_steps_equal_the_teacher_forced_logits():
    decoder = BLIPTextDecoder(**TEXT)
    rng = np.random.default_rng(1)
    token_ids = rng.integers(0, 40, (3, 7)).astype("int32")
    encoder_tokens = rng.normal(size=(3, 5, 12)).astype("float32")
    encoder_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], bool)
    expected = decoder({"token_ids": token_ids, "encoder_tokens": encoder_tokens,
                        "encoder_mask": encoder_mask})
    cross = decoder.cross_cache(encoder_tokens, encoder_mask)
    cache = decoder.init_cache(3, 8)  # Longer than the sequence: unused rows are masked.
    for index in range(7):
        logits, cache = decoder.decode_step(token_ids[:, index:index + 1], index, cache, cross)
        np.testing.assert_allclose(logits, expected[:, index], atol=2e-5)
    # The encoder mask matters (the check above is not vacuous).
    unmasked = decoder({"token_ids": token_ids, "encoder_tokens": encoder_tokens})
    assert np.abs(np.asarray(unmasked) - np.asarray(expected))[1].max() > 1e-3


def test_encoder_padding_and_causality():
    rng = np.random.default_rng(2)
    token_ids = rng.integers(1, 40, (2, 6)).astype("int32")
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)
    changed = token_ids.copy()
    changed[0, 5] = (changed[0, 5] + 1) % 40  # Under padding.
    changed[1, 5] = (changed[1, 5] + 1) % 40  # The last real token.
    encoder = BLIPTextEncoder(**{**TEXT, "cross_attention_dim": None})
    a = np.asarray(encoder({"token_ids": token_ids, "padding_mask": mask}))
    b = np.asarray(encoder({"token_ids": changed, "padding_mask": mask}))
    np.testing.assert_allclose(a[0, :4], b[0, :4], atol=1e-6)  # Padding is not read.
    assert np.abs(a[1, :5] - b[1, :5]).max() > 1e-3  # Bidirectional.
    decoder = BLIPTextDecoder(**TEXT)
    tokens = np.zeros((2, 5, 12), "float32")
    a = np.asarray(decoder({"token_ids": token_ids, "encoder_tokens": tokens}))
    b = np.asarray(decoder({"token_ids": changed, "encoder_tokens": tokens}))
    np.testing.assert_allclose(a[:, :5], b[:, :5], atol=1e-5)  # Causal.


def test_configs_round_trip():
    for model in (vision(), BLIPTextEncoder(**TEXT), BLIPTextDecoder(**TEXT)):
        restored = type(model).from_config(model.get_config())
        assert restored.get_config() == model.get_config()
        assert len(restored.weights) == len(model.weights)
    layer = BLIPTextLayer(num_heads=2, intermediate_dim=8)
    assert BLIPTextLayer.from_config(layer.get_config()).get_config() == layer.get_config()


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="num_heads"):
        BLIPTextEncoder(**{**TEXT, "num_heads": 5})
    with pytest.raises(ValueError, match="max_sequence_length"):
        BLIPTextEncoder(**TEXT)({"token_ids": np.zeros((1, 11), "int32")})
    with pytest.raises(ValueError, match="max_length"):
        BLIPTextDecoder(**TEXT).init_cache(1, 11)
    layer = BLIPTextLayer(num_heads=2, intermediate_dim=8)
    with pytest.raises(ValueError, match="cross_attention_dim=None"):
        layer(np.zeros((1, 2, 4), "float32"), encoder_tokens=np.zeros((1, 3, 4), "float32"))
