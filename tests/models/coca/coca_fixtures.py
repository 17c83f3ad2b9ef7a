"""A tiny CoCa and a captioned toy image set, shared by the CoCa tests."""

import keras
import numpy as np

from kerasmm.models import CoCa

START, END, PAD = 1, 2, 0
VOCABULARY, CONTEXT = 16, 6
COLOURS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], "float32")


def conv_tokens(image_size=8, width=16):
    """Images -> 4 tokens of `width` (a functional vision encoder)."""
    images = keras.Input((image_size, image_size, 3))
    x = keras.layers.Conv2D(width, image_size // 2, strides=image_size // 2)(images)
    return keras.Model(images, keras.layers.Reshape((4, width))(x), name="conv_tokens")


def make_coca(vision_encoder=None, **kwargs):
    config = dict(vocabulary_size=VOCABULARY, context_length=CONTEXT, hidden_dim=16,
                  num_unimodal_layers=1, num_multimodal_layers=1, num_heads=2,
                  output_dim=8, start_token_id=START, end_token_id=END, pad_token_id=PAD,
                  num_caption_queries=3)
    config.update(kwargs)
    return CoCa(vision_encoder or conv_tokens(), **config)


def captioned_images(batch, seed=0):
    """Colour `c` in quadrant `q`: caption `[start, 3 + c, (7 + q // 2,) end, pad...]`
    (one word, or two for the left quadrants: ragged lengths)."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 4, batch)
    quadrants = rng.integers(0, 4, batch)
    images = rng.normal(scale=0.1, size=(batch, 8, 8, 3)).astype("float32")
    ids = np.full((batch, CONTEXT), PAD, "int32")
    for i, (c, q) in enumerate(zip(colours, quadrants)):
        r, s = (q // 2) * 4, (q % 2) * 4
        images[i, r:r + 4, s:s + 4] += COLOURS[c]
        words = [3 + c] + ([7 + q // 2] if q % 2 == 0 else [])
        row = [START] + words + [END]
        ids[i, :len(row)] = row
    return {"images": images, "token_ids": ids}
