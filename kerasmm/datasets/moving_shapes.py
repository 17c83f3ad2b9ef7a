"""The embedded "moving shapes" video set: one shape crossing the frame, with a caption.

Each clip shows one coloured shape (the colours and shapes of the shapes
set) moving in a straight line, left, right, up or down, over a dark,
lightly noisy background, captioned "a red circle moves left". As in the
shapes set, the `HELD_OUT_COMBOS` colour x shape pairs never appear in
"train" or "validation" and do in "test", so captions of held-out clips
measure composition. Deterministic by `seed`, generated in blocks of 500
clips with a random stream each: the first `n` clips of a split are the
same whatever `num_examples` is asked for (for the same `num_frames` and
`image_size`, which only change the drawing).
"""

import numpy as np

from kerasmm.datasets import shapes
from kerasmm.datasets.shapes_captions import caption_tokenizer
from kerasmm.datasets.shapes_captions import captions_to_batches
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_positive_int

DIRECTIONS = ("left", "right", "up", "down")
MOVING_SHAPES_SPLIT_SIZES = {"train": 4000, "validation": 500, "test": 500}
# Unit (x, y) steps of each direction, y pointing down the image.
_STEPS = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)], dtype="float32")
_STREAMS = {"train": 10, "validation": 11, "test": 12}
_BLOCK = 500
_TRAVEL = 0.45  # distance covered over the clip, as a fraction of the side


def _inside(kind, dx, dy, r):
    """Whether offsets (dx, dy) from a centre fall in shape `kind` of radius r."""
    ax, ay = np.abs(dx), np.abs(dy)
    if kind == 0:
        return np.hypot(dx, dy) <= r
    if kind == 1:
        return np.maximum(ax, ay) <= 0.8 * r
    if kind == 2:  # triangle, apex up: widens linearly from the top
        return (dy <= 0.65 * r) & (ax * 1.7 <= dy + r)
    if kind == 3:
        return ax + ay <= 1.1 * r
    return (np.minimum(ax, ay) <= 0.3 * r) & (np.maximum(ax, ay) <= r)


def _combos(split):
    held = {(shapes.COLORS.index(c), shapes.SHAPES.index(s)) for c, s in shapes.HELD_OUT_COMBOS}
    combos = [
        (c, s) for c in range(len(shapes.COLORS)) for s in range(len(shapes.SHAPES))
        if split == "test" or (c, s) not in held
    ]
    return np.array(combos, dtype="int32")


def _sample(rng, n, combos):
    """Parameters of `n` clips, all drawn from `rng`."""
    pick = combos[rng.integers(len(combos), size=n)]
    sizes = rng.integers(2, size=n)
    directions = rng.integers(len(DIRECTIONS), size=n)
    radius = np.where(sizes == 0, 0.1, 0.15) * rng.uniform(0.9, 1.1, size=n)
    step = _STEPS[directions] * _TRAVEL
    # Start so that the whole path stays inside the frame.
    low = radius[:, None] + np.maximum(-step, 0)
    high = 1 - radius[:, None] - np.maximum(step, 0)
    return {
        "colors": pick[:, 0], "shapes": pick[:, 1], "sizes": sizes, "directions": directions,
        "radius": radius, "step": step, "start": rng.uniform(low, high),
        "background": rng.uniform(0, 60, size=n), "tint": rng.integers(-15, 16, size=(n, 3)),
        "noise": rng.integers(1 << 30, size=n),
    }


def _render(p, num_frames, image_size, noise_rng):
    n = len(p["colors"])
    t = np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1)
    centers = p["start"][:, None] + t[None, :, None] * p["step"][:, None]  # (n, T, 2)
    grid = (np.arange(image_size) + 0.5) / image_size
    dx = grid[None, None, None, :] - centers[..., 0, None, None]
    dy = grid[None, None, :, None] - centers[..., 1, None, None]
    mask = np.zeros((n, num_frames, image_size, image_size), dtype=bool)
    for kind in range(len(shapes.SHAPES)):
        (index,) = np.nonzero(p["shapes"] == kind)
        radius = p["radius"][index, None, None, None]
        mask[index] = _inside(kind, dx[index], dy[index], radius)
    color = (shapes.COLOR_RGB[p["colors"]] + p["tint"]).astype("int16")
    background = p["background"].astype("int16")[:, None, None, None, None]
    frames = np.where(mask[..., None], color[:, None, None, None], background)
    # Light noise: one of 16 fields per frame (noise carries no label).
    fields = noise_rng.integers(-6, 7, size=(16, image_size, image_size, 3), dtype="int16")
    frames = frames + fields[(p["noise"][:, None] + np.arange(num_frames)) % 16]
    return np.clip(frames, 0, 255).astype("uint8")


def moving_shape_caption(color, shape, direction, size=None):
    """'a [size] <colour> <shape> moves <direction>' from indices.

    Example:

    >>> moving_shape_caption(0, 0, 0)
    'a red circle moves left'
    """
    size_word = [shapes.SIZES[size]] if size is not None else []
    words = ["a", *size_word, shapes.COLORS[color], shapes.SHAPES[shape], "moves",
             DIRECTIONS[direction]]
    return " ".join(words)


def generate_moving_shapes(split="train", num_examples=None, num_frames=8, image_size=32, seed=0):
    """Generates one split of the moving-shapes video set as numpy arrays.

    Args:
        split: "train", "validation" or "test".
        num_examples: int, defaults to `MOVING_SHAPES_SPLIT_SIZES[split]`.
        num_frames: int, frames per clip (the shape moves the same distance
            whatever the count).
        image_size: int >= 16, frame height and width.
        seed: int, the dataset's seed.

    Returns:
        A dict over `N` clips: `videos` uint8 `(N, T, H, W, 3)`, `captions`
        (str object array, "a red circle moves left"), `references` (lists
        of str: the caption and the one saying the size), int32 `colors`,
        `shapes`, `sizes`, `directions` (indices into `COLORS`, `SHAPES`,
        `SIZES`, `DIRECTIONS`) and bool `held_out`.

    Example:

    >>> data = generate_moving_shapes("test", num_examples=2, num_frames=4, image_size=16)
    >>> data["videos"].shape
    (2, 4, 16, 16, 3)
    """
    check_choice("split", split, tuple(MOVING_SHAPES_SPLIT_SIZES))
    n = check_positive_int("num_examples", num_examples or MOVING_SHAPES_SPLIT_SIZES[split])
    num_frames = check_positive_int("num_frames", num_frames)
    image_size = check_positive_int("image_size", image_size)
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16. Received: image_size={image_size}")
    combos = _combos(split)
    blocks = []
    for b in range(-(-n // _BLOCK)):
        rng = np.random.default_rng([seed, _STREAMS[split], b])
        # A whole block is drawn, then cut: a shorter request gives the
        # same first clips.
        p = {k: v[: min(_BLOCK, n - b * _BLOCK)] for k, v in _sample(rng, _BLOCK, combos).items()}
        p["videos"] = _render(p, num_frames, image_size, rng)
        blocks.append(p)
    keys = ("videos", "colors", "shapes", "sizes", "directions")
    out = {k: np.concatenate([blk[k] for blk in blocks]) for k in keys}
    for k in ("colors", "shapes", "sizes", "directions"):
        out[k] = out[k].astype("int32")
    rows = list(zip(out["colors"], out["shapes"], out["directions"], out["sizes"]))
    out["captions"] = np.array([moving_shape_caption(c, s, d) for c, s, d, _ in rows], dtype=object)
    out["references"] = [
        [moving_shape_caption(c, s, d), moving_shape_caption(c, s, d, z)] for c, s, d, z in rows
    ]
    held = [(shapes.COLORS[c], shapes.SHAPES[s]) in shapes.HELD_OUT_COMBOS for c, s, _, _ in rows]
    out["held_out"] = np.array(held, dtype=bool)
    return out


def moving_shapes_dataset(
    split="train",
    batch_size=32,
    num_frames=8,
    image_size=32,
    tokenizer=None,
    shuffle=True,
    seed=0,
    num_examples=None,
    drop_remainder=True,
):
    """Batches `{"images", "token_ids"}` of moving-shapes clips, for a video captioner's `fit`.

    The clips sit under `"images"` (the captioners' image input, whose
    vision encoder is then a `kerasmm.models.VideoEncoder`), each frame
    preprocessed as the shapes pipeline's images (`CLIPImagePreprocessor`).
    "moves", "up" and "down" are not words of the shapes vocabulary: the
    default tokenizer spells them in several byte-level tokens (a caption
    takes 14 ids at most, start and end included, of the 16).

    Args:
        split, num_frames, image_size, num_examples: as `generate_moving_shapes`.
        batch_size: int.
        tokenizer: callable from a list of str to token ids; defaults to
            `caption_tokenizer()`.
        shuffle: bool, reshuffle every epoch.
        seed: int, seed of the shuffling (the clips use the dataset seed 0).
        drop_remainder: bool.

    Returns:
        A `tf.data.Dataset` of dicts: `images` float32
        `(batch, num_frames, image_size, image_size, 3)`, `token_ids` int32.

    Example:

    >>> ds = moving_shapes_dataset(batch_size=2, num_frames=4, image_size=16, num_examples=4)
    >>> tuple(next(iter(ds))["images"].shape)
    (2, 4, 16, 16, 3)
    """
    data = generate_moving_shapes(split, num_examples, num_frames, image_size)
    videos = data["videos"]
    frames = CLIPImagePreprocessor(image_size=image_size)(videos.reshape((-1,) + videos.shape[2:]))
    images = np.asarray(frames).reshape(videos.shape[:2] + np.shape(frames)[1:])
    return captions_to_batches(
        images, data["captions"], tokenizer or caption_tokenizer(), batch_size, shuffle, seed,
        drop_remainder,
    )
