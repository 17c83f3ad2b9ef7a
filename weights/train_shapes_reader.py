"""Trains the shipped shapes reader (colour and shape of single-shape images).

    python weights/train_shapes_reader.py [--seed 0] [--num-per-class 100]
                                          [--epochs 6] [--output-dir DIR]

Runs `kerasmm.recipes.shapes_reader.train_shapes_reader`: a small conv net
trained on real images of all 30 colour x shape combinations rendered by
`kerasmm.datasets.shapes` (5 render sizes resized to 32x32, shifted,
noised). It is a measuring instrument for generated images, not a
generator: the held-out combinations are held out of the *generator's*
training only. Writes `reader.weights.h5` and `metrics.json` (accuracy on
fresh images of another seed, at 32 and 64 pixels) into
kerasmm/weights/shapes_reader/ (package data), which
`kerasmm.recipes.shapes_reader.load_shapes_reader()` reads.
"""

import argparse
import json

from kerasmm.recipes.shapes_reader import READER_DIR
from kerasmm.recipes.shapes_reader import train_shapes_reader


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-per-class", type=int, default=100,
                        help="images per combination and render size (default 100)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--output-dir", default=READER_DIR)
    args = parser.parse_args(argv)
    _, metrics = train_shapes_reader(args.output_dir, seed=args.seed,
                                     num_per_class=args.num_per_class, epochs=args.epochs)
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
