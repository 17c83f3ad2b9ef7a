"""ViLT and CoAttentionTransformer with `patch_stem="conv"`: `.keras` round
trip (batch-norm statistics included) and errors naming the argument (padded
pixels: the padding tests of test_vilt.py and test_coattention.py, both stems)."""

import numpy as np
import pytest

from kerasmm.models import CoAttentionTransformer
from kerasmm.models import ViLT
from kerasmm.tasks import VQAClassifier
from tests.models.vilt.test_vilt import CONFIG
from tests.models.vilt.test_vilt import inputs
from tests.models.vilt.test_vilt import randomize_batch_norms
from tests.test_case import TestCase

FAMILIES = {"vilt": ViLT, "coattention": CoAttentionTransformer}


class TestConvStem(TestCase):
    @pytest.mark.parametrize("family", sorted(FAMILIES))
    def test_vqa_classifier_keras_round_trip(self, family):
        backbone = FAMILIES[family](**CONFIG, patch_stem="conv")
        assert backbone.get_config()["patch_stem"] == "conv"
        model = VQAClassifier(backbone, num_answers=4)
        randomize_batch_norms(model, np.random.default_rng(0))
        restored = self.check_keras_round_trip(model, inputs(np.random.default_rng(1)),
                                               atol=1e-5)
        assert restored.backbone.patch_stem == "conv"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bad_patch_size_or_stem_names_the_argument(family):
    with pytest.raises(ValueError, match="patch_size must be a power of two.*patch_size=6"):
        FAMILIES[family](**{**CONFIG, "image_size": 24, "patch_size": 6}, patch_stem="conv")
    with pytest.raises(ValueError, match="patch_stem"):
        FAMILIES[family](**CONFIG, patch_stem="overlap")
