import numpy as np
import pytest

from kerasmm.datasets import (
    HELD_OUT_COMBOS,
    caption_tokenizer,
    generate_shapes,
    generate_shapes_captions,
    shapes_caption_dataset,
)
from kerasmm.datasets.shapes import COLORS, SHAPES, SIZES


def test_canonical_captions_describe_the_drawn_scene():
    data = generate_shapes_captions("test", num_examples=300, image_size=16)
    base = generate_shapes("test", num_examples=300, image_size=16)
    np.testing.assert_array_equal(data["images"], base["images"])
    for i, caption in enumerate(data["captions"]):
        words = caption.split()
        first = " ".join([SIZES[data["sizes"][i, 0]], COLORS[data["colors"][i, 0]],
                          SHAPES[data["shapes"][i, 0]]])
        assert caption.startswith("a " + first)
        assert data["references"][i][0] == caption
        if data["num_shapes"][i] == 1:
            assert len(words) == 4
        else:
            relation = "left of" if data["relation"][i] == 1 else "above"
            second = " ".join([SIZES[data["sizes"][i, 1]], COLORS[data["colors"][i, 1]],
                               SHAPES[data["shapes"][i, 1]]])
            assert caption == f"a {first} {relation} a {second}"
            assert len(data["references"][i]) == 3


def test_held_out_flag_and_splits():
    test = generate_shapes_captions("test", num_examples=400, image_size=16)
    train = generate_shapes_captions("train", num_examples=400, image_size=16)
    assert not train["held_out"].any()
    assert 0 < test["held_out"].mean() < 1
    held = {f"{c} {s}" for c, s in HELD_OUT_COMBOS}
    for caption, flag in zip(test["captions"], test["held_out"]):
        words = caption.split()
        pairs = {" ".join(words[i:i + 2]) for i in range(len(words) - 1)}
        assert bool(pairs & held) == flag


@pytest.mark.tf_only
def test_dataset_tokens_round_trip():
    tokenizer = caption_tokenizer()
    ds = shapes_caption_dataset(batch_size=8, image_size=16, num_examples=16, shuffle=False)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 2
    ids = np.concatenate([b["token_ids"] for b in batches])
    assert batches[0]["images"].shape == (8, 16, 16, 3)
    assert batches[0]["images"].dtype == np.float32
    assert (ids[:, 0] == tokenizer.start_token_id).all()
    lengths = (ids != tokenizer.pad_token_id).sum(axis=1)
    ends = ids[np.arange(len(ids)), lengths - 1]
    assert (ends == tokenizer.end_token_id).all()
    data = generate_shapes_captions("train", num_examples=16, image_size=16)
    assert tokenizer.detokenize(ids) == list(data["captions"])


def test_dataset_refuses_too_few_examples():
    with pytest.raises(ValueError, match="num_examples must be >= batch_size"):
        shapes_caption_dataset(batch_size=8, image_size=16, num_examples=4)
