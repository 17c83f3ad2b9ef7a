"""Trains a small CLAP on the embedded sounds set and prints its held-out figures.

    python tools/train_clap_sounds.py [--epochs 20] [--seed 0]

Audio->text and text->audio Recall@1 over galleries of one clip per class
(chance 1/18), and zero-shot accuracy over the 18 pitch x kind classes,
seen and held-out (`kerasmm.recipes.clap_sounds`).
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kerasmm.recipes.clap_sounds import train_sounds_clap  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--num-train", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-per-class", type=int, default=10)
    args = parser.parse_args()
    start = time.time()
    _, results = train_sounds_clap(epochs=args.epochs, num_train=args.num_train,
                                   seed=args.seed, num_per_class=args.num_per_class)
    results["seconds"] = round(time.time() - start, 1)
    print(json.dumps({key: round(value, 4) for key, value in results.items()}, indent=1))


if __name__ == "__main__":
    main()
