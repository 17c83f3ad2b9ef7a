"""Training the shipped `shapes_clip_tiny` preset: the demo's CLIP, saved as a preset.

`weights/train_shapes_clip_tiny.py` is the command line of this recipe;
`kerasmm.models.CLIP.from_preset("shapes_clip_tiny")` loads what it writes.
"""

import dataclasses
import json
import os
import tempfile

import keras

from kerasmm.datasets import shapes_tokenizer
from kerasmm.models import CLIPPreprocessor
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.recipes.clip_demo import run_clip_demo
from kerasmm.recipes.clip_demo_config import ClipDemoConfig
from kerasmm.recipes.output_dir import prepare_output_dir

# Package data: where `from_preset("shapes_clip_tiny")` finds the preset.
SHIPPED_PRESET_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights", "shapes_clip_tiny")
# The demo's results recorded next to the weights (`metrics.json`).
METRIC_KEYS = ("zero_shot_accuracy", "zero_shot_accuracy_held_out", "i2t_recall@1",
               "i2t_recall@5", "t2i_recall@1", "t2i_recall@5")
METRICS_FILENAME = "metrics.json"


@dataclasses.dataclass(frozen=True)
class ShapesClipTinyConfig:
    """The `shapes_clip_tiny` weights: the demo's recipe, and where the preset goes.

    Example:

    >>> config = ShapesClipTinyConfig()
    >>> config.demo == ClipDemoConfig(), os.path.basename(config.output_dir)
    (True, 'shapes_clip_tiny')
    """

    demo: ClipDemoConfig = dataclasses.field(default_factory=ClipDemoConfig)
    output_dir: str = SHIPPED_PRESET_DIR
    overwrite: bool = False  # replace a preset already in output_dir

    def __post_init__(self):
        if not isinstance(self.demo, ClipDemoConfig):
            raise ValueError(
                f"demo must be a ClipDemoConfig. Received: demo={self.demo!r}")


def train_shapes_clip_tiny(config=None, verbose=2, log=print):
    """Runs the demo recipe of `config.demo`, saves the CLIP as a preset.

    The preset folder is checked first (refused when not empty unless
    `config.overwrite`), then `run_clip_demo` trains in a temporary folder;
    the trained model is written with `save_to_preset` (with a
    `CLIPPreprocessor` of the shapes tokenizer and the demo's image
    preprocessing) into `config.output_dir` beside `metrics.json` (the seed
    and the demo's `METRIC_KEYS`).

    Returns:
        dict: the `METRIC_KEYS` results, rounded to 4 decimals.
    """
    config = config or ShapesClipTinyConfig()
    target = prepare_output_dir(config.output_dir, config.overwrite)
    with tempfile.TemporaryDirectory() as scratch:
        demo = dataclasses.replace(config.demo, output_dir=scratch)
        results = run_clip_demo(demo, verbose=verbose, log=log)
        clip = keras.saving.load_model(results["model_path"])
    preprocessor = CLIPPreprocessor(
        tokenizer=shapes_tokenizer(),
        # What the demo feeds the model (`load_test_split`).
        image_preprocessor=CLIPImagePreprocessor(config.demo.image_size))
    clip.save_to_preset(target, preprocessor=preprocessor, overwrite=config.overwrite)
    metrics = {key: round(float(results[key]), 4) for key in METRIC_KEYS}
    with open(os.path.join(target, METRICS_FILENAME), "w") as f:
        json.dump({"seed": config.demo.seed, **metrics}, f, indent=2)
    return metrics
