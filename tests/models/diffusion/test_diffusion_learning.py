"""A short `fit` on 16x16x1 shapes gives samples an independent reader recognises, varied.

tools/make_t2i_16x16_samples.py runs the same recipe (shapes16.py) and
saves docs/t2i_16x16_samples.png.
"""

import numpy as np
import pytest
import shapes16

STEPS = 1200


@pytest.mark.slow
def test_a_short_fit_gives_recognisable_varied_samples():
    images, labels = shapes16.shapes16()
    real, real_labels = shapes16.shapes16(4000, split="validation")
    model, losses, _ = shapes16.train_generator(images, labels, STEPS)
    assert np.isfinite(losses[-1])
    reader = shapes16.train_reader(images, labels)
    generated, generated_labels = shapes16.sample(model, per_prompt=16)
    scores = shapes16.scores(reader, generated, generated_labels, real, real_labels)
    assert scores["real_accuracy"] > 0.95, scores  # The reader itself works.
    # Most samples read as their prompt (chance: 1/3; measured 0.67 with 8 per prompt).
    assert scores["generated_accuracy"] >= 0.5, scores
    # Samples of one prompt differ: per-pixel spread comparable to the real images'.
    assert scores["generated_diversity"] > 0.4 * scores["real_diversity"], scores
