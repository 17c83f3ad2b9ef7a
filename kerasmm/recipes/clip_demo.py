"""The `kerasmm demo` recipe: a small CLIP learns the shapes dataset in minutes.

`run_clip_demo(config)` checks the output folder, builds the CLIP
(`build_demo_clip`), trains it with `fit` and `CLIPLoss` (`train_clip`),
evaluates zero-shot accuracy over the 30 colour x shape classes (seen and
held out) and Recall@K both ways on the test split (`evaluate_clip`), saves
the model as `.keras` (`save_clip`) and a PNG of text queries with their
top images (`save_retrievals`), and returns the results. Every value it
uses comes from one `ClipDemoConfig`.
"""

import os

import keras

from kerasmm.recipes.clip_demo_config import ClipDemoConfig
from kerasmm.recipes.clip_evaluation import evaluate_clip
from kerasmm.recipes.clip_evaluation import format_results
from kerasmm.recipes.clip_evaluation import load_test_split
from kerasmm.recipes.clip_retrievals import save_retrievals
from kerasmm.recipes.clip_training import build_demo_clip
from kerasmm.recipes.clip_training import demo_train_dataset
from kerasmm.recipes.clip_training import train_clip
from kerasmm.recipes.output_dir import prepare_output_dir


def save_clip(clip, config):
    """Saves `clip` as `config.output_dir/config.model_filename`; returns the path."""
    path = os.path.join(os.path.abspath(config.output_dir), config.model_filename)
    clip.save(path)
    return path


def run_clip_demo(config=None, verbose="auto", log=print):
    """Builds, trains, evaluates and saves the demo CLIP; writes the PNG.

    The output folder is checked first (`prepare_output_dir`): a folder
    holding anything is refused unless `config.overwrite`, before any
    training.

    Args:
        config: a `ClipDemoConfig` (default: `ClipDemoConfig()`, the demo).
        verbose: `fit`'s verbosity.
        log: receives the human-readable lines.

    Returns:
        dict: `evaluate_clip`'s results plus `train_seconds`, `model_path`,
        `png_path`, `final_loss`, `epochs`, `steps_per_epoch`,
        `batch_size`, `seed` and `backend`.
    """
    config = config or ClipDemoConfig()
    output_dir = prepare_output_dir(config.output_dir, config.overwrite)
    clip = build_demo_clip(config)
    dataset, steps = demo_train_dataset(config)
    log(f"Training a {clip.count_params():,}-parameter CLIP on shapes: "
        f"{config.epochs} epochs x {config.steps_per_epoch} steps of "
        f"{config.batch_size} (backend: {keras.backend.backend()})")
    history, seconds = train_clip(clip, dataset, config, steps, verbose=verbose)
    test_data = load_test_split(config)
    results = evaluate_clip(clip, config, test_data=test_data)
    log(format_results(results))
    model_path = save_clip(clip, config)
    png_path = save_retrievals(
        clip, test_data, os.path.join(output_dir, config.png_filename), config)
    log(f"Model saved to {model_path}")
    log(f"Retrievals saved to {png_path}")
    results.update({
        "train_seconds": seconds,
        "model_path": model_path,
        "png_path": png_path,
        "final_loss": float(history.history["loss"][-1]),
        "epochs": config.epochs,
        "steps_per_epoch": config.steps_per_epoch,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "backend": keras.backend.backend(),
    })
    return results
