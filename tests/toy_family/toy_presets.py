"""Toy presets: plain data (see kerasmm.presets.registry for the format)."""

import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

TOY_PRESETS = {
    "toy_hf_tiny": {
        "class_name": "ToyBackbone",
        "description": "A tiny Hugging Face-style toy checkpoint, converted on load.",
        "directory": os.path.join(FIXTURES, "toy_hf_tiny"),
    },
}
