"""What every `kerasmm demo NAME` command does around its recipe.

Each demo has a config dataclass and a `run(config, verbose, log)` that
returns a dict of results. The command applies the parsed options to the
config (`demo_config`), refuses a bad output folder before anything is
built or trained, runs the recipe with a live progress bar on a terminal
and a line per epoch in a pipe or a log file, and with `--json` ends stdout
with one JSON line of chosen results (`json_line`).
"""

import dataclasses
import json
import sys

from kerasmm.recipes.output_dir import prepare_output_dir


def demo_config(args, config, overrides):
    """`config` with the parsed options named in `overrides` and `--overwrite`.

    An option that was not given (None, or absent from `args`) keeps the
    config's value; `args=None` keeps them all.

    Example:

    >>> import argparse
    >>> from kerasmm.recipes.caption_demo_config import CaptionDemoConfig
    >>> args = argparse.Namespace(epochs=2, seed=None, overwrite=True)
    >>> config = demo_config(args, CaptionDemoConfig.small(), ("epochs", "seed"))
    >>> config.epochs, config.seed == CaptionDemoConfig.small().seed, config.overwrite
    (2, True, True)
    """
    changes = {name: getattr(args, name) for name in overrides
               if getattr(args, name, None) is not None}
    return dataclasses.replace(config, overwrite=bool(getattr(args, "overwrite", False)),
                               **changes)


def json_line(results, keys):
    """One JSON line of `results[key]` for the `keys` present, floats (also
    inside dicts and lists) to 4 places.

    Example:

    >>> json_line({"accuracy": 0.912345, "by_type": {"color": 0.87654}, "epochs": 3},
    ...           ("accuracy", "by_type", "epochs", "missing"))
    '{"accuracy": 0.9123, "by_type": {"color": 0.8765}, "epochs": 3}'
    """
    return json.dumps({key: _rounded(results[key]) for key in keys if key in results})


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(item) for item in value]
    return value


def run_demo_command(args, config, run, json_keys):
    """Runs `run(config, verbose, log)` as a command; returns the exit status.

    The output folder is checked first: a bad one prints
    `kerasmm demo: error: ...` to stderr and returns 2 within a second. With
    `args.json` stdout ends with `json_line(results, json_keys)`.
    """
    try:  # Before anything is built or trained.
        prepare_output_dir(config.output_dir, config.overwrite)
    except ValueError as error:
        print(f"kerasmm demo: error: {error}", file=sys.stderr, flush=True)
        return 2
    results = run(config, verbose=1 if sys.stdout.isatty() else 2,
                  log=lambda line: print(line, flush=True))
    if getattr(args, "json", False):
        print(json_line(results, json_keys), flush=True)
    return 0
