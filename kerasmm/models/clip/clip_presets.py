"""CLIP presets: plain data, one entry per named preset.

The entry format is described in `kerasmm.presets.registry`; `CLIP`
carries these as `CLIP.family_presets`. Zero-shot ImageNet-1k top-1 (%):
"paper" is Radford et al. 2021; "open_clip" is open_clip's
docs/openclip_classification_results.csv.

Each Hub source takes its pin (commit and file sha256) from
`clip_pins.json` beside this file, written by `tools/pin_presets.py`; a
repo not in it is an unpinned source, which `from_preset` downloads only
with `allow_unpinned=True` (see `kerasmm.presets.pins`).
"""

import os

from kerasmm.presets.pins import hub_source
from kerasmm.presets.pins import read_pins
from kerasmm.utils.constants import OPENAI_CLIP_MEAN
from kerasmm.utils.constants import OPENAI_CLIP_STD

_OPENAI_PREPROCESSING = {
    "mean": list(OPENAI_CLIP_MEAN),
    "std": list(OPENAI_CLIP_STD),
    "interpolation": "bicubic",
    "context_length": 77,
}
PINS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clip_pins.json")
_PINS = read_pins(PINS_FILE)
_PAPER = "Radford et al. 2021"
_OPEN_CLIP = "open_clip docs/openclip_classification_results.csv"


def _openai_vit(hf_repo, timm_repo, image_size):
    """OpenAI ViT weights: the HF transformers export, else open_clip's copy."""
    return {
        "sources": [
            hub_source("hf_clip", hf_repo, _PINS),
            hub_source("open_clip", timm_repo, _PINS),
        ],
        "preprocessing": dict(_OPENAI_PREPROCESSING, image_size=image_size),
    }


CLIP_PRESETS = {
    # === CLIP (OpenAI) ===
    "clip_vit_b32_openai": {
        "class_name": "CLIP",
        "description": "OpenAI CLIP ViT-B/32, 224x224 images, 512-d embeddings.",
        **_openai_vit("openai/clip-vit-base-patch32",
                      "timm/vit_base_patch32_clip_224.openai", 224),
        "params": "151.28M",
        "download_size": "~605 MB",
        "metrics": {"imagenet_zero_shot_top1": {_PAPER: 63.2, _OPEN_CLIP: 63.32}},
    },
    "clip_vit_b16_openai": {
        "class_name": "CLIP",
        "description": "OpenAI CLIP ViT-B/16, 224x224 images, 512-d embeddings.",
        **_openai_vit("openai/clip-vit-base-patch16",
                      "timm/vit_base_patch16_clip_224.openai", 224),
        "params": "149.62M",
        "download_size": "~599 MB",
        "metrics": {"imagenet_zero_shot_top1": {_PAPER: 68.6, _OPEN_CLIP: 68.34}},
    },
    "clip_vit_l14_openai": {
        "class_name": "CLIP",
        "description": "OpenAI CLIP ViT-L/14, 224x224 images, 768-d embeddings.",
        **_openai_vit("openai/clip-vit-large-patch14",
                      "timm/vit_large_patch14_clip_224.openai", 224),
        "params": "427.62M",
        "download_size": "~1.71 GB",
        "metrics": {"imagenet_zero_shot_top1": {_PAPER: 75.3, _OPEN_CLIP: 75.54}},
    },
    "clip_vit_l14_336_openai": {
        "class_name": "CLIP",
        "description": "OpenAI CLIP ViT-L/14 at 336x336 images, 768-d embeddings.",
        **_openai_vit("openai/clip-vit-large-patch14-336",
                      "timm/vit_large_patch14_clip_336.openai", 336),
        "params": "427.94M",
        "download_size": "~1.71 GB",
        "metrics": {"imagenet_zero_shot_top1": {_OPEN_CLIP: 76.56}},
    },
    "clip_rn50_openai": {
        "class_name": "CLIP",
        "description": "OpenAI CLIP ResNet-50 (ModifiedResNet, attention pooling), "
                       "224x224 images, 1024-d embeddings.",
        "sources": [hub_source("open_clip", "timm/resnet50_clip.openai", _PINS)],
        "preprocessing": dict(_OPENAI_PREPROCESSING, image_size=224),
        "params": "102.01M",
        "download_size": "~408 MB",
        "metrics": {"imagenet_zero_shot_top1": {_OPEN_CLIP: 59.82}},
    },
    # === CLIP (LAION, open_clip) ===
    "clip_vit_b32_laion2b": {
        "class_name": "CLIP",
        "description": "open_clip ViT-B/32 trained on LAION-2B (34B samples, "
                       "batch 79K), GELU, 224x224 images, 512-d embeddings.",
        "sources": [
            hub_source("open_clip", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", _PINS),
            hub_source("hf_clip", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", _PINS),
        ],
        "preprocessing": dict(_OPENAI_PREPROCESSING, image_size=224),
        "params": "151.28M",
        "download_size": "~605 MB",
        "metrics": {"imagenet_zero_shot_top1": {_OPEN_CLIP: 66.56}},
    },
    # === Trained here ===
    "shapes_clip_tiny": {
        "class_name": "CLIP",
        "description": "A tiny CLIP trained by `kerasmm demo` on the embedded shapes "
                       "dataset (weights/train_shapes_clip_tiny.py); ships with "
                       "kerasmm, works offline.",
        "package_data": "shapes_clip_tiny",
        "metrics": {},
    },
}
