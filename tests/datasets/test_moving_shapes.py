import numpy as np
import pytest

from kerasmm.datasets import (
    DIRECTIONS,
    HELD_OUT_COMBOS,
    caption_tokenizer,
    generate_moving_shapes,
    moving_shapes_dataset,
)
from kerasmm.datasets.shapes import COLORS, SHAPES


def shape_centroids(videos):
    """Centre of the bright (shape) pixels of every frame, (N, T, 2) as (x, y)."""
    mask = videos.max(axis=-1) > 90
    ys, xs = np.indices(videos.shape[2:4])
    count = mask.sum(axis=(2, 3))
    assert (count > 0).all()
    return np.stack([(mask * xs).sum((2, 3)) / count, (mask * ys).sum((2, 3)) / count], -1)


def test_motion_matches_caption():
    data = generate_moving_shapes("test", num_examples=60, num_frames=5, image_size=32)
    assert data["videos"].shape == (60, 5, 32, 32, 3) and data["videos"].dtype == np.uint8
    motion = np.diff(shape_centroids(data["videos"]), axis=1).sum(axis=1)
    expected = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
    for i, caption in enumerate(data["captions"]):
        color, shape, direction = (COLORS[data["colors"][i]], SHAPES[data["shapes"][i]],
                                   DIRECTIONS[data["directions"][i]])
        assert caption == f"a {color} {shape} moves {direction}"
        # The shape travels ~0.45 of the side (14 px) along its direction.
        assert np.dot(motion[i], expected[direction]) > 10
        assert abs(np.cross(motion[i], expected[direction])) < 3


def test_deterministic_prefix_and_held_out():
    full = generate_moving_shapes("train", num_examples=520, num_frames=2, image_size=16)
    head = generate_moving_shapes("train", num_examples=7, num_frames=2, image_size=16)
    np.testing.assert_array_equal(full["videos"][:7], head["videos"])
    assert list(full["captions"][:7]) == list(head["captions"])
    other = generate_moving_shapes("train", num_examples=7, num_frames=2, image_size=16, seed=1)
    assert not np.array_equal(other["videos"], head["videos"])
    assert not full["held_out"].any()
    test = generate_moving_shapes("test", num_examples=300, num_frames=2, image_size=16)
    assert 0.05 < test["held_out"].mean() < 0.4
    held = [(COLORS[c], SHAPES[s]) in HELD_OUT_COMBOS
            for c, s in zip(test["colors"], test["shapes"])]
    np.testing.assert_array_equal(held, test["held_out"])


@pytest.mark.tf_only
def test_dataset_batches():
    tokenizer = caption_tokenizer()
    ds = moving_shapes_dataset(batch_size=4, num_frames=3, image_size=16, num_examples=8,
                               shuffle=False)
    batch = next(iter(ds.as_numpy_iterator()))
    assert batch["images"].shape == (4, 3, 16, 16, 3)
    data = generate_moving_shapes("train", num_examples=4, num_frames=3, image_size=16)
    assert tokenizer.detokenize(batch["token_ids"]) == list(data["captions"])
    # Every caption fits the 16 ids untruncated: its end token is there.
    every = [f"a {c} {s} moves {d}" for c in COLORS for s in SHAPES for d in DIRECTIONS]
    ids = np.asarray(tokenizer(every))
    assert ((ids == tokenizer.end_token_id).sum(axis=1) == 1).all()
    assert (ids != tokenizer.pad_token_id).sum(axis=1).max() <= 14


def test_bad_arguments():
    with pytest.raises(ValueError, match="image_size"):
        generate_moving_shapes(num_examples=2, image_size=8)
    with pytest.raises(ValueError, match="split"):
        generate_moving_shapes("val", num_examples=2)
