"""A captioning view of the shapes dataset: canonical captions and a tf.data pipeline.

The scenes are those of `generate_shapes` (same seeds, splits and held-out
colour x shape combinations); only the text changes. Each scene gets one
canonical caption, a deterministic function of what is drawn, so a
captioner can be scored by exact match: "a small red circle" for one shape,
"a small red circle left of a big blue square" or "... above ..." for two
(the first shape is the left or upper one). The references for BLEU /
CIDEr add the other phrasings of the same scene ("a red circle", "a big
blue square right of a small red circle", ...).
"""

import numpy as np
import tensorflow as tf

from kerasmm.datasets import shapes
from kerasmm.datasets.pipelines import shapes_tokenizer
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_positive_int

# "a small purple diamond left of a small white triangle" is 10 words + start,
# end: 12 tokens; 16 leaves room and equals the shapes set's length.
CAPTION_SEQUENCE_LENGTH = 16
_RELATION_WORDS = {1: ("left of", "right of"), 2: ("above", "below")}


def _phrase(color, shape, size=None):
    words = ([shapes.SIZES[size]] if size is not None else []) + [
        shapes.COLORS[color],
        shapes.SHAPES[shape],
    ]
    return "a " + " ".join(words)


def scene_captions(colors, shape_ids, sizes, num_shapes, relation):
    """Canonical caption and reference captions of one scene.

    Args:
        colors, shape_ids, sizes: length-2 int sequences, indices into
            `COLORS`, `SHAPES`, `SIZES` (the second unused for one shape).
        num_shapes: 1 or 2.
        relation: index into `RELATIONS` (1 "left_of", 2 "above").

    Returns:
        `(canonical, references)`: a str and a list of str, the canonical
        caption first.

    Example:

    >>> scene_captions([0, -1], [0, -1], [0, -1], 1, 0)[0]
    'a small red circle'
    >>> for reference in scene_captions([0, 2], [0, 1], [0, 1], 2, 1)[1]:
    ...     print(reference)
    a small red circle left of a big blue square
    a big blue square right of a small red circle
    a red circle left of a blue square
    """
    first = _phrase(colors[0], shape_ids[0], sizes[0])
    if int(num_shapes) == 1:
        return first, [first, _phrase(colors[0], shape_ids[0])]
    second = _phrase(colors[1], shape_ids[1], sizes[1])
    forward, backward = _RELATION_WORDS[int(relation)]
    references = [
        f"{first} {forward} {second}",
        f"{second} {backward} {first}",
        f"{_phrase(colors[0], shape_ids[0])} {forward} {_phrase(colors[1], shape_ids[1])}",
    ]
    return references[0], references


def generate_shapes_captions(split="train", num_examples=None, image_size=64, seed=0):
    """The scenes of `generate_shapes` with canonical captions and references.

    Args:
        split: "train", "validation" or "test" ("test" holds the
            `HELD_OUT_COMBOS`, which "train" and "validation" never show).
        num_examples: int, defaults to `SPLIT_SIZES[split]`.
        image_size: int, side of the images.
        seed: int, the dataset's seed.

    Returns:
        The dict of `generate_shapes` (`images` uint8, `num_shapes`,
        `colors`, `shapes`, `sizes`, `relation`, `labels`) with `captions`
        replaced by the canonical captions (str object array), plus
        `references` (list of lists of str) and `held_out` (bool: a shape
        of the scene is a held-out combination).

    Example:

    >>> data = generate_shapes_captions("test", num_examples=4, image_size=16)
    >>> data["images"].shape, len(data["references"])
    ((4, 16, 16, 3), 4)
    """
    data = shapes.generate_shapes(split, num_examples, image_size, seed)
    data["template_captions"] = data.pop("captions")
    canonical, references = [], []
    for i in range(len(data["num_shapes"])):
        caption, refs = scene_captions(
            data["colors"][i], data["shapes"][i], data["sizes"][i],
            data["num_shapes"][i], data["relation"][i],
        )
        canonical.append(caption)
        references.append(refs)
    data["captions"] = np.array(canonical, dtype=object)
    data["references"] = references
    held = np.zeros(data["colors"].shape, dtype=bool)
    for color, shape in shapes.HELD_OUT_COMBOS:
        held |= (data["colors"] == shapes.COLORS.index(color)) & (
            data["shapes"] == shapes.SHAPES.index(shape)
        )
    data["held_out"] = held.any(axis=1)
    return data


def caption_tokenizer(sequence_length=None):
    """The shapes tokenizer for captioning: `start, words, end, padding`.

    `shapes_tokenizer` with `sequence_length` defaulting to
    `CAPTION_SEQUENCE_LENGTH`; ids `start_token_id`, `end_token_id`,
    `pad_token_id` (0, the unused "!") are its attributes.
    """
    return shapes_tokenizer(sequence_length or CAPTION_SEQUENCE_LENGTH)


def captions_to_batches(images, captions, tokenizer, batch_size, shuffle, seed, drop_remainder):
    """`tf.data` batches `{"images", "token_ids"}` from in-memory float images.

    `captions` are tokenized once, eagerly, each distinct one once (the
    BPE traced in `tf.data` would be much slower).
    """
    batch_size = check_positive_int("batch_size", batch_size)
    for name, value in (("shuffle", shuffle), ("drop_remainder", drop_remainder)):
        check_bool(name, value)
    if drop_remainder and len(captions) < batch_size:
        raise ValueError(
            "With drop_remainder=True, num_examples must be >= batch_size. "
            f"Received: num_examples={len(captions)}, batch_size={batch_size}"
        )
    unique, index = np.unique(np.asarray(captions).astype(str), return_inverse=True)
    token_ids = np.asarray(tokenizer(list(unique)))[index.reshape(-1)]
    ds = tf.data.Dataset.from_tensor_slices({"images": images, "token_ids": token_ids})
    if shuffle:
        ds = ds.shuffle(len(token_ids), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def shapes_caption_dataset(
    split="train",
    batch_size=64,
    image_size=64,
    tokenizer=None,
    shuffle=True,
    seed=0,
    num_examples=None,
    drop_remainder=True,
):
    """Batches `{"images", "token_ids"}` of canonical shapes captions, for a captioner's `fit`.

    Images follow the shapes pipeline's convention
    (`CLIPImagePreprocessor(image_size)`: [0, 1] then OpenAI CLIP's mean
    and std); `token_ids` are `start, words, end, padding`.

    Args:
        split: "train", "validation" or "test".
        batch_size: int.
        image_size: int.
        tokenizer: callable from a list of str to int token ids; defaults to
            `caption_tokenizer()`.
        shuffle: bool, reshuffle every epoch.
        seed: int, seed of the shuffling.
        num_examples: int, the first `num_examples` of the split.
        drop_remainder: bool.

    Returns:
        A `tf.data.Dataset` of dicts: `images` float32
        `(batch, image_size, image_size, 3)`, `token_ids` int32
        `(batch, sequence_length)`.

    Example:

    >>> ds = shapes_caption_dataset(batch_size=4, image_size=16, num_examples=8)
    >>> batch = next(iter(ds))
    >>> tuple(batch["images"].shape), tuple(batch["token_ids"].shape)
    ((4, 16, 16, 3), (4, 16))
    """
    data = generate_shapes_captions(split, num_examples, image_size)
    images = np.asarray(CLIPImagePreprocessor(image_size=image_size)(data["images"]))
    return captions_to_batches(
        images, data["captions"], tokenizer or caption_tokenizer(), batch_size, shuffle, seed,
        drop_remainder,
    )
