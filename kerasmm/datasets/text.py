"""A tiny text corpus (the shapes captions) and masked byte batches."""

import numpy as np
import tensorflow as tf

from kerasmm.datasets import shapes
from kerasmm.preprocessing import ByteTokenizer
from kerasmm.preprocessing.byte_tokenizer import MASK_ID


def shapes_text_corpus(num_sentences=1000, seed=0):
    """`num_sentences` captions of the shapes train split (list of str)."""
    return shapes.shapes_captions("train", num_sentences, seed=seed)


def masked_bytes_dataset(
    batch_size=32,
    sequence_length=64,
    num_examples=1024,
    mask_rate=0.15,
    shuffle=True,
    seed=0,
    drop_remainder=True,
):
    """Masked byte modelling batches over `shapes_text_corpus`, for `fit`.

    Texts are `ByteTokenizer(sequence_length)` ids (DeepMind's scheme, no
    special tokens); each real byte is replaced by `[MASK]` (id 3) with
    probability `mask_rate` (at least one per text), fixed by `seed`.

    Returns:
        A dataset of `(x, y, sample_weight)`: `x = {"token_ids",
        "padding_mask"}` with masked ids, `y` the original int32 ids
        `(B, sequence_length)`, `sample_weight` float32, 1 on masked
        positions and 0 elsewhere, so the loss counts only masked bytes.
    """
    if not 0.0 < mask_rate < 1.0:
        raise ValueError(f"mask_rate must be in (0, 1). Received: mask_rate={mask_rate}")
    texts = shapes_text_corpus(num_examples, seed=seed)
    tokens = ByteTokenizer(sequence_length=sequence_length)(texts)
    token_ids = np.asarray(tokens["token_ids"])
    padding_mask = np.asarray(tokens["padding_mask"])

    rng = np.random.default_rng([seed, 0xB7])
    masked = (rng.random(token_ids.shape) < mask_rate) & padding_mask
    lengths = padding_mask.sum(axis=1)
    forced = (rng.random(len(token_ids)) * lengths).astype(int)
    masked[np.arange(len(token_ids)), forced] |= ~masked.any(axis=1)
    inputs = {
        "token_ids": np.where(masked, MASK_ID, token_ids).astype("int32"),
        "padding_mask": padding_mask,
    }
    ds = tf.data.Dataset.from_tensor_slices((inputs, token_ids, masked.astype("float32")))
    if shuffle:
        ds = ds.shuffle(len(token_ids), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
