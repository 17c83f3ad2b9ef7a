"""Perceiver IO presets (DeepMind, Hugging Face exports; converter hf_perceiver).

Plain data in the format of `kerasmm.presets.registry`; `PerceiverIO` and
`Perceiver` carry these as `family_presets`. ImageNet-1k top-1 (%) from
Jaegle et al. 2021 (Perceiver IO), Table 3 / the Hugging Face model cards.
Keys the CLIP presets use that do not apply to a modality are None.

Each Hub source takes its pin (commit and file sha256) from
`perceiver_pins.json` beside this file, written by `tools/pin_presets.py`;
a repo not in it is an unpinned source (see `kerasmm.presets.pins`).
"""

import os

from kerasmm.presets.pins import hub_source
from kerasmm.presets.pins import read_pins
from kerasmm.utils.constants import IMAGENET_MEAN
from kerasmm.utils.constants import IMAGENET_STD

PINS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "perceiver_pins.json")
_PINS = read_pins(PINS_FILE)
_PAPER = "Jaegle et al. 2021 (Perceiver IO)"
_VISION_PREPROCESSING = {
    # HF PerceiverImageProcessor: center crop 224/256 of the short side,
    # bicubic resize to 224, ImageNet mean/std.
    "image_size": 224,
    "mean": list(IMAGENET_MEAN),
    "std": list(IMAGENET_STD),
    "interpolation": "bicubic",
    "center_crop_fraction": 224 / 256,
    "context_length": None,
}


def _vision(variant, description, top1, download_size):
    return {
        "class_name": "PerceiverIO",
        "description": description,
        "sources": [hub_source("hf_perceiver", f"deepmind/vision-perceiver-{variant}", _PINS)],
        "preprocessing": dict(_VISION_PREPROCESSING),
        "download_size": download_size,
        "metrics": {"imagenet_top1": {_PAPER: top1}},
    }


PERCEIVER_PRESETS = {
    "perceiver_io_language": {
        "class_name": "PerceiverIO",
        "description": "Perceiver IO masked language model on UTF-8 bytes "
                       "(PerceiverForMaskedLM, 2048 bytes, 256 latents x 1280), "
                       "use with ByteTokenizer(add_special_tokens=True).",
        "sources": [hub_source("hf_perceiver", "deepmind/language-perceiver", _PINS)],
        "preprocessing": {"context_length": 2048, "pad_token_id": 0,
                          "tokenizer": "ByteTokenizer", "add_special_tokens": True,
                          "image_size": None, "mean": None, "std": None},
        "metrics": {},
    },
    "perceiver_io_vision_learned": _vision(
        "learned", "Perceiver IO ImageNet classifier, 1x1 conv + learned 2D "
        "position embeddings (PerceiverForImageClassificationLearned).", 72.7, None),
    "perceiver_io_vision_fourier": _vision(
        "fourier", "Perceiver IO ImageNet classifier on raw pixels with Fourier "
        "position features (PerceiverForImageClassificationFourier).", 79.0, "~194 MB"),
    "perceiver_io_vision_conv": _vision(
        "conv", "Perceiver IO ImageNet classifier with a conv + max-pool stem and "
        "Fourier positions (PerceiverForImageClassificationConvProcessing).", 82.1, None),
    "perceiver_io_multimodal": {
        "class_name": "PerceiverIO",
        "description": "Perceiver IO multimodal autoencoder on Kinetics-700 "
                       "(PerceiverForMultimodalAutoencoding): 16 frames of 224 x 224 "
                       "video, 30,720 audio samples in patches of 16 and a 700-way "
                       "label in; reconstructions out, decoded whole or in chunks "
                       "(`subsampled_points`).",
        "sources": [hub_source("hf_perceiver", "deepmind/multimodal-perceiver", _PINS)],
        "preprocessing": {"image_size": 224, "num_frames": 16, "audio_samples": 30720,
                          "samples_per_patch": 16, "num_labels": 700, "mean": None,
                          "std": None, "context_length": None},
        "metrics": {},
    },
}
