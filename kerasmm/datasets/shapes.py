"""The embedded "shapes" dataset: coloured shapes and captions, in numpy.

Each image holds one or two shapes (5 kinds, 6 colours, 2 sizes) on a dark,
lightly noisy background; each caption describes them in one of several
templates ("a small red circle on the left", "a big blue square above a
green cross", "a photo of a yellow diamond."). Five colour x shape
combinations (`HELD_OUT_COMBOS`) never appear in "train" or "validation",
neither alone nor beside another shape, and do appear in "test" and in the
zero-shot set, so zero-shot accuracy on them measures composition rather
than memory.

Everything is deterministic by `seed` and generated in blocks of 1000
examples, each block from its own random stream: the first `n` examples of
a split are the same whatever `num_examples` is asked for.
"""

import numpy as np
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_positive_int

COLORS = ("red", "green", "blue", "yellow", "purple", "white")
COLOR_RGB = np.array(
    [
        (220, 40, 40),
        (40, 190, 60),
        (50, 90, 230),
        (235, 215, 40),
        (150, 60, 200),
        (240, 240, 240),
    ],
    dtype="int16",
)
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
SIZES = ("small", "big")
RELATIONS = ("none", "left_of", "above")
SPLITS = ("train", "validation", "test")
SPLIT_SIZES = {"train": 20000, "validation": 2000, "test": 2000}

HELD_OUT_COMBOS = (
    ("red", "triangle"),
    ("green", "circle"),
    ("blue", "cross"),
    ("yellow", "square"),
    ("purple", "diamond"),
)
ZERO_SHOT_CLASSES = tuple(f"{c} {s}" for c in COLORS for s in SHAPES)
HELD_OUT_CLASS_IDS = tuple(
    COLORS.index(c) * len(SHAPES) + SHAPES.index(s) for c, s in HELD_OUT_COMBOS
)
ZERO_SHOT_TEMPLATES = (
    "a photo of a {}.",
    "a drawing of a {}.",
    "an image of a {}.",
    "a {} shape.",
    "a {}.",
)

# One template per line: {d}, {d1}, {d2} are "[size] colour shape".
_SINGLE_TEMPLATES = (
    "a {d}",
    "a photo of a {d}",
    "a drawing of a {d}",
    "an image of a {d}",
    "a {d} shape",
    "there is a {d}",
)
_PLACE_TEMPLATES = ("a {d} {place}", "there is a {d} {place}")
_PAIR_TEMPLATES = {
    1: ("a {d1} left of a {d2}", "a {d2} right of a {d1}"),
    2: ("a {d1} above a {d2}", "a {d2} below a {d1}"),
}
_BOTH_TEMPLATES = ("a {d1} and a {d2}", "a {d2} and a {d1}", "a photo of a {d1} and a {d2}")
_COLUMNS = ("on the left", None, "on the right")
_ROWS = ("at the top", None, "at the bottom")
_CENTER = "in the center"

# Every word of every caption and prompt (one token each in the vocabulary).
_ALL_TEXT = " ".join(
    COLORS + SHAPES + SIZES + _SINGLE_TEMPLATES + _PLACE_TEMPLATES + _BOTH_TEMPLATES
    + sum(_PAIR_TEMPLATES.values(), ()) + _COLUMNS[::2] + _ROWS[::2] + (_CENTER,)
    + ZERO_SHOT_TEMPLATES
)
SHAPES_WORDS = tuple(sorted({w for w in _ALL_TEXT.replace(".", " .").split() if "{" not in w}))

_BLOCK = 1000
_STREAMS = {"train": 0, "validation": 1, "test": 2, "zero_shot": 3}
_RADIUS = (0.11, 0.2)  # small, big; fractions of the image size


def _allowed_combos(split):
    combos = [(c, s) for c in range(len(COLORS)) for s in range(len(SHAPES))]
    if split in ("train", "validation"):
        held = {(COLORS.index(c), SHAPES.index(s)) for c, s in HELD_OUT_COMBOS}
        combos = [combo for combo in combos if combo not in held]
    return np.array(combos, dtype="int32")


def _sample_block(rng, n, combos, single_fraction, balanced_offset=None):
    """Scene parameters of `n` examples, all drawn from `rng`."""
    if balanced_offset is None:
        picks = combos[rng.integers(len(combos), size=(n, 2))]
    else:  # Class i % len(combos) for the i-th example: a balanced set.
        index = (balanced_offset + np.arange(n)) % len(combos)
        picks = np.repeat(combos[index][:, None], 2, axis=1)
    p = {
        "num_shapes": np.where(rng.random(n) < single_fraction, 1, 2),
        "colors": picks[..., 0],
        "shapes": picks[..., 1],
        "sizes": rng.integers(2, size=(n, 2)),
        "scale": rng.uniform(0.9, 1.1, size=(n, 2)),
        "cell": rng.integers(3, size=(n, 2)),  # (column, row) of one shape
        "jitter": rng.uniform(-0.05, 0.05, size=(n, 2)),
        "layout": rng.integers(1, 3, size=n),  # relation of two shapes
        "pair_pos": rng.uniform(0.3, 0.7, size=(n, 2)),
        "pair_jitter": rng.uniform(-0.03, 0.03, size=(n, 2)),
        "background": rng.uniform(0, 60, size=n),
        "tint": rng.integers(-15, 16, size=(n, 2, 3)),
        "template": rng.integers(1 << 30, size=n),
        "say_size": rng.random((n, 2)) < 0.5,
        "period": rng.random(n) < 0.5,
        "noise_seed": rng.integers(1 << 31, size=n),
    }
    if balanced_offset is not None:
        p["num_shapes"][:] = 1
    p["relation"] = np.where(p["num_shapes"] == 2, p["layout"], 0)
    p["colors"][p["num_shapes"] == 1, 1] = -1
    p["shapes"][p["num_shapes"] == 1, 1] = -1
    p["sizes"][p["num_shapes"] == 1, 1] = -1
    return p


def _centers(p):
    """Shape centres `(n, 2, 2)` as (x, y) fractions of the image size."""
    n = len(p["num_shapes"])
    radius = (np.array(_RADIUS)[np.maximum(p["sizes"], 0)] * p["scale"]).astype("float32")
    single = 0.25 + 0.25 * p["cell"] + p["jitter"]
    along = np.array([0.25, 0.75]) + p["pair_jitter"]  # first, second shape
    centers = np.empty((n, 2, 2), dtype="float32")
    horizontal = p["layout"] == 1
    centers[:, :, 0] = np.where(horizontal[:, None], along, p["pair_pos"])
    centers[:, :, 1] = np.where(horizontal[:, None], p["pair_pos"], along)
    centers[:, 0] = np.where((p["num_shapes"] == 1)[:, None], single, centers[:, 0])
    return np.clip(centers, radius[..., None], 1 - radius[..., None]), radius


def _shape_mask(kind, dx, dy, r):
    """Boolean mask of shape number `kind` at offsets dx, dy and radius r."""
    ax, ay = np.abs(dx), np.abs(dy)
    if kind == 0:  # circle
        return dx**2 + dy**2 <= r**2
    if kind == 1:  # square
        return np.maximum(ax, ay) <= 0.82 * r
    if kind == 2:  # triangle, apex up
        return (dy >= -r) & (dy <= 0.7 * r) & (ax <= (dy + r) / 1.7)
    if kind == 3:  # diamond
        return ax + ay <= 1.1 * r
    return ((ax <= 0.3 * r) & (ay <= r)) | ((ay <= 0.3 * r) & (ax <= r))  # cross


def _render(p, image_size):
    n = len(p["num_shapes"])
    centers, radius = _centers(p)
    grid = ((np.arange(image_size) + 0.5) / image_size).astype("float32")
    # Which palette entry each pixel shows: 0 background, 1 + slot a shape.
    owner = np.zeros((n, image_size, image_size), dtype="uint8")
    for slot in (0, 1):
        present = p["num_shapes"] > slot
        for kind in range(len(SHAPES)):
            (index,) = np.nonzero(present & (p["shapes"][:, slot] == kind))
            dx = grid[None, None, :] - centers[index, slot, 0, None, None]
            dy = grid[None, :, None] - centers[index, slot, 1, None, None]
            mask = _shape_mask(kind, dx, dy, radius[index, slot, None, None])
            owner[index] = np.where(mask, slot + 1, owner[index])
    palette = np.empty((n, 3, 3), dtype="int16")
    palette[:, 0] = p["background"].astype("int16")[:, None]
    palette[:, 1:] = COLOR_RGB[np.maximum(p["colors"], 0)] + p["tint"]
    images = palette[np.arange(n)[:, None], owner.reshape(n, -1)]
    # Light noise: each image adds one of 64 noise fields (cheaper than one
    # field per image, and noise carries no label).
    noise_rng = np.random.default_rng(p["noise_seed"][0] if n else 0)
    fields = noise_rng.integers(-6, 7, size=(64, image_size**2, 3), dtype="int16")
    images += fields[p["noise_seed"] % 64]
    images = images.reshape(n, image_size, image_size, 3)
    return np.clip(images, 0, 255).astype("uint8")


def _describe(p, i, slot):
    words = [COLORS[p["colors"][i, slot]], SHAPES[p["shapes"][i, slot]]]
    if p["say_size"][i, slot]:
        words.insert(0, SIZES[p["sizes"][i, slot]])
    return " ".join(words)


def _caption(p, i):
    choice = int(p["template"][i])
    if p["num_shapes"][i] == 1:
        d = _describe(p, i, 0)
        column, row = p["cell"][i]
        places = [x for x in (_COLUMNS[column], _ROWS[row]) if x]
        if column == 1 and row == 1:
            places = [_CENTER]
        templates = [t.format(d=d, place=x) for t in _PLACE_TEMPLATES for x in places]
        templates += [t.format(d=d) for t in _SINGLE_TEMPLATES]
    else:
        d1, d2 = _describe(p, i, 0), _describe(p, i, 1)
        templates = _PAIR_TEMPLATES[int(p["relation"][i])] * 2 + _BOTH_TEMPLATES
        templates = [t.format(d1=d1, d2=d2) for t in templates]
    caption = templates[choice % len(templates)]
    return caption + " ." if p["period"][i] else caption


def _generate(stream, num_examples, image_size, seed, combos, single_fraction, balanced):
    blocks = []
    for b in range(-(-num_examples // _BLOCK)):
        n = min(_BLOCK, num_examples - b * _BLOCK)
        rng = np.random.default_rng([seed, stream, b])
        p = _sample_block(rng, _BLOCK, combos, single_fraction, b * _BLOCK if balanced else None)
        p = {k: v[:n] for k, v in p.items()}
        if image_size:
            p["images"] = _render(p, image_size)
        p["captions"] = np.array([_caption(p, i) for i in range(n)], dtype=object)
        blocks.append(p)
    keys = ("captions", "num_shapes", "colors", "shapes", "sizes", "relation")
    keys += ("images",) if image_size else ()
    out = {k: np.concatenate([blk[k] for blk in blocks]) for k in keys}
    for k in ("num_shapes", "colors", "shapes", "sizes", "relation"):
        out[k] = out[k].astype("int32")
    out["labels"] = (out["colors"][:, 0] * len(SHAPES) + out["shapes"][:, 0]).astype("int32")
    return out


def generate_shapes(split="train", num_examples=None, image_size=64, seed=0):
    """Generates one split of the shapes dataset as numpy arrays.

    Args:
        split: "train", "validation" or "test".
        num_examples: int, defaults to `SPLIT_SIZES[split]`.
        image_size: int, height and width of the images (shapes scale with
            it; the same seed gives the same scenes at every size).
        seed: int, the dataset's seed.

    Returns:
        A dict of numpy arrays over `N` examples: `images` uint8
        `(N, S, S, 3)`, `captions` (str, object array), `num_shapes` (1 or
        2), `colors`, `shapes`, `sizes` int32 `(N, 2)` (indices into
        `COLORS`, `SHAPES`, `SIZES`; -1 for the absent second shape; for two
        shapes the first is the left or upper one), `relation` (index into
        `RELATIONS`) and `labels` (the first shape's zero-shot class,
        `color * len(SHAPES) + shape`).
    """
    check_choice("split", split, SPLITS)
    num_examples = check_positive_int("num_examples", num_examples or SPLIT_SIZES[split])
    image_size = check_positive_int("image_size", image_size)
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16. Received: image_size={image_size}")
    return _generate(
        _STREAMS[split], num_examples, image_size, seed, _allowed_combos(split), 0.5, False
    )


def zero_shot_images(num_per_class=20, image_size=64, seed=0):
    """Single-shape images, balanced over all `ZERO_SHOT_CLASSES`.

    The held-out combinations are included (`HELD_OUT_CLASS_IDS`), drawn
    from a stream of their own, distinct from every split.

    Returns:
        `(images, labels)`: uint8 `(30 * num_per_class, S, S, 3)` and int32
        class ids into `ZERO_SHOT_CLASSES`.
    """
    num_per_class = check_positive_int("num_per_class", num_per_class)
    image_size = check_positive_int("image_size", image_size)
    out = _generate(
        _STREAMS["zero_shot"],
        num_per_class * len(ZERO_SHOT_CLASSES),
        image_size,
        seed,
        _allowed_combos("test"),
        1.0,
        True,
    )
    return out["images"], out["labels"]


def shapes_captions(split="train", num_examples=None, seed=0):
    """Only the captions of `generate_shapes(split, ...)` (list of str),
    without drawing the images."""
    check_choice("split", split, SPLITS)
    num_examples = check_positive_int("num_examples", num_examples or SPLIT_SIZES[split])
    data = _generate(
        _STREAMS[split], num_examples, None, seed, _allowed_combos(split), 0.5, False
    )
    return list(data["captions"])
