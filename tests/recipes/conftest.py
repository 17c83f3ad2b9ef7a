"""One short `fit` of the demo CLIP, shared by the recipe tests that need a trained model."""

import numpy as np
import pytest

from kerasmm import datasets
from kerasmm.losses import CLIPLoss
from kerasmm.recipes import ClipDemoConfig
from kerasmm.recipes import build_demo_clip
from kerasmm.recipes import train_clip


@pytest.fixture(scope="session")
def trained():
    """The demo CLIP after 12 steps on 32 examples, and the CLIP loss of its
    first batch before and after."""
    config = ClipDemoConfig(epochs=6)
    clip = build_demo_clip(config)
    dataset = datasets.shapes_dataset("train", batch_size=16, image_size=config.image_size,
                                      num_examples=32, shuffle=False)
    batch = {k: np.asarray(v) for k, v in next(iter(dataset)).items()}
    loss = CLIPLoss()
    before = float(loss(None, clip(batch)))
    history, seconds = train_clip(clip, dataset, config, verbose=0)
    after = float(loss(None, clip(batch)))
    return {"clip": clip, "history": history, "seconds": seconds,
            "before": before, "after": after}


@pytest.fixture(scope="session")
def trained_clip(trained):
    return trained["clip"]
