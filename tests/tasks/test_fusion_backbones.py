"""The fusion tasks on each fusion backbone (ViLT, MMBT, CoAttentionTransformer):
VQAClassifier fits and reloads from `.keras` with equal outputs; the other
heads take any of them."""

import keras
import numpy as np
import pytest

from kerasmm.models import MMBT
from kerasmm.models import CoAttentionTransformer
from kerasmm.models import ViLT
from kerasmm.tasks import ImageTextMatcher
from kerasmm.tasks import MultimodalClassifier
from kerasmm.tasks import VQAClassifier
from tests.test_case import TestCase

TEXT = dict(vocabulary_size=30, hidden_dim=8, num_layers=1, num_heads=2,
            max_sequence_length=6, intermediate_dim=12)


def make_backbone(name):
    if name == "vilt":
        return ViLT(image_size=16, patch_size=4, **TEXT)
    if name == "mmbt":
        encoder = keras.Sequential([keras.Input((16, 16, 3)),
                                    keras.layers.Conv2D(6, 8, strides=8, name="conv")])
        return MMBT(encoder, num_image_tokens=3, **TEXT)
    return CoAttentionTransformer(image_size=16, patch_size=4, **TEXT)


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {"images": rng.normal(size=(2, 16, 16, 3)).astype("float32"),
            "token_ids": rng.integers(1, 30, (2, 5)).astype("int32"),
            "padding_mask": np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)}


class TestFusionBackbones(TestCase):
    @pytest.mark.parametrize("name", [
        "vilt", "mmbt", pytest.param("coattention", marks=pytest.mark.slow)])
    def test_vqa_classifier_fit_and_keras_reload(self, name):
        model = VQAClassifier(make_backbone(name), num_answers=5)
        data = inputs(1)
        # ViLT's fit step is tested in tests/models/vilt.
        self.run_model_test(model, data, loss="sparse_categorical_crossentropy",
                            y=np.array([1, 3]), check_fit=name != "vilt",
                            check_saving=False, expected_output_shape=(2, 5))
        restored = self.check_keras_round_trip(model, data)  # Outputs equal to 1e-6.
        assert type(restored.backbone) is type(model.backbone)
        assert len(restored.weights) == len(model.weights)


@pytest.mark.parametrize("name", ["mmbt", "coattention"])
def test_other_heads_take_any_backbone(name):
    backbone = make_backbone(name)
    data = inputs(2)
    assert MultimodalClassifier(backbone, num_classes=3)(data).shape == (2, 3)
    matcher = ImageTextMatcher(backbone)
    assert matcher(data).shape == (2, 2)
    assert matcher.match_probability(data).shape == (2,)
