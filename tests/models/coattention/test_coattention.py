"""CoAttentionTransformer: shapes, the streams really exchange information,
padding invariance (text and pixels, both patch stems), fit and `.keras`
round trip (with the convolutional stem's batch statistics), errors."""

import keras
import numpy as np
import pytest

from kerasmm.models import CoAttentionTransformer
from tests.models.vilt.test_vilt import randomize_batch_norms
from tests.test_case import TestCase

CONFIG = dict(vocabulary_size=30, image_size=16, patch_size=4, hidden_dim=8, num_layers=2,
              num_heads=2, max_sequence_length=6, intermediate_dim=12)


def inputs(rng, batch=2, height=16, width=16):
    return {"images": rng.normal(size=(batch, height, width, 3)).astype("float32"),
            "token_ids": rng.integers(1, 30, (batch, 5)).astype("int32"),
            "padding_mask": np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]][:batch], bool)}


@pytest.mark.parametrize("pooling", ["product", "concat"])
def test_shapes(pooling):
    model = CoAttentionTransformer(pooling=pooling, **CONFIG)
    outputs = model(inputs(np.random.default_rng(0), height=16, width=8))
    assert outputs["sequence_output"].shape == (2, 5 + 1 + 8, 8)
    assert outputs["pooled_output"].shape == (2, 8)
    symbolic = model({"images": keras.KerasTensor((None, 16, 16, 3)),
                      "token_ids": keras.KerasTensor((None, 5), dtype="int32")})
    assert tuple(symbolic["sequence_output"].shape) == (None, 22, 8)


def test_each_stream_sees_the_other():
    model = CoAttentionTransformer(**CONFIG)
    data = inputs(np.random.default_rng(1))
    base = model(data)["sequence_output"]
    other_image = model({**data, "images": data["images"][::-1]})["sequence_output"]
    other_text = model({**data, "token_ids": data["token_ids"][::-1]})["sequence_output"]
    # The text tokens depend on the image and the image tokens on the text.
    assert np.abs(np.asarray(other_image)[0, :5] - np.asarray(base)[0, :5]).max() > 1e-4
    assert np.abs(np.asarray(other_text)[0, 5:] - np.asarray(base)[0, 5:]).max() > 1e-4
    # Without co-attention layers the text would not: one layer's first
    # sublayer is what carries it (its cross-attention output moves text).
    cross = model.text_cross[0]
    text = model.text_embedding(data["token_ids"])
    image, _ = model.image_embedding(data["images"])
    moved = np.asarray(cross(text, image)) - np.asarray(text)
    assert np.abs(moved).max() > 1e-3


@pytest.mark.parametrize("patch_stem", ["linear", "conv"])
def test_padding_tokens_and_padded_pixels_do_not_change_outputs(patch_stem):
    model = CoAttentionTransformer(**CONFIG, patch_stem=patch_stem)
    # The 4-pixel conv stem: two stride-2 convolutions, each batch-normalised.
    assert randomize_batch_norms(model, np.random.default_rng(0)) == (
        2 if patch_stem == "conv" else 0)
    data = inputs(np.random.default_rng(2), height=8, width=12)
    other = dict(data, token_ids=data["token_ids"].copy())
    other["token_ids"][1, 3:] = [7, 9]
    a, b = model(data), model(other)
    np.testing.assert_allclose(a["pooled_output"], b["pooled_output"], atol=1e-6)
    np.testing.assert_allclose(np.asarray(a["sequence_output"])[1, :3],
                               np.asarray(b["sequence_output"])[1, :3], atol=1e-6)
    unmasked = model({**other, "padding_mask": np.ones((2, 5), bool)})
    assert np.abs(np.asarray(unmasked["pooled_output"])
                  - np.asarray(a["pooled_output"])).max() > 1e-4
    padded = np.zeros((2, 16, 20, 3), "float32")
    padded[:, :8, :12] = data["images"]
    pixel_mask = np.zeros((2, 16, 20), "int32")
    pixel_mask[:, :8, :12] = 1
    big = model({**data, "images": padded, "pixel_mask": pixel_mask})
    np.testing.assert_allclose(big["pooled_output"], a["pooled_output"], atol=1e-5)
    np.testing.assert_allclose(np.asarray(big["sequence_output"])[:, :5],
                               np.asarray(a["sequence_output"])[:, :5], atol=1e-5)
    unmasked = model({**data, "images": padded})  # The mask is what makes them equal.
    assert np.abs(np.asarray(unmasked["pooled_output"])
                  - np.asarray(a["pooled_output"])).max() > 1e-3


class TestCoAttention(TestCase):
    def test_config_and_keras_round_trip(self):
        # fit on it: tests/tasks/test_fusion_backbones.py (under a VQAClassifier).
        model = CoAttentionTransformer(**{**CONFIG, "pooling": "concat", "num_layers": 1})
        self.check_keras_round_trip(model, inputs(np.random.default_rng(3)))
        clone = CoAttentionTransformer.from_config(model.get_config())
        assert clone.pooling == "concat" and len(clone.weights) == len(model.weights)
        assert clone.get_config() == model.get_config()

    def test_conv_stem_config_and_keras_round_trip(self):
        model = CoAttentionTransformer(**{**CONFIG, "num_layers": 1}, patch_stem="conv")
        assert randomize_batch_norms(model, np.random.default_rng(5)) == 2
        assert model.get_config()["patch_stem"] == "conv"
        assert CoAttentionTransformer(**CONFIG).get_config()["patch_stem"] == "linear"
        data = inputs(np.random.default_rng(6))
        restored = self.check_keras_round_trip(model, data, atol=1e-5)
        assert restored.patch_stem == "conv"


def test_errors():
    model = CoAttentionTransformer(**CONFIG)
    data = inputs(np.random.default_rng(4))
    with pytest.raises(ValueError, match="'images' and 'token_ids'"):
        model([data["images"], data["token_ids"]])
    with pytest.raises(ValueError, match="float"):
        model({**data, "images": data["images"].astype("uint8")})
    with pytest.raises(ValueError, match="max_sequence_length"):
        model({**data, "token_ids": np.ones((2, 7), "int32"), "padding_mask": None})
    with pytest.raises(ValueError, match="pooling"):
        CoAttentionTransformer(**{**CONFIG, "pooling": "sum"})
    with pytest.raises(ValueError, match="patch_size"):
        CoAttentionTransformer(**{**CONFIG, "image_size": 18})
    with pytest.raises(ValueError, match="num_heads"):
        CoAttentionTransformer(**{**CONFIG, "num_heads": 3})
    with pytest.raises(ValueError, match="dropout"):
        CoAttentionTransformer(**{**CONFIG, "dropout": 1.5})
    with pytest.raises(ValueError, match="patch_stem"):
        CoAttentionTransformer(**CONFIG, patch_stem="deep")
    with pytest.raises(ValueError, match="power of two"):
        CoAttentionTransformer(**{**CONFIG, "image_size": 18, "patch_size": 6},
                               patch_stem="conv")
