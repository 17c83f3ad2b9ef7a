"""Multimodal sentiment on the shapes scenes: the label needs both modalities.

Each sentence names a colour x shape and says either that the writer wanted
it ("i really wanted a red circle") or dreaded it ("anything but a red
circle"). Next to a scene showing that shape a wish is positive and a dread
negative; next to a scene without it, the opposite. So the same sentence
means opposite things next to different scenes:

- every scene is used twice, with the same kind of sentence (wish or
  dread), once naming a shape it shows and once a shape it does not: each
  scene is positive exactly once;
- the shape named when absent is drawn as the scenes draw theirs (uniform
  over the split's colour x shape combinations), so the named shapes of
  positives and negatives follow the same distribution, and wishes and
  dreads are equally likely.

A text-only or an image-only model therefore sits near chance
(`single_modality_signal` measures it), a fusion model need not. Scenes
are `generate_shapes`'s (the "test" split alone shows `HELD_OUT_COMBOS`).
"""

import numpy as np

from kerasmm.datasets import shapes
from kerasmm.datasets.qa_pipeline import WordTokenizer
from kerasmm.datasets.qa_pipeline import qa_batches
from kerasmm.datasets.qa_pipeline import vocabulary_of
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_positive_int

SENTIMENT_LABELS = ("negative", "positive")
SENTIMENT_SEQUENCE_LENGTH = 12
# {d} is "colour shape". A wish is positive when {d} is in the scene, a
# dread when it is not.
WISH_TEMPLATES = ("i really wanted a {d}", "a {d} is exactly what i hoped for",
                  "i love getting a {d}")
DREAD_TEMPLATES = ("please do not let it be a {d}", "anything but a {d}",
                   "i would hate to get a {d}")
SENTIMENT_WORDS = tuple(vocabulary_of(
    [t.format(d="") for t in WISH_TEMPLATES + DREAD_TEMPLATES]
    + list(shapes.COLORS + shapes.SHAPES)))

_STREAMS = {"train": 0, "validation": 1, "test": 2}
_BLOCK = 1000


def _scene_combos(colors, kinds, num_shapes):
    return {(int(colors[k]), int(kinds[k])) for k in range(int(num_shapes))}


def generate_sentiment(split="train", num_examples=None, image_size=64, seed=0):
    """One split of the multimodal sentiment set as numpy arrays.

    Args:
        split: "train", "validation" or "test".
        num_examples: int, defaults to `SPLIT_SIZES[split]` (two examples
            per scene; an odd count drops the last one's twin).
        image_size: int >= 16, side of the images.
        seed: int, the dataset's seed.

    Returns:
        A dict: `images` uint8 `(N, S, S, 3)`, `sentences` (list of str),
        `labels` int32 `(N,)` (indices into `SENTIMENT_LABELS`), `present`
        (bool: the named shape is in the scene), `dread` (bool: a dread
        sentence), `scene_ids` int32 (examples `2j` and `2j + 1` share scene
        `j`), `named` int32 `(N, 2)` (colour, shape named) and the scene
        parameters `num_shapes`, `colors`, `shapes` of each example.

    Example:
    >>> data = generate_sentiment("train", num_examples=4, image_size=16)
    >>> data["labels"].reshape(2, 2).sum(axis=1).tolist()  # one positive per scene
    [1, 1]
    """
    check_choice("split", split, tuple(_STREAMS))
    num_examples = check_positive_int("num_examples", num_examples or shapes.SPLIT_SIZES[split])
    num_scenes = -(-num_examples // 2)
    scenes = shapes.generate_shapes(split, num_scenes, image_size, seed)
    held = {(shapes.COLORS.index(c), shapes.SHAPES.index(s)) for c, s in shapes.HELD_OUT_COMBOS}
    allowed = [(c, s) for c in range(len(shapes.COLORS)) for s in range(len(shapes.SHAPES))
               if split == "test" or (c, s) not in held]
    sentences, named, present, dread = [], [], [], []
    for start in range(0, num_scenes, _BLOCK):
        rng = np.random.default_rng([seed, 30 + _STREAMS[split], start // _BLOCK])
        for j in range(start, min(start + _BLOCK, num_scenes)):
            shown = _scene_combos(scenes["colors"][j], scenes["shapes"][j],
                                  scenes["num_shapes"][j])
            is_dread = bool(rng.random() < 0.5)
            templates = DREAD_TEMPLATES if is_dread else WISH_TEMPLATES
            # Scenes draw each shape uniformly from the split's combinations,
            # so does the absent one: named shapes follow one distribution.
            absent = shown.copy().pop()
            while absent in shown:
                absent = allowed[rng.integers(len(allowed))]
            k = int(rng.integers(scenes["num_shapes"][j]))
            pair = [(int(scenes["colors"][j, k]), int(scenes["shapes"][j, k])), absent]
            for is_present in (rng.permutation(2) == 0):
                combo = pair[0] if is_present else pair[1]
                text = templates[rng.integers(len(templates))]
                sentences.append(text.format(d=f"{shapes.COLORS[combo[0]]} "
                                             f"{shapes.SHAPES[combo[1]]}"))
                named.append(combo)
                present.append(bool(is_present))
                dread.append(is_dread)
    scene_ids = np.repeat(np.arange(num_scenes, dtype="int32"), 2)[:num_examples]
    out = {k: scenes[k][scene_ids] for k in ("images", "num_shapes", "colors", "shapes")}
    present = np.array(present[:num_examples])
    dread = np.array(dread[:num_examples])
    out.update(sentences=sentences[:num_examples], present=present, dread=dread,
               scene_ids=scene_ids, named=np.array(named[:num_examples], dtype="int32"),
               labels=(present != dread).astype("int32"))
    return out


def single_modality_signal(train, test):
    """Test accuracy of the best lookup predictors from one modality alone.

    A text-only predictor answers each test sentence with the majority
    label of that sentence in `train` (or train's majority when unseen);
    an image-only one does the same for each scene's set of colour x shape
    combinations (what an image shows). Near 0.5 means the modality alone
    carries no signal.

    Args:
        train, test: dicts of `generate_sentiment`.

    Returns:
        `{"text_only": float, "image_only": float}`.
    """
    def lookup_accuracy(train_keys, test_keys):
        votes = {}
        for key, label in zip(train_keys, train["labels"]):
            votes.setdefault(key, []).append(int(label))
        prior = int(np.mean(train["labels"]) >= 0.5)
        guesses = [int(np.mean(votes[k]) >= 0.5) if k in votes else prior for k in test_keys]
        return float(np.mean(np.array(guesses) == test["labels"]))

    def scene_keys(data):
        return [tuple(sorted(_scene_combos(c, s, n))) for c, s, n in
                zip(data["colors"], data["shapes"], data["num_shapes"])]

    return {"text_only": lookup_accuracy(train["sentences"], test["sentences"]),
            "image_only": lookup_accuracy(scene_keys(train), scene_keys(test))}


def sentiment_tokenizer(sequence_length=SENTIMENT_SEQUENCE_LENGTH):
    """The `WordTokenizer` of the sentiment set's sentences (one id per word)."""
    return WordTokenizer(SENTIMENT_WORDS, sequence_length)


def sentiment_dataset(split="train", batch_size=64, image_size=64, tokenizer=None,
                      shuffle=True, seed=0, num_examples=None, drop_remainder=True,
                      blank=None):
    """Batches `({"images", "token_ids", "padding_mask"}, labels)` of the sentiment set.

    Arguments as `kerasmm.datasets.shapes_vqa_dataset`; `tokenizer`
    defaults to `sentiment_tokenizer()`.

    Example:
    >>> ds = sentiment_dataset(batch_size=2, image_size=16, num_examples=2)
    >>> x, y = next(iter(ds))
    >>> tuple(x["token_ids"].shape), sorted(y.numpy().tolist())
    ((2, 12), [0, 1])
    """
    data = generate_sentiment(split, num_examples, image_size)
    return qa_batches(data["images"], data["sentences"], data["labels"],
                      tokenizer or sentiment_tokenizer(), batch_size, shuffle, seed,
                      drop_remainder, blank)
