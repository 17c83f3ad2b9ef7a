"""Trains the shipped `shapes_clip_tiny` preset (the demo's CLIP) and saves it.

    python weights/train_shapes_clip_tiny.py [--seed 0]

Runs the same recipe as `kerasmm demo` (kerasmm/demo.py), prints the demo's
evaluation, and writes the preset with `save_to_preset` into
kerasmm/weights/shapes_clip_tiny/ (package data), from where
`kerasmm.models.CLIP.from_preset("shapes_clip_tiny")` loads it offline.
"""

import argparse
import json
import os
import tempfile

import keras

import kerasmm
from kerasmm import demo

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(os.path.dirname(HERE), "kerasmm", "weights", "shapes_clip_tiny")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default=TARGET)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = demo.run_demo(seed=args.seed, output_dir=scratch, verbose=2)
        clip = keras.saving.load_model(results["model_path"])
    clip.save_to_preset(
        args.output_dir, tokenizer=kerasmm.datasets.shapes_tokenizer(),
        # What the demo feeds the model (kerasmm.demo.shapes_test_data).
        image_preprocessor=kerasmm.preprocessing.CLIPImagePreprocessor(32))
    metrics = {k: round(float(results[k]), 4) for k in (
        "zero_shot_accuracy", "zero_shot_accuracy_held_out", "i2t_recall@1",
        "i2t_recall@5", "t2i_recall@1", "t2i_recall@5")}
    with open(os.path.join(args.output_dir, "metrics.json"), "w") as f:
        json.dump({"seed": args.seed, **metrics}, f, indent=2)
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
