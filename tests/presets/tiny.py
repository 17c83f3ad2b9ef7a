"""A tiny CLIP whose text tower reads the hf_clip_eos fixture's vocabulary."""

import numpy as np

from kerasmm.models import CLIP
from kerasmm.models import ModifiedResNet
from kerasmm.models import TextTransformer
from kerasmm.models import VisionTransformer

TEXT = dict(vocabulary_size=674, context_length=24, hidden_dim=16, num_layers=1,
            num_heads=2, output_dim=8)


def tiny_clip(resnet=False):
    if resnet:
        vision = ModifiedResNet(block_counts=(1, 1, 1, 1), width=4, num_heads=2,
                                output_dim=8, image_size=32)
    else:
        vision = VisionTransformer(image_size=32, patch_size=8, hidden_dim=16,
                                   num_layers=1, num_heads=2, output_dim=8)
    return CLIP(vision, TextTransformer(**TEXT), logit_scale_init=1.5)


def batch():
    rng = np.random.default_rng(0)
    token_ids = rng.integers(1, 673, (2, 24)).astype("int32")
    token_ids[:, 10] = 673
    return {"images": rng.normal(size=(2, 32, 32, 3)).astype("float32"),
            "token_ids": token_ids}


def without_names(config):
    """A config with its auto-generated layer names dropped, for comparisons."""
    if isinstance(config, dict):
        return {k: without_names(v) for k, v in config.items() if k != "name"}
    if isinstance(config, (list, tuple)):
        return [without_names(v) for v in config]
    return config
