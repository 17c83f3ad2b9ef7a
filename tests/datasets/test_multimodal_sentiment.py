import collections

import numpy as np
import pytest

from kerasmm.datasets import (
    HELD_OUT_COMBOS,
    generate_sentiment,
    sentiment_dataset,
    sentiment_tokenizer,
    single_modality_signal,
)
from kerasmm.datasets.multimodal_sentiment import DREAD_TEMPLATES
from kerasmm.datasets.shapes import COLOR_RGB, COLORS, SHAPES


@pytest.fixture(scope="module")
def train():
    return generate_sentiment("train", num_examples=6000, image_size=16)


@pytest.fixture(scope="module")
def test():
    return generate_sentiment("test", num_examples=1000, image_size=16)


def _named(sentence):
    words = sentence.split()
    (color,) = [w for w in words if w in COLORS]
    (kind,) = [w for w in words if w in SHAPES]
    return COLORS.index(color), SHAPES.index(kind)


def test_labels_follow_from_sentence_and_scene(train):
    dread_openings = {t.split("{")[0] for t in DREAD_TEMPLATES}
    for i, sentence in enumerate(train["sentences"][:2000]):
        combo = _named(sentence)
        shown = {(train["colors"][i, k], train["shapes"][i, k])
                 for k in range(train["num_shapes"][i])}
        dread = any(sentence.startswith(opening) for opening in dread_openings)
        assert (combo in shown) == train["present"][i]
        assert dread == train["dread"][i]
        assert train["labels"][i] == int((combo in shown) != dread)


def test_named_shape_is_drawn_when_present():
    data = generate_sentiment("validation", num_examples=200, image_size=32)
    for i in np.nonzero(data["present"])[0]:
        color = COLOR_RGB[data["named"][i, 0]]
        close = np.all(np.abs(data["images"][i].astype("int16") - color) <= 21, axis=-1)
        assert close.sum() >= 10


def test_balanced_per_scene_and_per_sentence(train, test):
    # Each scene is shown twice, positive exactly once.
    pairs = train["labels"].reshape(-1, 2)
    assert (pairs.sum(axis=1) == 1).all()
    assert (train["scene_ids"].reshape(-1, 2) == np.arange(3000)[:, None]).all()
    np.testing.assert_array_equal(train["images"][0::2], train["images"][1::2])
    # Sentences: no sentence (or template kind, or named shape) leans either way.
    for keys in (train["sentences"], train["dread"].tolist(),
                 [tuple(x) for x in train["named"]]):
        by_key = collections.defaultdict(list)
        for key, label in zip(keys, train["labels"]):
            by_key[key].append(label)
        common = [np.mean(v) for v in by_key.values() if len(v) >= 40]
        assert common and max(abs(m - 0.5) for m in common) < 0.25
    # The best one-modality lookups sit at chance on held-out data.
    signal = single_modality_signal(train, test)
    assert abs(signal["text_only"] - 0.5) < 0.05, signal
    assert abs(signal["image_only"] - 0.5) < 0.05, signal
    # ... while the two together decide every label.
    assert single_modality_signal(train, train)["image_only"] == 0.5


def test_held_out_combinations_only_in_test(train, test):
    held = {(COLORS.index(c), SHAPES.index(s)) for c, s in HELD_OUT_COMBOS}
    assert not {_named(s) for s in train["sentences"]} & held
    assert {_named(s) for s in test["sentences"]} & held


def test_deterministic_prefix_and_arguments():
    a = generate_sentiment("train", num_examples=1001, image_size=16, seed=2)
    b = generate_sentiment("train", num_examples=1200, image_size=16, seed=2)
    assert a["sentences"] == b["sentences"][:1001]
    np.testing.assert_array_equal(a["labels"], b["labels"][:1001])
    assert len(generate_sentiment("train", num_examples=1, image_size=16)["labels"]) == 1
    with pytest.raises(ValueError, match="split must be one of"):
        generate_sentiment("dev")


def test_tokenizer_covers_every_sentence(test):
    tokenizer = sentiment_tokenizer()
    ids = tokenizer(test["sentences"])["token_ids"]
    assert not (ids == tokenizer.unk_token_id).any()
    assert ((ids == tokenizer.end_token_id).sum(axis=1) == 1).all()


@pytest.mark.tf_only
def test_dataset_batches():
    x, y = next(iter(sentiment_dataset(batch_size=4, image_size=16, num_examples=4,
                                       shuffle=False)))
    data = generate_sentiment("train", num_examples=4, image_size=16)
    np.testing.assert_array_equal(y.numpy(), data["labels"])
    assert tuple(x["images"].shape) == (4, 16, 16, 3)
