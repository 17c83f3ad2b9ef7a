"""Trains the shipped `shapes_clip_tiny` preset (the demo's CLIP) and saves it.

    python weights/train_shapes_clip_tiny.py [--seed 0] [--output-dir DIR] [--overwrite]

Runs `kerasmm.recipes.train_shapes_clip_tiny`: the same recipe as `kerasmm
demo` (every value from `kerasmm.recipes.ClipDemoConfig`), prints the demo's
evaluation, and writes the preset with `save_to_preset` into
kerasmm/weights/shapes_clip_tiny/ (package data), from where
`kerasmm.models.CLIP.from_preset("shapes_clip_tiny")` loads it offline. The
folder already holds the shipped preset: replacing it needs `--overwrite`.
"""

import argparse
import dataclasses
import json

from kerasmm.recipes import ShapesClipTinyConfig
from kerasmm.recipes import train_shapes_clip_tiny


def build_parser():
    """Options whose defaults are `ShapesClipTinyConfig()`'s values."""
    default = ShapesClipTinyConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=default.demo.seed)
    parser.add_argument("--output-dir", default=default.output_dir)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the preset already in --output-dir")
    return parser


def config_from_args(args):
    """The `ShapesClipTinyConfig` of parsed arguments."""
    default = ShapesClipTinyConfig()
    return dataclasses.replace(default, demo=dataclasses.replace(default.demo, seed=args.seed),
                               output_dir=args.output_dir, overwrite=args.overwrite)


def main(argv=None):
    metrics = train_shapes_clip_tiny(config_from_args(build_parser().parse_args(argv)))
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
