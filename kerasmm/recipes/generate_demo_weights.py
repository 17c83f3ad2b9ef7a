"""Training the shipped `shapes_diffusion_tiny` preset: the generate demo, trained longer.

`weights/train_shapes_diffusion_tiny.py` is the command line of this recipe;
`kerasmm.models.TextToImageDiffusion.from_preset("shapes_diffusion_tiny")`
loads what it writes, and `kerasmm generate` uses it.
"""

import json
import os

import keras

from kerasmm.models import TextToImageDiffusion
from kerasmm.models import TextToImagePreprocessor
from kerasmm.recipes.generate_demo import build_generator
from kerasmm.recipes.generate_demo import evaluate_generator
from kerasmm.recipes.generate_demo import format_generate_results
from kerasmm.recipes.generate_demo import generator_train_data
from kerasmm.recipes.generate_demo import save_samples_png
from kerasmm.recipes.generate_demo import train_generator
from kerasmm.recipes.generate_demo_config import GenerateDemoConfig
from kerasmm.recipes.shapes_reader import load_shapes_reader

SHIPPED_PRESET_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights",
    "shapes_diffusion_tiny")
METRICS_FILENAME = "metrics.json"


class EmaCheckpoint(keras.callbacks.Callback):
    """Saves the model with its EMA weights as a preset into `directory/epoch_N`
    after each epoch, then puts the raw weights back and training goes on."""

    def __init__(self, directory, preprocessor):
        super().__init__()
        self.directory, self.preprocessor = directory, preprocessor

    def on_epoch_end(self, epoch, logs=None):
        variables = self.model.trainable_variables
        raw = [keras.ops.convert_to_numpy(v) for v in variables]
        self.model.optimizer.finalize_variable_values(variables)
        self.model.save_to_preset(os.path.join(self.directory, f"epoch_{epoch + 1}"),
                                  preprocessor=self.preprocessor, overwrite=True)
        for variable, value in zip(variables, raw):
            variable.assign(value)


def train_shapes_diffusion_tiny(config=None, output_dir=SHIPPED_PRESET_DIR,
                                checkpoint_dir=None, overwrite=False, verbose=2, log=print):
    """Trains the generator of `config` (default `GenerateDemoConfig.shipped()`)
    and saves it (EMA weights, with its `TextToImagePreprocessor`) as a preset
    in `output_dir`; with `checkpoint_dir`, also after every epoch.

    Returns:
        `(model, preprocessor, seconds)`.
    """
    config = config or GenerateDemoConfig.shipped()
    model, preprocessor = build_generator(config)
    data = generator_train_data(config, preprocessor)
    log(f"{model.count_params():,} parameters; {len(data['images'])} single-shape scenes; "
        f"{config.epochs} x {config.steps_per_epoch} steps of {config.batch_size}")
    callbacks = [EmaCheckpoint(checkpoint_dir, preprocessor)] if checkpoint_dir else []
    _, seconds = train_generator(model, data, config, verbose=verbose, callbacks=callbacks)
    model.save_to_preset(output_dir, preprocessor=preprocessor, overwrite=overwrite)
    return model, preprocessor, seconds


def evaluate_preset(preset=SHIPPED_PRESET_DIR, config=None, png_path=None, extra=None,
                    log=print):
    """Scores a `TextToImageDiffusion` preset like the demo (`evaluate_generator`
    with `config`, default `GenerateDemoConfig.shipped()`); writes the scores
    into `metrics.json` there when `preset` is a directory, and a PNG of
    samples to `png_path`.

    Returns:
        dict: the scores (no `per_prompt` or samples).
    """
    config = config or GenerateDemoConfig.shipped()
    model = TextToImageDiffusion.from_preset(preset)
    preprocessor = TextToImagePreprocessor.from_preset(preset)
    reader = load_shapes_reader()
    results = evaluate_generator(model, preprocessor, config, reader)
    log(format_generate_results(results))
    samples = results.pop("samples")
    if png_path:
        save_samples_png(png_path, samples, reader)
    per_prompt = results.pop("per_prompt")
    metrics = {"seed": config.seed, "sampler": config.sampler, "num_steps": config.num_steps,
               "guidance_scale": config.guidance_scale, "num_samples": config.num_samples,
               "num_test": config.num_test, **(extra or {}),
               **{k: round(v, 4) for k, v in results.items()}}
    if os.path.isdir(preset):
        with open(os.path.join(preset, METRICS_FILENAME), "w") as f:
            json.dump({**metrics, "per_prompt": {
                p: {k: round(v, 4) for k, v in row.items()} for p, row in per_prompt.items()}},
                f, indent=2)
    return metrics
