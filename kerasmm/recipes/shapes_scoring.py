"""Scores of text-to-image samples on the shapes set.

Three independent read-outs of generated images, each against the prompted
colour and shape:

- the shapes reader (`kerasmm.recipes.shapes_reader`), a classifier trained
  on real images only;
- a CLIP's zero-shot read-out: the argmax over the 30 prompts
  "a {colour} {shape}" (e.g. the shipped `shapes_clip_tiny`);
- the CLIP score (Hessel et al., "CLIPScore: A Reference-free Evaluation
  Metric for Image Captioning", 2021): `100 * max(cos(image, prompt), 0)`,
  averaged over the images.

Accuracies are reported over all prompts, the combinations seen in the
generator's training and the `HELD_OUT_COMBOS` (compositional
generalisation), and per prompt, with the per-pixel diversity of each
prompt's samples beside that of real images of the same combination.
"""

import numpy as np

from kerasmm.datasets.shapes import COLORS
from kerasmm.datasets.shapes import HELD_OUT_COMBOS
from kerasmm.datasets.shapes import SHAPES
from kerasmm.datasets.shapes import zero_shot_images
from kerasmm.recipes.shapes_reader import read_shapes
from kerasmm.recipes.shapes_reader import to_unit_range
from kerasmm.utils.checks import check_positive_int

GROUPS = ("all", "seen", "held_out")


def combo_prompt(color, shape):
    """The prompt of colour id `color` and shape id `shape`: "a red circle"."""
    return f"a {COLORS[color]} {SHAPES[shape]}"


def combo_prompts():
    """`(prompts, colors, shapes)` of the 30 combinations, in
    `ZERO_SHOT_CLASSES` order (colour-major)."""
    colors = np.repeat(np.arange(len(COLORS)), len(SHAPES)).astype("int32")
    shapes = np.tile(np.arange(len(SHAPES)), len(COLORS)).astype("int32")
    return [combo_prompt(c, s) for c, s in zip(colors, shapes)], colors, shapes


def is_held_out(colors, shapes):
    """Boolean array: whether each (colour id, shape id) is a held-out combo."""
    held = {(COLORS.index(c), SHAPES.index(s)) for c, s in HELD_OUT_COMBOS}
    return np.array([(int(c), int(s)) in held for c, s in zip(colors, shapes)], dtype=bool)


def to_uint8(images):
    """uint8 pixels of `images` (uint8, or float in [-1, 1])."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.clip(np.round((to_unit_range(images) + 1.0) * 127.5), 0, 255).astype("uint8")


def _clip_embeddings(clip, preprocessor, images=None, prompts=None, batch_size=256):
    out = []
    items = images if images is not None else prompts
    for start in range(0, len(items), batch_size):
        if images is not None:
            x = preprocessor({"images": to_uint8(images[start:start + batch_size])})
            out.append(np.asarray(clip.encode_image(x["images"])))
        else:
            x = preprocessor({"prompts": list(prompts[start:start + batch_size])})
            out.append(np.asarray(clip.encode_text(x["token_ids"])))
    return np.concatenate(out).astype("float32")


def _unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def clip_scores(clip, preprocessor, images, prompts, batch_size=256):
    """Per-image CLIP scores `100 * max(cos(image_i, prompt_i), 0)`, float32 (B,)."""
    if len(images) != len(prompts):
        raise ValueError("images and prompts must have the same length. Received: "
                         f"{len(images)} images and {len(prompts)} prompts")
    batch_size = check_positive_int("batch_size", batch_size)
    image_embeddings = _unit(_clip_embeddings(clip, preprocessor, images=images,
                                              batch_size=batch_size))
    text_embeddings = _unit(_clip_embeddings(clip, preprocessor, prompts=prompts,
                                             batch_size=batch_size))
    cos = np.sum(image_embeddings * text_embeddings, axis=-1)
    return 100.0 * np.maximum(cos, 0.0)


def clip_score(clip, preprocessor, images, prompts, batch_size=256):
    """The CLIP score of `images` (uint8, or float in [-1, 1]) for `prompts`.

    Hessel et al. 2021 with weight 100 (the common `torchmetrics`
    convention): the mean over images of `100 * max(cos, 0)`, the cosine
    between the CLIP image and text embeddings of each image and its
    prompt.

    Args:
        clip: a `kerasmm.models.CLIP`.
        preprocessor: its `CLIPPreprocessor` (e.g. from the same preset).
        images: `(B, H, W, 3)` uint8, or float in [-1, 1].
        prompts: list of B strings.
    """
    return float(np.mean(clip_scores(clip, preprocessor, images, prompts, batch_size)))


def clip_read_out(clip, preprocessor, images, batch_size=256):
    """CLIP's zero-shot reading: the argmax over the 30 "a {colour} {shape}" prompts.

    Returns:
        `{"color": int32 (B,), "shape": int32 (B,)}`.
    """
    prompts, colors, shapes = combo_prompts()
    text = _unit(_clip_embeddings(clip, preprocessor, prompts=prompts, batch_size=batch_size))
    image = _unit(_clip_embeddings(clip, preprocessor, images=images, batch_size=batch_size))
    best = np.argmax(image @ text.T, axis=-1)
    return {"color": colors[best], "shape": shapes[best]}


def pixel_diversity(images):
    """Per-pixel diversity of images of one prompt: the standard deviation over
    the images of each pixel value (in [0, 1] units), averaged over pixels."""
    images = (to_unit_range(images) + 1.0) / 2.0
    if len(images) < 2:
        raise ValueError(f"images must hold at least 2 images. Received: {len(images)}")
    return float(np.mean(np.std(images, axis=0)))


def real_diversity(num_per_class=16, image_size=32, seed=0):
    """`pixel_diversity` of real images of each combination, averaged over
    the 30 combinations (the generator's reference)."""
    images, labels = zero_shot_images(num_per_class, image_size=image_size, seed=seed)
    return float(np.mean([pixel_diversity(images[labels == c]) for c in np.unique(labels)]))


def accuracies(read, colors, shapes, prefix):
    """`{prefix}color_accuracy`, `{prefix}shape_accuracy` and `{prefix}accuracy`
    (both right) of a reading `{"color", "shape"}` against the prompted ids."""
    color_ok = np.asarray(read["color"]) == np.asarray(colors)
    shape_ok = np.asarray(read["shape"]) == np.asarray(shapes)
    return {f"{prefix}color_accuracy": float(color_ok.mean()),
            f"{prefix}shape_accuracy": float(shape_ok.mean()),
            f"{prefix}accuracy": float((color_ok & shape_ok).mean())}


def score_samples(images, colors, shapes, reader, clip=None, preprocessor=None):
    """Scores of generated single-shape images against their prompts.

    Args:
        images: `(B, H, W, 3)` uint8, or float in [-1, 1].
        colors, shapes: int `(B,)`, the prompted colour and shape ids.
        reader: the shapes reader (`load_shapes_reader()`).
        clip, preprocessor: a CLIP and its preprocessor for the CLIP
            read-out and CLIP score (left out when None).

    Returns:
        dict: for each group in `GROUPS` (all images, seen combinations,
        held-out ones; groups without images are left out)
        `reader_{color_accuracy,shape_accuracy,accuracy}_{group}`, with a
        CLIP `clip_..._{group}` and `clip_score_{group}`; `diversity` (the
        mean `pixel_diversity` of each prompt's samples); `per_prompt`,
        `{prompt: {"reader_accuracy", "clip_accuracy", "diversity", "n"}}`.
    """
    colors, shapes = np.asarray(colors, "int32"), np.asarray(shapes, "int32")
    if not len(images) == len(colors) == len(shapes):
        raise ValueError("images, colors and shapes must have the same length. Received: "
                         f"{len(images)}, {len(colors)}, {len(shapes)}")
    prompts = [combo_prompt(c, s) for c, s in zip(colors, shapes)]
    read = {"reader_": read_shapes(reader, images)}
    if clip is not None:
        read["clip_"] = clip_read_out(clip, preprocessor, images)
        scores = clip_scores(clip, preprocessor, images, prompts)
    held = is_held_out(colors, shapes)
    results = {}
    for group, keep in zip(GROUPS, (np.ones_like(held), ~held, held)):
        if not keep.any():
            continue
        for prefix, r in read.items():
            sub = {k: v[keep] for k, v in r.items()}
            results.update({f"{k}_{group}": v for k, v in
                            accuracies(sub, colors[keep], shapes[keep], prefix).items()})
        if clip is not None:
            results[f"clip_score_{group}"] = float(scores[keep].mean())
    per_prompt = {}
    for prompt in dict.fromkeys(prompts):
        keep = np.array([p == prompt for p in prompts])
        row = {"n": int(keep.sum())}
        for prefix, r in read.items():
            row[f"{prefix}accuracy"] = accuracies(
                {k: v[keep] for k, v in r.items()}, colors[keep], shapes[keep], "")["accuracy"]
        if keep.sum() > 1:
            row["diversity"] = pixel_diversity(np.asarray(images)[keep])
        per_prompt[prompt] = row
    diversities = [row["diversity"] for row in per_prompt.values() if "diversity" in row]
    if diversities:
        results["diversity"] = float(np.mean(diversities))
    results["per_prompt"] = per_prompt
    return results
