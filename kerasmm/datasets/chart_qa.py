"""chart-QA: questions about bar and line charts rendered from random data.

Each chart (Pillow, drawn at `CANVAS` pixels then resized to `image_size`)
has a title, a y axis with ticks 0 and 100, 3 to 5 categories labelled
"A".."E" left to right, an x-axis label, and values in [0, 100) drawn as
bars or as a line with markers. Each chart gets one question of a type in
`CHART_QA_QUESTION_TYPES`, in one of three phrasings:

- highest: "which bar is highest?" (a letter; the top value leads the
  second by >= `MIN_GAP`)
- compare: "is B greater than D?" (yes or no; the two differ by >= `MIN_GAP`)
- value: "what is the value of C?" (a bin of 20: "0-20", ..., "80-100";
  values stay >= 3 from a bin edge)

Deterministic by `seed`; splits draw from separate streams (no chart is
held out by content: "test" charts are new random data).
"""

import functools

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

from kerasmm.datasets.qa_pipeline import WordTokenizer
from kerasmm.datasets.qa_pipeline import qa_batches
from kerasmm.datasets.qa_pipeline import vocabulary_of
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_positive_int

CHART_KINDS = ("bar", "line")
CHART_LABELS = ("A", "B", "C", "D", "E")
VALUE_BINS = ("0-20", "20-40", "40-60", "60-80", "80-100")
CHART_QA_QUESTION_TYPES = ("highest", "compare", "value")
CHART_QA_ANSWERS = CHART_LABELS + ("yes", "no") + VALUE_BINS
CHART_QA_SEQUENCE_LENGTH = 12
SPLIT_SIZES = {"train": 20000, "validation": 2000, "test": 2000}
MIN_GAP = 6.0
CANVAS = 128
# The plot area on the canvas: (left, top, right, bottom); value 0 is drawn
# at `bottom`, 100 at `top`, category i centred at left + (i + 0.5) * width / n.
CHART_BOX = (24, 18, 124, 100)
TITLES = ("sales", "visitors", "rainfall", "scores", "profit", "orders")
X_LABELS = ("region", "team", "store", "group")

TEMPLATES = {
    "highest": ("which {item} is highest?", "which {item} is the tallest?",
                "which category has the largest value?"),
    "compare": ("is {x} greater than {y}?", "is the value of {x} larger than {y}?",
                "is {x} higher than {y}?"),
    "value": ("what is the value of {x}?", "how much is {x}?", "what value does {x} have?"),
}
CHART_QA_WORDS = tuple(
    w for w in vocabulary_of([t.format(item="bar point", x="", y="") for ts in TEMPLATES.values()
                              for t in ts] + [" ".join(CHART_LABELS)]))

_STREAMS = {"train": 0, "validation": 1, "test": 2}
_BLOCK = 500


def _values(rng, n):
    """`n` values in [0, 100), >= 3 from bin edges, the top one >= MIN_GAP above the rest."""
    while True:
        values = rng.integers(5, size=n) * 20.0 + rng.uniform(3, 17, size=n)
        top = np.sort(values)
        if top[-1] - top[-2] >= MIN_GAP:
            return values


@functools.lru_cache(maxsize=None)
def _frame(title, x_label, n):
    """Bool ink mask `(CANVAS, CANVAS)` of the axes, ticks, title and labels
    (drawn once per distinct frame: Pillow's text is the slow part)."""
    image = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, top, right, bottom = CHART_BOX
    draw.text((4, 2), title.capitalize(), fill=255, font=font)
    draw.line([(left - 2, top), (left - 2, bottom), (right, bottom)], fill=255, width=1)
    draw.text((2, top - 5), "100", fill=255, font=font)
    draw.text((12, bottom - 8), "0", fill=255, font=font)
    draw.text(((left + right) // 2 - 12, CANVAS - 13), x_label, fill=255, font=font)
    for i, x in enumerate(_centers(n)):
        draw.text((x - 3, bottom + 2), CHART_LABELS[i], fill=255, font=font)
    return np.asarray(image) > 127


def _centers(n):
    left, _, right, _ = CHART_BOX
    return left + (np.arange(n) + 0.5) * (right - left) / n


def _draw(kind, values, title, x_label, color, background):
    """One chart, uint8 `(CANVAS, CANVAS, 3)`."""
    n = len(values)
    left, top, right, bottom = CHART_BOX
    heights = bottom - values / 100.0 * (bottom - top)
    marks = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(marks)
    half = 0.3 * (right - left) / n
    points = [(float(x), float(y)) for x, y in zip(_centers(n), heights)]
    if kind == "bar":
        for x, y in points:
            draw.rectangle([x - half, y, x + half, bottom - 1], fill=255)
    else:
        draw.line(points, fill=255, width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=255)
    image = np.empty((CANVAS, CANVAS, 3), dtype="uint8")
    image[:] = background
    image[_frame(title, x_label, n)] = 40
    image[np.asarray(marks) > 127] = color
    return image


def _resize(images, image_size):
    """Box-filter `(N, CANVAS, CANVAS, 3)` uint8 images down to `image_size`."""
    if image_size == CANVAS:
        return images
    if CANVAS % image_size == 0:
        f = CANVAS // image_size
        blocks = images.reshape(len(images), image_size, f, image_size, f, 3)
        return np.round(blocks.mean(axis=(2, 4))).astype("uint8")
    return np.stack([np.asarray(Image.fromarray(x).resize((image_size, image_size),
                                                         Image.Resampling.BOX))
                     for x in images])


def _question(rng, kind, values):
    n = len(values)
    qtype = CHART_QA_QUESTION_TYPES[rng.integers(3)]
    template = TEMPLATES[qtype][rng.integers(3)]
    if qtype == "highest":
        answer = CHART_LABELS[int(np.argmax(values))]
        return qtype, template.format(item="bar" if kind == "bar" else "point"), answer
    if qtype == "value":
        i = int(rng.integers(n))
        return qtype, template.format(x=CHART_LABELS[i]), VALUE_BINS[int(values[i] // 20)]
    pairs = [(i, j) for i in range(n) for j in range(n)
             if i != j and abs(values[i] - values[j]) >= MIN_GAP]
    i, j = pairs[rng.integers(len(pairs))]
    answer = "yes" if values[i] > values[j] else "no"
    return qtype, template.format(x=CHART_LABELS[i], y=CHART_LABELS[j]), answer


def generate_chart_qa(split="train", num_examples=None, image_size=64, seed=0):
    """One split of chart-QA as numpy arrays: a chart and a question each.

    Args:
        split: "train", "validation" or "test".
        num_examples: int, defaults to `SPLIT_SIZES[split]`.
        image_size: int >= 32, side of the images (drawn at `CANVAS`, then
            resized with a box filter).
        seed: int, the dataset's seed.

    Returns:
        A dict: `images` uint8 `(N, S, S, 3)`, `questions`, `answers`,
        `question_types`, `chart_kinds` (lists of str), `answer_ids` int32
        `(N,)` (indices into `CHART_QA_ANSWERS`), `values` float32
        `(N, 5)` (NaN past `num_categories`), `num_categories` int32.

    Example:
    >>> data = generate_chart_qa("test", num_examples=2, image_size=32)
    >>> data["images"].shape, data["answers"][0] in CHART_QA_ANSWERS
    ((2, 32, 32, 3), True)
    """
    check_choice("split", split, tuple(_STREAMS))
    num_examples = check_positive_int("num_examples", num_examples or SPLIT_SIZES[split])
    image_size = check_positive_int("image_size", image_size)
    if image_size < 32:
        raise ValueError(f"image_size must be >= 32. Received: image_size={image_size}")
    images = np.empty((num_examples, image_size, image_size, 3), dtype="uint8")
    values = np.full((num_examples, len(CHART_LABELS)), np.nan, dtype="float32")
    out = {k: [] for k in ("questions", "answers", "question_types", "chart_kinds")}
    for start in range(0, num_examples, _BLOCK):
        # One stream per block: the first n are the same for any num_examples.
        rng = np.random.default_rng([seed, 20 + _STREAMS[split], start // _BLOCK])
        block = []
        for i in range(start, min(start + _BLOCK, num_examples)):
            kind = CHART_KINDS[rng.integers(2)]
            v = _values(rng, int(rng.integers(3, 6)))
            color, background = rng.integers(0, 180, size=3), rng.integers(235, 256, size=3)
            x_label = X_LABELS[rng.integers(len(X_LABELS))]
            title = f"{TITLES[rng.integers(len(TITLES))]} by {x_label}"
            block.append(_draw(kind, v, title, x_label, color, background))
            values[i, : len(v)] = v
            qtype, question, answer = _question(rng, kind, v)
            for key, value in zip(out, (question, answer, qtype, kind)):
                out[key].append(value)
        images[start: start + len(block)] = _resize(np.stack(block), image_size)
    out.update(images=images, values=values,
               num_categories=np.sum(~np.isnan(values), axis=1).astype("int32"))
    out["answer_ids"] = np.array([CHART_QA_ANSWERS.index(a) for a in out["answers"]],
                                 dtype="int32")
    return out


def chart_qa_tokenizer(sequence_length=CHART_QA_SEQUENCE_LENGTH):
    """The `WordTokenizer` of chart-QA's questions (one id per word)."""
    return WordTokenizer(CHART_QA_WORDS, sequence_length)


def chart_qa_dataset(split="train", batch_size=64, image_size=64, tokenizer=None,
                     shuffle=True, seed=0, num_examples=None, drop_remainder=True,
                     blank=None):
    """Batches `({"images", "token_ids", "padding_mask"}, answer_ids)` of chart-QA.

    Arguments as `kerasmm.datasets.shapes_vqa_dataset`; `tokenizer`
    defaults to `chart_qa_tokenizer()`.

    Example:
    >>> ds = chart_qa_dataset(batch_size=2, image_size=32, num_examples=2)
    >>> x, y = next(iter(ds))
    >>> tuple(x["images"].shape), tuple(x["token_ids"].shape)
    ((2, 32, 32, 3), (2, 12))
    """
    data = generate_chart_qa(split, num_examples, image_size)
    return qa_batches(data["images"], data["questions"], data["answer_ids"],
                      tokenizer or chart_qa_tokenizer(), batch_size, shuffle, seed,
                      drop_remainder, blank)
