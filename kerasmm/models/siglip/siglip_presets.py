"""SigLIP presets: plain data, one entry per named preset (converter hf_siglip).

The entry format is described in `kerasmm.presets.registry`; `SigLIP`
carries these as `SigLIP.family_presets`. Zero-shot ImageNet-1k top-1 (%):
"open_clip" is open_clip's docs/openclip_classification_results.csv (its
copies of the same big_vision checkpoints); "big_vision" is
big_vision/configs/proj/image_text/README_siglip2.md (the SigLIP 2 paper's
numbers).

Each Hub source takes its pin (commit and file sha256) from
`siglip_pins.json` beside this file, written by `tools/pin_presets.py`; a
repo not in it is an unpinned source, which `from_preset` downloads only
with `allow_unpinned=True` (see `kerasmm.presets.pins`).

`params` is counted from the architecture; `download_size` is 4 bytes per
parameter (float32 safetensors), approximate.
"""

import os

from kerasmm.presets.pins import hub_source
from kerasmm.presets.pins import read_pins
from kerasmm.utils.constants import HALF_MEAN
from kerasmm.utils.constants import HALF_STD

PINS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "siglip_pins.json")
_PINS = read_pins(PINS_FILE)
_OPEN_CLIP = "open_clip docs/openclip_classification_results.csv"
_BIG_VISION = "big_vision configs/proj/image_text/README_siglip2.md"
# big_vision's `resize(size)|value_range(-1, 1)` and texts padded to 64 tokens.
_IMAGE_PREPROCESSING = {
    "mean": list(HALF_MEAN),
    "std": list(HALF_STD),
    "interpolation": "bilinear",
    "antialias": False,
    "context_length": 64,
}
# SigLIP: the T5-style `spiece.model`, texts lowercased without punctuation.
_SIGLIP_TEXT = {"tokenizer_file": "spiece.model", "lowercase": True, "canonicalize": True,
                "end_token": "</s>", "pad_token": "</s>"}
# SigLIP 2: Gemma's `tokenizer.model`, texts lowercased (big_vision's demo).
_SIGLIP2_TEXT = {"tokenizer_file": "tokenizer.model", "lowercase": True,
                 "canonicalize": False, "end_token": "<eos>", "pad_token": "<pad>"}


def _entry(description, hf_repo, image_size, text, params, download_size, metrics):
    return {
        "class_name": "SigLIP",
        "description": description,
        "sources": [hub_source("hf_siglip", hf_repo, _PINS)],
        "preprocessing": dict(_IMAGE_PREPROCESSING, image_size=image_size, **text),
        "params": params,
        "download_size": download_size,
        "metrics": {"imagenet_zero_shot_top1": metrics},
    }


SIGLIP_PRESETS = {
    # === SigLIP (Zhai et al. 2023, WebLI English) ===
    "siglip_base_patch16_224": _entry(
        "SigLIP ViT-B/16, 224x224 images, 768-d embeddings, 32k vocabulary.",
        "google/siglip-base-patch16-224", 224, _SIGLIP_TEXT, "203.16M", "~813 MB",
        {_OPEN_CLIP: 76.04}),
    "siglip_base_patch16_384": _entry(
        "SigLIP ViT-B/16 at 384x384 images, 768-d embeddings, 32k vocabulary.",
        "google/siglip-base-patch16-384", 384, _SIGLIP_TEXT, "203.45M", "~814 MB",
        {_OPEN_CLIP: 78.49}),
    "siglip_so400m_patch14_384": _entry(
        "SigLIP So400m/14 (shape-optimised ViT), 384x384 images, 1152-d embeddings, "
        "32k vocabulary.",
        "google/siglip-so400m-patch14-384", 384, _SIGLIP_TEXT, "877.96M", "~3.51 GB",
        {_OPEN_CLIP: 83.08}),
    # === SigLIP 2 (Tschannen et al. 2025), fixed resolution ===
    "siglip2_base_patch16_224": _entry(
        "SigLIP 2 ViT-B/16, 224x224 images, 768-d embeddings, multilingual (Gemma "
        "tokenizer, 256k vocabulary).",
        "google/siglip2-base-patch16-224", 224, _SIGLIP2_TEXT, "375.19M", "~1.50 GB",
        {_BIG_VISION: 78.2}),
    "siglip2_so400m_patch14_384": _entry(
        "SigLIP 2 So400m/14, 384x384 images, 1152-d embeddings, multilingual (Gemma "
        "tokenizer, 256k vocabulary).",
        "google/siglip2-so400m-patch14-384", 384, _SIGLIP2_TEXT, "1136.01M", "~4.54 GB",
        {_BIG_VISION: 84.1}),
}
