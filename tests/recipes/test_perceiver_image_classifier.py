"""The Perceiver IO image job learns (small mode) and reaches 0.9 held-out
accuracy (full mode, slow), against chance counted from the data."""

import dataclasses

import numpy as np
import pytest

from kerasmm.datasets import SHAPES
from kerasmm.recipes import PerceiverImageClassifierConfig
from kerasmm.recipes import build_image_classifier
from kerasmm.recipes import single_shape_images
from kerasmm.recipes import train_image_classifier


def test_single_shape_images_are_single_shapes_with_their_kind():
    images, labels = single_shape_images("validation", 200, image_size=32)
    assert images.shape[1:] == (32, 32, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert len(images) == len(labels) and 60 <= len(labels) <= 140  # about half of 200
    assert set(np.unique(labels)) <= set(range(len(SHAPES)))
    # Every kept image shows a shape: the background is at most 60 + 6 of 255.
    bright = images.max(axis=-1) > 0.45
    assert bright.any(axis=(1, 2)).all()


def test_config_small_and_validation():
    full, small = PerceiverImageClassifierConfig(), PerceiverImageClassifierConfig.small()
    assert small.num_train_scenes < full.num_train_scenes and small.epochs < full.epochs
    assert {f.name for f in dataclasses.fields(full)
            if getattr(full, f.name) != getattr(small, f.name)} == {
        "num_train_scenes", "num_val_scenes", "epochs", "batch_size"}
    with pytest.raises(ValueError, match="preprocessing must be one of"):
        PerceiverImageClassifierConfig(preprocessing="pixels")
    with pytest.raises(ValueError, match="image_size must be an integer >= 16"):
        PerceiverImageClassifierConfig(image_size=8)


@pytest.mark.parametrize("preprocessing", ["conv", "patches"])
def test_build_image_classifier_outputs_one_logit_per_shape(preprocessing):
    config = PerceiverImageClassifierConfig(preprocessing=preprocessing, num_latents=4,
                                            latent_dim=8)
    model = build_image_classifier(config)
    out = model(np.zeros((2, config.image_size, config.image_size, 3), "float32"))
    assert tuple(out.shape) == (2, len(SHAPES))


@pytest.mark.slow  # ~20 s of CPU
def test_image_classifier_small_beats_chance():
    config = PerceiverImageClassifierConfig.small()
    result = train_image_classifier(config)
    _, val_labels = single_shape_images("validation", config.num_val_scenes)
    majority = np.bincount(val_labels).max() / len(val_labels)  # best constant guess
    assert result["num_val"] == len(val_labels) and result["epochs"] == config.epochs
    assert result["val_accuracy"] >= majority + 0.2, result["val_accuracy"]


@pytest.mark.slow  # the full job: ~90 s of CPU, 2-6 minutes wall on a loaded machine
def test_image_classifier_full_reaches_ninety_percent():
    result = train_image_classifier()
    assert result["num_val"] >= 900
    assert result["val_accuracy"] >= 0.9, result["history"]
