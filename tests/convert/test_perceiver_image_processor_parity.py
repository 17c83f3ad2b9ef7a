"""kerasmm's Perceiver image preprocessing against Hugging Face's.

References made by transformers' `PerceiverImageProcessor` (torchvision and
PIL backends) in tools/make_parity_fixtures.py (`--perceiver-image-processor`):
size 28, crop_size 32, i.e. the default crop fraction 224 / 256.
"""

import json
import os

import numpy as np
import pytest

from kerasmm.preprocessing import PerceiverImagePreprocessor
from tests.convert.parity import fixture
from tests.convert.parity import reference


def _cases():
    with open(os.path.join(fixture("perceiver_image_processor"), "config.json")) as f:
        config = json.load(f)
    return config, reference("perceiver_image_processor")


@pytest.mark.parametrize("backend", ["torchvision", "pil"])
def test_image_preprocessing_close_to_hugging_face(backend):
    """Differences in 0..255 pixel levels, measured here on both backends:
    none when the crop is already 28x28 (no resize); max 0.98, mean 0.28 on
    a smooth image; on uniform noise max 14.4, mean 0.34 (downsampling) and
    max 12.4, mean 0.38 (upsampling). Noise is the worst case: PIL and
    torchvision resample in two passes, clipping and rounding to uint8 in
    between, so bicubic overshoots diverge; TensorFlow resamples in float."""
    config, arrays = _cases()
    size = config["image_size"]
    preprocess = PerceiverImagePreprocessor(
        image_size=size, center_crop_fraction=size / config["crop_size"],
        mean=config["mean"], std=config["std"])
    std = np.array(config["std"])
    resized = 0
    for i in range(config["num_images"]):
        image = arrays[f"image_{i}"]
        levels = np.abs(np.asarray(preprocess(image)) - arrays[f"{backend}_{i}"]) * std * 255
        if int(size / config["crop_size"] * min(image.shape[:2])) == size:
            assert levels.max() < 1e-3  # No resize: the same crop and normalisation.
        elif i == config["smooth_image"]:
            assert levels.max() < 2.0, levels.max()
        else:
            resized += 1
            assert levels.mean() < 1.0 and levels.max() < 16.0, (levels.mean(), levels.max())
    assert resized >= 2
