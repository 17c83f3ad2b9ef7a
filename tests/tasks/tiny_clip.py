"""A tiny CLIP and a tiny CLIP tokenizer shared by the task tests."""

import numpy as np

from kerasmm.models import CLIP, TextTransformer, VisionTransformer
from kerasmm.preprocessing import CLIPTokenizer
from kerasmm.preprocessing.clip_tokenizer import bytes_to_unicode

SEQUENCE_LENGTH = 24


def make_tokenizer():
    """Byte-level vocabulary (+ two merges), start and end tokens last."""
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["re", "red</w>"]
    vocabulary = {token: i for i, token in enumerate(tokens)}
    vocabulary["<|startoftext|>"] = len(vocabulary)
    vocabulary["<|endoftext|>"] = len(vocabulary)  # the largest id, as OpenAI's
    return CLIPTokenizer(vocabulary, ["r e", "re d</w>"], sequence_length=SEQUENCE_LENGTH)


def make_clip(vocabulary_size, seed=0, **kwargs):
    from tests.models.clip.numpy_clip import randomize_weights

    clip = CLIP(
        VisionTransformer(image_size=32, patch_size=8, hidden_dim=16, num_layers=1,
                          num_heads=2, output_dim=8),
        TextTransformer(vocabulary_size=vocabulary_size, context_length=SEQUENCE_LENGTH,
                        hidden_dim=16, num_layers=1, num_heads=2, output_dim=8),
        **kwargs)
    # Random weights of a larger scale than the initialisers': embeddings
    # that differ clearly between prompts and between images.
    randomize_weights(clip, seed)
    return clip


def make_images(count, seed=0):
    return np.random.default_rng(seed).normal(size=(count, 32, 32, 3)).astype("float32")
