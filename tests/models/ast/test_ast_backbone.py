"""AudioSpectrogramTransformer: patch grid and token layout against a numpy
reference, the common layer/model checks, and errors."""

import keras
import numpy as np
import pytest

from kerasmm.models import AudioSpectrogramTransformer
from kerasmm.models.ast import ASTEmbedding
from tests.test_case import TestCase

CONFIG = dict(num_mel_bins=20, max_length=30, patch_size=8, frequency_stride=6, time_stride=11,
              hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=12)
EMBEDDING = dict(num_mel_bins=20, max_length=30, patch_size=8, frequency_stride=6,
                 time_stride=11, hidden_dim=4)


def test_embedding_patches_are_frequency_major_with_separate_strides():
    layer = ASTEmbedding(**EMBEDDING)
    features = np.random.default_rng(0).normal(size=(2, 30, 20)).astype("float32")
    tokens = np.asarray(layer(features))
    kernel, bias = (np.asarray(w) for w in layer.patch_embedding.weights)  # (8, 8, 1, 4)
    positions = np.asarray(layer.position_embedding)
    # 3 frequency x 3 time patches; patch (f, t) covers mel rows f*6..f*6+8
    # and frames t*11..t*11+8, token 2 + f * 3 + t.
    assert layer.grid == (3, 3) and tokens.shape == (2, 11, 4)
    for f in range(3):
        for t in range(3):
            patch = features[:, t * 11:t * 11 + 8, f * 6:f * 6 + 8].transpose(0, 2, 1)
            expected = np.einsum("bij,ijd->bd", patch, kernel[:, :, 0]) + bias
            np.testing.assert_allclose(tokens[:, 2 + f * 3 + t],
                                       expected + positions[2 + f * 3 + t], atol=1e-5)
    np.testing.assert_allclose(tokens[:, 0], np.broadcast_to(
        np.asarray(layer.class_token) + positions[0], (2, 4)), atol=1e-6)
    np.testing.assert_allclose(tokens[:, 1], np.broadcast_to(
        np.asarray(layer.distillation_token) + positions[1], (2, 4)), atol=1e-6)


class TestAST(TestCase):
    def test_embedding_layer(self):
        self.run_layer_test(ASTEmbedding, EMBEDDING, np.ones((2, 30, 20), "float32"),
                            expected_output_shape=(2, 11, 4), check_fit=False)

    def test_backbone(self):
        model = AudioSpectrogramTransformer(**CONFIG)
        features = np.random.default_rng(1).normal(size=(2, 30, 20)).astype("float32")
        outputs = self.run_model_test(model, features, check_fit=False, expected_output_shape={
            "sequence_output": (2, 11, 8), "pooled_output": (2, 8)})
        sequence = np.asarray(outputs["sequence_output"])
        np.testing.assert_allclose(outputs["pooled_output"],
                                   (sequence[:, 0] + sequence[:, 1]) / 2, atol=1e-6)
        symbolic = model(keras.Input((30, 20)))
        assert tuple(symbolic["sequence_output"].shape) == (None, 11, 8)
        clone = AudioSpectrogramTransformer.from_config(model.get_config())
        assert clone.get_config() == model.get_config()


@pytest.mark.parametrize("shape", [(2, 30, 21), (2, 31, 20), (30, 20), (2, 30, 20, 1)])
def test_wrong_features_shape(shape):
    model = AudioSpectrogramTransformer(**CONFIG)
    with pytest.raises(ValueError, match="features must have shape \\(batch, max_length=30, "
                                         "num_mel_bins=20\\)"):
        model(np.zeros(shape, "float32"))


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_heads must divide hidden_dim"):
        AudioSpectrogramTransformer(**{**CONFIG, "num_heads": 3})
    with pytest.raises(ValueError, match="patch_size must be <= num_mel_bins"):
        AudioSpectrogramTransformer(**{**CONFIG, "patch_size": 24})
    with pytest.raises(ValueError, match="time_stride must be a positive integer"):
        AudioSpectrogramTransformer(**{**CONFIG, "time_stride": 0})
