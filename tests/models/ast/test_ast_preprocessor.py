"""ASTPreprocessor: features of ASTFeatureExtractor (tests/fixtures/hf_ast,
written by tools/make_ast_fixtures.py), resampling, presets, errors."""

import os

import numpy as np
import pytest

from kerasmm.models import ASTPreprocessor
from kerasmm.preprocessing import resample

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "hf_ast")
CHECKPOINT = os.path.join(FIXTURES, "checkpoint")


def outputs():
    return np.load(os.path.join(FIXTURES, "outputs.npz"))


def test_from_checkpoint_matches_extractor():
    preprocessor = ASTPreprocessor.from_preset(CHECKPOINT, feature_dtype="float32")
    assert (preprocessor.num_mel_bins, preprocessor.max_length, preprocessor.sample_rate) == (
        36, 60, 16000)
    fixture = outputs()
    features = np.asarray(preprocessor(fixture["waveforms"]))
    assert features.shape == fixture["extracted"].shape == (2, 60, 36)
    assert features.dtype == np.float32
    # float32 filter banks: within 1e-4 here (see test_audio_features for the bound).
    np.testing.assert_allclose(features, fixture["extracted"], atol=1e-4)
    # Frames past the waveform's 48 are zeros normalised: (0 - mean) / (2 std).
    np.testing.assert_allclose(features[:, 48:], 4.2677393 / (2 * 4.5689974), atol=1e-6)


@pytest.mark.tf_only  # float64 on JAX needs jax_enable_x64.
def test_float64_matches_extractor_to_1e_5():
    fixture = outputs()
    features = np.asarray(ASTPreprocessor.from_preset(CHECKPOINT)(fixture["waveforms"]))
    np.testing.assert_allclose(features, fixture["extracted"], atol=1e-5)


def test_resamples_other_rates():
    preprocessor = ASTPreprocessor(num_mel_bins=36, max_length=60, feature_dtype="float32")
    wave = outputs()["waveforms"][:1]
    at_8k = np.asarray(resample(wave, 16000, 8000))
    direct = np.asarray(preprocessor(np.asarray(resample(at_8k, 8000, 16000))))
    np.testing.assert_allclose(preprocessor(at_8k, sample_rate=8000), direct, atol=1e-5)
    assert tuple(preprocessor(wave[0]).shape) == (60, 36)


def test_config_and_save_to_preset(tmp_path):
    preprocessor = ASTPreprocessor(num_mel_bins=40, max_length=30, mean=-1.0, std=2.0)
    assert ASTPreprocessor.from_config(preprocessor.get_config()).get_config() == (
        preprocessor.get_config())
    preprocessor.save_to_preset(str(tmp_path))
    restored = ASTPreprocessor.from_preset(str(tmp_path))
    assert restored.preset_preprocessing() == preprocessor.preset_preprocessing()


def test_bad_arguments():
    with pytest.raises(ValueError, match="std must be > 0"):
        ASTPreprocessor(std=0.0)
    with pytest.raises(ValueError, match="feature_dtype must be one of"):
        ASTPreprocessor(feature_dtype="float16")


@pytest.mark.tf_only
def test_in_tf_data():
    import tensorflow as tf

    preprocessor = ASTPreprocessor.from_preset(CHECKPOINT)
    waves = outputs()["waveforms"]
    dataset = tf.data.Dataset.from_tensor_slices(waves).batch(2).map(preprocessor)
    features = next(iter(dataset)).numpy()
    assert features.dtype == np.float32
    np.testing.assert_allclose(features, outputs()["extracted"], atol=1e-5)
