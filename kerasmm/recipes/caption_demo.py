"""The `kerasmm demo caption` recipe: a small CoCa learns to caption the shapes scenes.

`run_caption_demo(config)` checks the output folder, builds the CoCa
(`build_caption_coca`), trains it with `fit` and `CoCaLoss`
(`train_caption_model`), captions the test split's scenes greedily and
with beam search and scores them (`evaluate_captioner`: BLEU-4, CIDEr-D,
exact match, single-shape scenes of seen and held-out colour x shape
combinations apart), saves the model as `.keras` and returns the results.
Every value it uses comes from one `CaptionDemoConfig`.
"""

import os

import keras

from kerasmm.recipes.caption_demo_config import CaptionDemoConfig
from kerasmm.recipes.caption_evaluation import evaluate_captioner
from kerasmm.recipes.caption_evaluation import format_caption_results
from kerasmm.recipes.caption_training import build_caption_coca
from kerasmm.recipes.caption_training import caption_train_dataset
from kerasmm.recipes.caption_training import train_caption_model
from kerasmm.recipes.demo_command import demo_config
from kerasmm.recipes.demo_command import run_demo_command
from kerasmm.recipes.output_dir import prepare_output_dir

# What `--json` prints: greedy scores, beam CIDEr, and the run.
JSON_KEYS = ("bleu_4", "cider_d", "exact_match", "exact_match_single",
             "exact_match_single_seen", "exact_match_single_held_out",
             "exact_match_two_shapes", "beam_cider_d", "beam_exact_match_single",
             "train_seconds", "final_loss", "model_path", "epochs", "steps_per_epoch",
             "batch_size", "seed", "backend")
# `kerasmm demo` options that override a config field of the same name.
OVERRIDES = ("epochs", "steps_per_epoch", "batch_size", "seed", "output_dir")


def run_caption_demo(config=None, verbose="auto", log=print):
    """Builds, trains, evaluates and saves the demo CoCa.

    The output folder is checked first (`prepare_output_dir`): a folder
    holding anything is refused unless `config.overwrite`, before any
    training.

    Args:
        config: a `CaptionDemoConfig` (default: `CaptionDemoConfig()`).
        verbose: `fit`'s verbosity.
        log: receives the human-readable lines.

    Returns:
        dict: the greedy scores of `score_captions` at the top level,
        `beam_*` the beam-search ones, `examples`, `train_seconds`,
        `final_loss`, `model_path`, `epochs`, `steps_per_epoch`,
        `batch_size`, `seed` and `backend`.
    """
    config = config or CaptionDemoConfig()
    output_dir = prepare_output_dir(config.output_dir, config.overwrite)
    coca = build_caption_coca(config)
    dataset, steps = caption_train_dataset(config)
    log(f"Training a {coca.count_params():,}-parameter CoCa on shapes captions: "
        f"{config.epochs} epochs x {config.steps_per_epoch} steps of "
        f"{config.batch_size} (backend: {keras.backend.backend()})")
    history, seconds = train_caption_model(coca, dataset, config, steps, verbose=verbose)
    evaluation = evaluate_captioner(coca, config)
    log(f"Captions of {config.num_test} test scenes (trained {seconds:.0f} s):")
    log(format_caption_results(evaluation))
    model_path = os.path.join(output_dir, config.model_filename)
    coca.save(model_path)
    log(f"Model saved to {model_path}")
    return summarize_caption_run(evaluation, history, seconds, model_path, config)


def summarize_caption_run(evaluation, history, seconds, model_path, config):
    """A captioning demo's results: the greedy scores of `evaluate_captioner`
    at the top level, `beam_*` the beam-search ones, and the run."""
    results = dict(evaluation["greedy"])
    results.update({f"beam_{key}": value for key, value in evaluation["beam"].items()})
    results.update({
        "examples": evaluation["examples"],
        "train_seconds": seconds,
        "final_loss": float(history.history["loss"][-1]),
        "model_path": model_path,
        "backend": keras.backend.backend(),
        **{name: getattr(config, name)
           for name in ("epochs", "steps_per_epoch", "batch_size", "seed")},
    })
    return results


def caption_demo_config(args, config_class=CaptionDemoConfig):
    """The `config_class` of parsed `kerasmm demo caption` arguments (None: default)."""
    config = config_class.small() if getattr(args, "small", False) else config_class()
    return demo_config(args, config, OVERRIDES)


def run_caption_demo_command(args):
    """`kerasmm demo caption`: runs the demo; with `--json` ends stdout with the results."""
    return run_demo_command(args, caption_demo_config(args), run_caption_demo, JSON_KEYS)
