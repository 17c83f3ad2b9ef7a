"""ViLT and CoAttentionTransformer with `patch_stem="conv"`: `.keras` round
trip (batch-norm statistics included), padded pixels masked out of the
overlapping stem, and errors naming the argument."""

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


def test_coattention_padded_image_with_mask_equals_the_unpadded_image():
    model = CoAttentionTransformer(**CONFIG, patch_stem="conv")
    rng = np.random.default_rng(2)
    randomize_batch_norms(model, rng)
    data = inputs(rng, height=8, width=12)
    padded = np.zeros((2, 16, 20, 3), "float32")
    padded[:, :8, :12] = data["images"]
    pixel_mask = np.zeros((2, 16, 20), "int32")
    pixel_mask[:, :8, :12] = 1
    small = model(data)
    big = model({**data, "images": padded, "pixel_mask": pixel_mask})
    np.testing.assert_allclose(big["pooled_output"], small["pooled_output"], atol=1e-5)
    unmasked = model({**data, "images": padded})
    assert np.abs(np.asarray(unmasked["pooled_output"])
                  - np.asarray(small["pooled_output"])).max() > 1e-3


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bad_patch_size_or_stem_names_the_argument(family):
    with pytest.raises(ValueError, match="patch_size must be a power of two.*patch_size=6"):
        FAMILIES[family](**{**CONFIG, "image_size": 24, "patch_size": 6}, patch_stem="conv")
    with pytest.raises(ValueError, match="patch_stem"):
        FAMILIES[family](**CONFIG, patch_stem="overlap")
