"""AudioClassifier: logits of a Hugging Face `ASTForAudioClassification`
(tests/fixtures/hf_ast, a tiny random checkpoint written by
tools/make_ast_fixtures.py) <= 1e-4, waveform -> logits through the
preset's preprocessor, fit, `.keras` and preset round trips, the
registered preset, and errors."""

import os

import keras
import numpy as np
import pytest

from kerasmm.convert import CONVERTERS
from kerasmm.convert import detect
from kerasmm.models import ASTPreprocessor
from kerasmm.models import AudioSpectrogramTransformer
from kerasmm.models.presets import PRESETS
from kerasmm.tasks import AudioClassifier
from tests.test_case import TestCase

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "hf_ast")
CHECKPOINT = os.path.join(FIXTURES, "checkpoint")


def outputs():
    return np.load(os.path.join(FIXTURES, "outputs.npz"))


def test_hf_checkpoint_parity():
    assert detect(CHECKPOINT) == "hf_ast"
    model = AudioClassifier.from_preset(CHECKPOINT)
    assert isinstance(model.backbone, AudioSpectrogramTransformer)
    assert (model.backbone.frequency_stride, model.backbone.time_stride) == (10, 12)
    assert model.class_names == [f"sound_{i}" for i in range(5)]
    fixture = outputs()
    logits = np.asarray(model(fixture["features"]))
    assert logits.shape == (2, 5) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, fixture["logits"], atol=1e-4, rtol=0)
    backbone = model.backbone(fixture["features"])
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(backbone[key], fixture[key], atol=1e-4, rtol=0)
    # Waveforms -> the preset's preprocessor -> logits.
    features = ASTPreprocessor.from_preset(CHECKPOINT, feature_dtype="float32")(
        fixture["waveforms"])
    np.testing.assert_allclose(model(features), fixture["waveform_logits"], atol=1e-4)


class TestAudioClassifier(TestCase):
    def test_fit_and_round_trips(self, tmp_path):
        model = AudioClassifier.from_preset(CHECKPOINT)
        features = outputs()["features"]
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.run_model_test(model, features, loss=loss,
                            y=np.array([1, 3]), expected_output_shape=(2, 5),
                            frozen_weights=("key/bias",))  # Softmax ignores it: no gradient.
        model.save_to_preset(str(tmp_path))
        restored = AudioClassifier.from_preset(str(tmp_path))
        np.testing.assert_allclose(restored(features), model(features), atol=1e-6)
        assert restored.class_names == model.class_names


def test_registered_preset():
    entry = PRESETS["ast_audioset"]
    assert entry["class_name"] == "AudioClassifier"
    source = entry["sources"][0]
    assert source == {"converter": "hf_ast", "unpinned": True,
                      "hf_repo": "MIT/ast-finetuned-audioset-10-10-0.4593"}
    assert "hf_ast" in CONVERTERS
    assert list(entry["metrics"]["audioset_map"].values()) == [45.93]
    assert "ast_audioset" in AudioClassifier.presets
    with pytest.raises(ValueError, match="not pinned|allow_unpinned"):
        AudioClassifier.from_preset("ast_audioset")


def test_bad_inputs_and_arguments():
    model = AudioClassifier.from_preset(CHECKPOINT, load_weights=False)
    with pytest.raises(ValueError, match="num_mel_bins=36"):
        model(np.zeros((2, 60, 128), "float32"))
    with pytest.raises(ValueError, match="features must have shape"):
        model(np.zeros((60, 36), "float32"))
    with pytest.raises(ValueError, match="class_names must hold num_classes=5"):
        AudioClassifier(model.backbone, 5, class_names=["a", "b"])
    with pytest.raises(TypeError, match="backbone must be a Keras model"):
        AudioClassifier("ast", 5)
