"""An evaluation's results: CLIP_benchmark's JSON layout, plus kerasmm's details."""

import json
import math
import os

import keras

from kerasmm.version import __version__


def evaluation_results(task, metrics, config, model, **details):
    """The results dict of an evaluation.

    The first keys are those of CLIP_benchmark's result files (`dataset`,
    `model`, `pretrained`, `task`, `metrics`, `language`; `metrics` holds
    its metric keys), so the two sit side by side; `model` is the model
    class and `pretrained` the preset (or the `.keras` file). A metric
    CLIP_benchmark cannot compute (`acc5` with fewer than 5 classes) is None.
    Then: `preset`, `model_path`, the `details` (split, counts), the Keras
    backend and the kerasmm version.
    """
    return {
        "dataset": config.dataset,
        "model": type(model).__name__,
        "pretrained": config.model_path or config.preset,
        "task": task,
        "metrics": {key: None if isinstance(value, float) and math.isnan(value) else value
                    for key, value in metrics.items()},
        "language": "en",
        "preset": config.preset,
        "model_path": config.model_path,
        **details,
        "backend": keras.backend.backend(),
        "kerasmm_version": __version__,
    }


def write_results(results, path):
    """Writes `results` as JSON to `path` (its folder is created)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
        f.write("\n")


def format_metrics(results):
    """The metrics of `results` as `name  value` lines."""
    width = max(len(key) for key in results["metrics"])
    return "\n".join(
        f"{key:<{width}}  {'n/a' if value is None else f'{value:.4f}'}"
        for key, value in results["metrics"].items())
