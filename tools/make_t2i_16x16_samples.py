"""Trains the 16x16x1 TextToImageDiffusion of the learning proof and saves a sample grid.

Writes docs/t2i_16x16_samples.png (rows: "circle", "square", "triangle";
the first column is a real training image) and prints the scores (reader
accuracy on generated and real images, per-pixel diversity). Run:

    python tools/make_t2i_16x16_samples.py [steps]
"""

import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "models", "diffusion"))
sys.path.insert(0, ROOT)

import shapes16  # noqa: E402

from kerasmm.utils.images import images_to_uint8  # noqa: E402

PER_PROMPT = 8
SCALE = 4  # Pixels per image pixel in the PNG.


def main(steps=1200):
    images, labels = shapes16.shapes16()
    test_images, test_labels = shapes16.shapes16(4000, split="validation")
    model, losses, seconds = shapes16.train_generator(images, labels, steps)
    print(f"{len(images)} training images, {steps} steps in {seconds:.0f} s, "
          f"mean loss {losses[-1]:.3f}")
    reader = shapes16.train_reader(images, labels)
    generated, generated_labels = shapes16.sample(model, PER_PROMPT)
    print(shapes16.scores(reader, generated, generated_labels, test_images, test_labels))
    rows = []
    for k in range(len(shapes16.SHAPE_NAMES)):
        cells = [images[labels == k][0], -np.ones((16, 2, 1), "float32"),
                 *generated[generated_labels == k]]
        rows.append(np.concatenate([np.pad(x, ((0, 1), (0, 1), (0, 0)), constant_values=-1)
                                    for x in cells], axis=1))
    grid = images_to_uint8(np.concatenate(rows, axis=0))[..., 0]
    picture = Image.fromarray(grid).resize((grid.shape[1] * SCALE, grid.shape[0] * SCALE),
                                           Image.NEAREST)
    path = os.path.join(ROOT, "docs", "t2i_16x16_samples.png")
    picture.save(path)
    print("wrote", path)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
