"""Trains the shipped `shapes_diffusion_tiny` preset (text-to-image) and scores it.

    python weights/train_shapes_diffusion_tiny.py [--epochs N] [--seed 0]
        [--output-dir DIR] [--checkpoint-dir DIR] [--overwrite]
    python weights/train_shapes_diffusion_tiny.py --evaluate-only [--output-dir DIR]

Runs `kerasmm.recipes.generate_demo_weights.train_shapes_diffusion_tiny`:
the `kerasmm demo generate` recipe with `GenerateDemoConfig.shipped()` (a
~1.09M-parameter `TextToImageDiffusion` predicting v, min-SNR weighted, learns the single-shape scenes of
the shapes train split, 32x32x3, their captions as prompts, with `fit`;
the five `HELD_OUT_COMBOS` are never seen), saves it with `save_to_preset`
(EMA weights and its `TextToImagePreprocessor`) into
kerasmm/weights/shapes_diffusion_tiny/ (package data), then scores it
(`evaluate_preset`: the shapes reader and `shapes_clip_tiny` reading
samples of the 30 "a {colour} {shape}" prompts and of test captions,
seen and held-out combinations apart, per-pixel diversity) into
`metrics.json` there. `--checkpoint-dir` keeps a preset after every epoch;
`--evaluate-only` scores the preset already in `--output-dir` (or a
checkpoint). Seeded: the same seed gives the same weights on a backend.
"""

import argparse
import dataclasses
import json

from kerasmm.recipes.generate_demo_config import GenerateDemoConfig
from kerasmm.recipes.generate_demo_weights import SHIPPED_PRESET_DIR
from kerasmm.recipes.generate_demo_weights import evaluate_preset
from kerasmm.recipes.generate_demo_weights import train_shapes_diffusion_tiny


def main(argv=None):
    default = GenerateDemoConfig.shipped()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument("--epochs", type=int, default=default.epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=default.steps_per_epoch)
    parser.add_argument("--output-dir", default=SHIPPED_PRESET_DIR)
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--png", default=None, help="also write a PNG of samples there")
    parser.add_argument("--num-steps", type=int, default=default.num_steps,
                        help="sampling steps of the scores")
    parser.add_argument("--num-samples", type=int, default=default.num_samples,
                        help="samples per combination prompt")
    parser.add_argument("--num-test", type=int, default=default.num_test,
                        help="test captions sampled once each")
    args = parser.parse_args(argv)
    config = dataclasses.replace(default, seed=args.seed, epochs=args.epochs,
                                 steps_per_epoch=args.steps_per_epoch,
                                 num_steps=args.num_steps, num_samples=args.num_samples,
                                 num_test=args.num_test)
    extra = {"epochs": config.epochs, "steps_per_epoch": config.steps_per_epoch,
             "batch_size": config.batch_size}
    if not args.evaluate_only:
        _, _, seconds = train_shapes_diffusion_tiny(config, args.output_dir,
                                                    args.checkpoint_dir, args.overwrite)
        extra["train_seconds"] = round(seconds)
    print(json.dumps(evaluate_preset(args.output_dir, config, args.png, extra)))


if __name__ == "__main__":
    main()
