"""shapes-VQA: questions about the shapes scenes, answered from a closed vocabulary.

The scenes are those of `generate_shapes` (same seeds and splits): "train"
and "validation" never show the `HELD_OUT_COMBOS` colour x shape
combinations, "test" does, so a colour question about a red triangle is
only ever asked in "test" (`held_out` marks those examples). Each scene
gets one question of a type in `SHAPES_VQA_QUESTION_TYPES`, in one of three
phrasings:

- color: "what color is the triangle?" (the shape kind is unique in the scene)
- shape: "what shape is the red object?" (the colour is unique)
- count: "how many shapes are there?", "how many blue shapes are there?"
- size: "is the red triangle small or big?"
- position: "where is the red triangle relative to the blue circle?"
  (two shapes: left, right, above or below)

Everything is deterministic by `seed`; the first `n` examples of a split
are the same whatever `num_examples` is asked for.
"""

import re

import numpy as np

from kerasmm.datasets import shapes
from kerasmm.datasets.qa_pipeline import WordTokenizer
from kerasmm.datasets.qa_pipeline import qa_batches
from kerasmm.datasets.qa_pipeline import vocabulary_of
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_positive_int

SHAPES_VQA_QUESTION_TYPES = ("color", "shape", "count", "size", "position")
COUNT_WORDS = ("zero", "one", "two")
POSITION_WORDS = ("left", "right", "above", "below")
SHAPES_VQA_ANSWERS = shapes.COLORS + shapes.SHAPES + COUNT_WORDS + shapes.SIZES + POSITION_WORDS
SHAPES_VQA_SEQUENCE_LENGTH = 16
_OPPOSITE = {"left": "right", "right": "left", "above": "below", "below": "above"}

# Three phrasings per question; {c} a colour, {s} a shape, {d} "colour
# shape", {a} and {b} two such descriptions.
TEMPLATES = {
    "color": ("what color is the {s}?", "what is the color of the {s}?",
              "which color does the {s} have?"),
    "shape": ("what shape is the {c} object?", "which shape is {c}?",
              "what is the {c} shape?"),
    "count": ("how many shapes are there?", "how many objects are in the image?",
              "what is the number of shapes?"),
    "color_count": ("how many {c} shapes are there?", "how many {c} objects are in the image?",
                    "what is the number of {c} shapes?"),
    "size": ("what size is the {d}?", "is the {d} small or big?", "how big is the {d}?"),
    "position": ("where is the {a} relative to the {b}?", "where is the {a} compared to the {b}?",
                 "what is the position of the {a} relative to the {b}?"),
}
# A two-shape position question: (head)(a)(middle)(b)? with a, b "colour shape".
_POSITION_PAIR = re.compile("^({})({})({})({})\\?$".format(
    "|".join(sorted({re.escape(t.split("{a}")[0]) for t in TEMPLATES["position"]})),
    r"\w+ \w+",
    "|".join(sorted({re.escape(t.split("{a}")[1].split("{b}")[0])
                     for t in TEMPLATES["position"]})),
    r"\w+ \w+"))
SHAPES_VQA_WORDS = tuple(vocabulary_of(
    [t.replace("{", " ").replace("}", " ") for ts in TEMPLATES.values() for t in ts]
    + list(shapes.COLORS + shapes.SHAPES)))
SHAPES_VQA_WORDS = tuple(w for w in SHAPES_VQA_WORDS if w not in ("a", "b", "c", "d", "s"))

_STREAMS = {"train": 0, "validation": 1, "test": 2}
_BLOCK = 1000
# Chance of each question type for a scene of two shapes (one shape: no
# position question, the others equally likely).
_PAIR_TYPE_WEIGHTS = (0.175, 0.175, 0.175, 0.175, 0.3)


def _unique(values, slot, num_shapes):
    return num_shapes == 1 or values[slot] != values[1 - slot]


def _question(rng, colors, kinds, sizes, num_shapes, relation, weights=_PAIR_TYPE_WEIGHTS):
    """One `(question_type, question, answer)` about a scene, drawn with `rng`
    (`weights`: chance of each type for two shapes)."""
    names = [(shapes.COLORS[colors[k]], shapes.SHAPES[kinds[k]]) for k in range(num_shapes)]
    if num_shapes == 2:
        qtype = SHAPES_VQA_QUESTION_TYPES[rng.choice(5, p=weights)]
    else:
        qtype = SHAPES_VQA_QUESTION_TYPES[rng.integers(4)]
    slot = int(rng.integers(num_shapes))
    phrasing = int(rng.integers(3))
    combos = [colors[k] * 10 + kinds[k] for k in range(2)]
    if qtype == "position" and combos[0] == combos[1]:
        qtype = "count"  # two identical shapes: no way to name one
    if qtype == "color" and not _unique(kinds, slot, num_shapes):
        qtype = "shape" if _unique(colors, slot, num_shapes) else "count"
    if qtype == "shape" and not _unique(colors, slot, num_shapes):
        qtype = "count"
    if qtype == "size" and not _unique(combos, slot, num_shapes):
        qtype = "count"
    color, kind = names[slot]
    if qtype == "color":
        return qtype, TEMPLATES["color"][phrasing].format(s=kind), color
    if qtype == "shape":
        return qtype, TEMPLATES["shape"][phrasing].format(c=color), kind
    if qtype == "size":
        answer = shapes.SIZES[sizes[slot]]
        return qtype, TEMPLATES["size"][phrasing].format(d=f"{color} {kind}"), answer
    if qtype == "position":
        other = names[1 - slot]
        # The first shape is the left (relation 1) or upper (2) one.
        answer = POSITION_WORDS[2 * (relation - 1) + slot]
        question = TEMPLATES["position"][phrasing].format(
            a=f"{color} {kind}", b=f"{other[0]} {other[1]}")
        return qtype, question, answer
    if rng.random() < 0.5:
        return qtype, TEMPLATES["count"][phrasing], COUNT_WORDS[num_shapes]
    # Half of the colour counts ask about a colour in the scene.
    asked = colors[slot] if rng.random() < 0.5 else int(rng.integers(len(shapes.COLORS)))
    count = sum(int(colors[k] == asked) for k in range(num_shapes))
    question = TEMPLATES["color_count"][phrasing].format(c=shapes.COLORS[asked])
    return qtype, question, COUNT_WORDS[count]


def check_pair_type_weights(weights, name="pair_type_weights", allow_none=True):
    """`weights` (5 non-negative numbers, not all zero, one per
    `SHAPES_VQA_QUESTION_TYPES`) normalised to sum to 1; None: the dataset's
    (refused when not `allow_none`). `name` is the argument an error names."""
    if weights is None and allow_none:
        return _PAIR_TYPE_WEIGHTS
    array = np.asarray(weights, dtype="float64")
    if array.shape != (5,) or not np.all(array >= 0) or not array.sum() > 0:
        raise ValueError(f"{name} must be 5 non-negative numbers, not all zero. "
                         f"Received: {name}={weights!r}")
    return tuple(array / array.sum())


def generate_shapes_vqa(split="train", num_examples=None, image_size=64, seed=0,
                        pair_type_weights=None):
    """One split of shapes-VQA as numpy arrays: a scene and a question each.

    Args:
        split: "train", "validation" or "test" (only "test" shows the
            `HELD_OUT_COMBOS`).
        num_examples: int, defaults to `SPLIT_SIZES[split]`.
        image_size: int >= 16, side of the images.
        seed: int, the dataset's seed.
        pair_type_weights: None (the dataset's mix) or 5 weights, one per
            `SHAPES_VQA_QUESTION_TYPES`: how often a two-shape scene is asked
            each type (a training mix; the scenes stay the same).

    Returns:
        A dict: `images` uint8 `(N, S, S, 3)`, `questions`, `answers`,
        `question_types` (lists of str), `answer_ids` int32 `(N,)` (indices
        into `SHAPES_VQA_ANSWERS`), `held_out` bool `(N,)` (a shape of the
        scene is a held-out combination), and the scene parameters of
        `generate_shapes` (`num_shapes`, `colors`, `shapes`, `sizes`,
        `relation`).

    Example:
    >>> data = generate_shapes_vqa("test", num_examples=3, image_size=16)
    >>> data["images"].shape, len(data["questions"]), data["answer_ids"].dtype
    ((3, 16, 16, 3), 3, dtype('int32'))
    """
    check_choice("split", split, tuple(_STREAMS))
    num_examples = check_positive_int("num_examples", num_examples or shapes.SPLIT_SIZES[split])
    weights = check_pair_type_weights(pair_type_weights)
    data = shapes.generate_shapes(split, num_examples, image_size, seed)
    out = {k: data[k] for k in ("images", "num_shapes", "colors", "shapes", "sizes",
                                "relation")}
    types, questions, answers = [], [], []
    for start in range(0, num_examples, _BLOCK):
        rng = np.random.default_rng([seed, 10 + _STREAMS[split], start // _BLOCK])
        for i in range(start, min(start + _BLOCK, num_examples)):
            qtype, question, answer = _question(
                rng, data["colors"][i], data["shapes"][i], data["sizes"][i],
                int(data["num_shapes"][i]), int(data["relation"][i]), weights)
            types.append(qtype)
            questions.append(question)
            answers.append(answer)
    out.update(questions=questions, answers=answers, question_types=types)
    out["answer_ids"] = np.array([SHAPES_VQA_ANSWERS.index(a) for a in answers], dtype="int32")
    held = np.zeros(data["colors"].shape, dtype=bool)
    for color, kind in shapes.HELD_OUT_COMBOS:
        held |= (data["colors"] == shapes.COLORS.index(color)) & (
            data["shapes"] == shapes.SHAPES.index(kind))
    out["held_out"] = held.any(axis=1)
    return out


def add_single_shape_positions(data, fraction=0.5, seed=0):
    """Training data with position questions about single shapes, in place.

    A two-shape position answer depends on the scene only through which
    named shape is where: mirrored, the scene flips the answer, so a model
    that has not learned to find a shape and read its side gets no signal
    from those questions. One shape clearly left of, right of, above or
    below the centre (its pixels' centroid off-centre along one axis only)
    answers "where is the red triangle relative to the image?" from its own
    side: the side readout is learned from these, and the two-shape
    questions then teach which shape to read. For a training mix only (the
    test split keeps the dataset's questions).

    Args:
        data: a dict of `generate_shapes_vqa`.
        fraction: float in [0, 1], the share of the eligible single-shape
            scenes whose question is replaced.
        seed: int, seed of the choice and phrasing.

    Returns:
        `data`, with `questions`, `answers`, `question_types` and
        `answer_ids` changed where a question was replaced.
    """
    rng = np.random.default_rng([seed, 99])
    images = data["images"]
    size = images.shape[1]
    shape_pixels = images.max(axis=-1) > 100  # shapes are bright, backgrounds <= 66
    grid = (np.arange(size) + 0.5) / size
    area = np.maximum(shape_pixels.sum(axis=(1, 2)), 1)
    dx = (shape_pixels.sum(axis=1) * grid).sum(axis=1) / area - 0.5
    dy = (shape_pixels.sum(axis=2) * grid).sum(axis=1) / area - 0.5
    horizontal = (np.abs(dx) > 0.15) & (np.abs(dy) < 0.1)
    vertical = (np.abs(dy) > 0.15) & (np.abs(dx) < 0.1)
    chosen = (data["num_shapes"] == 1) & (horizontal | vertical)
    chosen &= rng.random(len(chosen)) < fraction
    for i in np.nonzero(chosen)[0]:
        answer = POSITION_WORDS[(0 if horizontal[i] else 2) + int((dx if horizontal[i] else dy)[i] > 0)]
        name = f"{shapes.COLORS[data['colors'][i, 0]]} {shapes.SHAPES[data['shapes'][i, 0]]}"
        template = TEMPLATES["position"][int(rng.integers(3))]
        data["questions"][i] = template.format(a=name, b="image")
        data["answers"][i] = answer
        data["question_types"][i] = "position"
        data["answer_ids"][i] = SHAPES_VQA_ANSWERS.index(answer)
    return data


def add_swapped_positions(data):
    """Training data in which every two-shape position question is also asked
    the other way round: "where is the blue circle relative to the red
    triangle?" beside "where is the red triangle relative to the blue
    circle?", on the same scene, with the opposite answer.

    Both questions name the same two shapes, so a model that reads the
    question as a bag of words answers both alike and can fit only half of
    each pair: the pairs teach which named shape is the subject. For a
    training mix only (the test split keeps the dataset's questions).

    Args:
        data: a dict of `generate_shapes_vqa` (after
            `add_single_shape_positions`, if used: questions about a lone
            shape "relative to the image" have no twin).

    Returns:
        A new dict: `data`'s examples, then the twins (every array and list
        extended; `question_types` "position").
    """
    twins = [(i, match) for i, (qtype, question) in
             enumerate(zip(data["question_types"], data["questions"]))
             if qtype == "position" and (match := _POSITION_PAIR.match(question))]
    index = np.array([i for i, _ in twins], dtype="int64")
    out = {k: np.concatenate([v, v[index]]) if isinstance(v, np.ndarray)
           else list(v) + [v[i] for i in index] for k, v in data.items()}
    for j, (i, match) in enumerate(twins):
        k = len(data["questions"]) + j
        head, a, middle, b = match.groups()
        out["questions"][k] = f"{head}{b}{middle}{a}?"
        out["answers"][k] = _OPPOSITE[data["answers"][i]]
        out["answer_ids"][k] = SHAPES_VQA_ANSWERS.index(out["answers"][k])
    return out


def shapes_vqa_tokenizer(sequence_length=SHAPES_VQA_SEQUENCE_LENGTH):
    """The `WordTokenizer` of shapes-VQA's questions (one id per word)."""
    return WordTokenizer(SHAPES_VQA_WORDS, sequence_length)


def shapes_vqa_dataset(split="train", batch_size=64, image_size=64, tokenizer=None,
                       shuffle=True, seed=0, num_examples=None, drop_remainder=True,
                       blank=None):
    """Batches `({"images", "token_ids", "padding_mask"}, answer_ids)` of shapes-VQA.

    Args:
        split, image_size, num_examples: as `generate_shapes_vqa` (the
            dataset's own seed is 0).
        batch_size: int.
        tokenizer: callable from a list of str to ids (or a dict with
            `"token_ids"`); defaults to `shapes_vqa_tokenizer()`.
        shuffle: bool, reshuffle every epoch.
        seed: int, seed of the shuffling.
        drop_remainder: bool.
        blank: None, "text" or "image": blank one modality (ablations).

    Returns:
        A `tf.data.Dataset`; images float32 in [-1, 1] (ViLT's scaling).

    Example:
    >>> ds = shapes_vqa_dataset(batch_size=2, image_size=16, num_examples=4)
    >>> x, y = next(iter(ds))
    >>> tuple(x["images"].shape), tuple(x["token_ids"].shape), tuple(y.shape)
    ((2, 16, 16, 3), (2, 16), (2,))
    """
    data = generate_shapes_vqa(split, num_examples, image_size)
    return qa_batches(data["images"], data["questions"], data["answer_ids"],
                      tokenizer or shapes_vqa_tokenizer(), batch_size, shuffle, seed,
                      drop_remainder, blank)
