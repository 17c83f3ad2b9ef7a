"""tf.data pipelines of the shapes dataset, its tokenizer and zero-shot set.

Image convention (the same for training batches and the zero-shot set):
`CLIPImagePreprocessor(image_size)` of the uint8 images, i.e. float32
pixels scaled to [0, 1] then normalised by OpenAI CLIP's mean and std.
"""

import os

import numpy as np
import tensorflow as tf

from kerasmm.datasets import shapes
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.preprocessing import CLIPTokenizer
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_positive_int

# The longest caption or prompt is 13 tokens + start and end (tests check).
SHAPES_SEQUENCE_LENGTH = 16
_HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES_VOCABULARY_PATH = os.path.join(_HERE, "shapes_vocab.json")
SHAPES_MERGES_PATH = os.path.join(_HERE, "shapes_merges.txt")


def shapes_tokenizer(sequence_length=None, **kwargs):
    """The `CLIPTokenizer` of the shapes dataset (617 ids, offline).

    Its vocabulary makes every caption and prompt word one token, and any
    other text still tokenizes through the byte symbols. Built by
    `tools/make_shapes_vocab.py`.

    Args:
        sequence_length: int, defaults to `SHAPES_SEQUENCE_LENGTH` (16).
        **kwargs: other `CLIPTokenizer` arguments (`pad_token_id`, ...).
    """
    return CLIPTokenizer(
        SHAPES_VOCABULARY_PATH,
        SHAPES_MERGES_PATH,
        sequence_length=sequence_length or SHAPES_SEQUENCE_LENGTH,
        **kwargs,
    )


def shapes_dataset(
    split="train",
    batch_size=64,
    image_size=64,
    tokenizer=None,
    shuffle=True,
    seed=0,
    num_examples=None,
    drop_remainder=True,
    use_tfds=False,
    data_dir=None,
    sequence_length=None,
    tfds_config="default",
):
    """Batches `{"images", "token_ids"}` of the shapes dataset, for `fit`.

    Features only, no labels: the contrastive losses need none.

    Args:
        split: "train", "validation" or "test".
        batch_size: int.
        image_size: int, side of the output images. Generated images are
            drawn at this size; TFDS images are resized to it.
        tokenizer: callable mapping a batch of str to token ids (or to a
            dict with `token_ids`, whose entries all become features);
            defaults to `shapes_tokenizer(sequence_length)`.
        shuffle: bool, reshuffle the examples every epoch.
        seed: int, seed of the shuffling (the examples themselves are fixed:
            the dataset's seed is 0).
        num_examples: int, use the first `num_examples` of the split
            (default: all of `SPLIT_SIZES[split]`, or of the TFDS build,
            whose first examples are those of its stored order).
        drop_remainder: bool, drop the last partial batch.
        use_tfds: bool, read the `kerasmm_shapes` TFDS build (built on
            first use into `data_dir`) instead of generating in memory.
        data_dir: str, TFDS data directory (TFDS's default when None).
        sequence_length: int, token length of the default tokenizer.
        tfds_config: str, TFDS config name ("default" or "tiny").

    Returns:
        A `tf.data.Dataset` of dicts: `images` float32
        `(batch, image_size, image_size, 3)` (CLIP-normalised, see module
        docstring) and `token_ids` int32 `(batch, sequence_length)`.

    Example:

    >>> ds = shapes_dataset(batch_size=8, num_examples=64)
    >>> batch = next(iter(ds))
    >>> tuple(batch["images"].shape), tuple(batch["token_ids"].shape)
    ((8, 64, 64, 3), (8, 16))
    """
    check_choice("split", split, shapes.SPLITS)
    batch_size = check_positive_int("batch_size", batch_size)
    image_size = check_positive_int("image_size", image_size)
    num_examples = check_positive_int("num_examples", num_examples, allow_none=True)
    for name, value in (("shuffle", shuffle), ("drop_remainder", drop_remainder),
                        ("use_tfds", use_tfds)):
        check_bool(name, value)
    if tokenizer is not None and sequence_length is not None:
        raise ValueError(
            "Pass sequence_length or tokenizer, not both (a tokenizer has its "
            f"own length). Received: sequence_length={sequence_length}"
        )
    if drop_remainder and num_examples is not None and num_examples < batch_size:
        raise ValueError(
            "With drop_remainder=True, num_examples must be >= batch_size. "
            f"Received: num_examples={num_examples}, batch_size={batch_size}"
        )
    if tokenizer is None:
        tokenizer = shapes_tokenizer(sequence_length)
    preprocess = CLIPImagePreprocessor(image_size=image_size)

    def features(images, token_ids):
        out = token_ids if isinstance(token_ids, dict) else {"token_ids": token_ids}
        return {"images": preprocess(images), **out}

    if use_tfds:
        import tensorflow_datasets as tfds

        from kerasmm.datasets import shapes_builder  # noqa: F401 (registers)

        tfds_split = split if num_examples is None else f"{split}[:{num_examples}]"
        ds = tfds.load(f"kerasmm_shapes/{tfds_config}", split=tfds_split, data_dir=data_dir)
        # Tokenized in the graph (keras-hub's TF path) once, then cached: the
        # TF BPE is much slower than the eager path, so epochs after the
        # first read the cache.
        ds = ds.map(lambda ex: (ex["image"], ex["caption"])).batch(256)
        ds = ds.map(lambda images, captions: (images, tokenizer(captions)))
        ds = ds.unbatch().cache()
        if shuffle:
            ds = ds.shuffle(16384, seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        return ds.map(features).prefetch(tf.data.AUTOTUNE)

    data = shapes.generate_shapes(split, num_examples, image_size)
    images = tf.constant(data["images"])
    # Tokenized once, eagerly (no graph tracing of the BPE), each distinct
    # caption once.
    captions, index = np.unique(data["captions"].astype(str), return_inverse=True)
    token_ids = tokenizer(list(captions))
    token_ids = tf.nest.map_structure(
        lambda t: tf.constant(np.asarray(t)[index.reshape(-1)]), token_ids
    )
    ds = tf.data.Dataset.range(len(data["captions"]))
    if shuffle:
        ds = ds.shuffle(len(data["captions"]), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(
        lambda index: features(
            tf.gather(images, index),
            tf.nest.map_structure(lambda t: tf.gather(t, index), token_ids),
        )
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def shapes_zero_shot_set(num_per_class=20, image_size=64, seed=0):
    """The zero-shot evaluation set: single shapes of all 30 classes.

    Images follow the pipeline's convention (`CLIPImagePreprocessor`).
    Classes are `ZERO_SHOT_CLASSES` ("red circle", ...), to be put in
    `ZERO_SHOT_TEMPLATES`; `HELD_OUT_CLASS_IDS` are never seen in training.

    Returns:
        `(images, labels)`: float32 numpy `(30 * num_per_class, S, S, 3)`
        and int32 numpy class ids.
    """
    images, labels = shapes.zero_shot_images(num_per_class, image_size, seed)
    preprocess = CLIPImagePreprocessor(image_size=image_size)
    return np.asarray(preprocess(images)), labels
