import numpy as np
import pytest
import tensorflow as tf

from kerasmm.datasets import (
    HELD_OUT_CLASS_IDS,
    generate_shapes,
    shapes_dataset,
    shapes_tokenizer,
    shapes_zero_shot_set,
    zero_shot_images,
)

MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
STD = np.array([0.26862954, 0.26130258, 0.27577711])


def clip_normalise(images):
    return (images.astype("float64") / 255.0 - MEAN) / STD


@pytest.fixture(scope="module")
def tokenizer():
    return shapes_tokenizer()


def stack(ds):
    batches = list(ds.as_numpy_iterator())
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}, len(batches)


def test_batches_shapes_dtypes_and_values(tokenizer):
    ds = shapes_dataset("validation", batch_size=8, num_examples=60, shuffle=False,
                        tokenizer=tokenizer, drop_remainder=False)
    spec = ds.element_spec
    assert set(spec) == {"images", "token_ids"}
    assert spec["images"].dtype == tf.float32 and spec["token_ids"].dtype == tf.int32
    data, num_batches = stack(ds)
    assert num_batches == 8 and data["images"].shape == (60, 64, 64, 3)
    assert data["token_ids"].shape == (60, 16)
    raw = generate_shapes("validation", 60, image_size=64)
    np.testing.assert_allclose(data["images"], clip_normalise(raw["images"]), atol=1e-5)
    np.testing.assert_array_equal(data["token_ids"], tokenizer(list(raw["captions"])))


def test_drop_remainder_image_size_and_shuffle(tokenizer):
    ds = shapes_dataset("train", batch_size=16, image_size=32, num_examples=40,
                        tokenizer=tokenizer, seed=1)
    assert ds.element_spec["images"].shape == (16, 32, 32, 3)
    first, num_batches = stack(ds)
    assert num_batches == 2
    again, _ = stack(shapes_dataset("train", batch_size=16, image_size=32, num_examples=40,
                                    tokenizer=tokenizer, seed=1))
    np.testing.assert_array_equal(first["token_ids"], again["token_ids"])
    # Shuffled rows are rows of the split, drawn at 32x32.
    raw = clip_normalise(generate_shapes("train", 40, image_size=32)["images"])
    flat = raw.reshape(40, -1)
    for image in first["images"]:
        assert np.abs(flat - image.reshape(1, -1)).max(axis=1).min() < 1e-4
    ordered, _ = stack(shapes_dataset("train", batch_size=16, image_size=32, num_examples=40,
                                      tokenizer=tokenizer, shuffle=False))
    assert not np.array_equal(first["images"], ordered["images"])


def test_tokenizer_with_padding_mask_and_sequence_length():
    ds = shapes_dataset(batch_size=4, num_examples=8, sequence_length=20)
    assert ds.element_spec["token_ids"].shape == (4, 20)
    masked = shapes_tokenizer(return_padding_mask=True)
    ds = shapes_dataset(batch_size=4, num_examples=8, tokenizer=masked, shuffle=False)
    batch = next(iter(ds))
    assert set(batch) == {"images", "token_ids", "padding_mask"}
    np.testing.assert_array_equal(batch["padding_mask"], np.asarray(batch["token_ids"]) != 0)


def test_zero_shot_set_uses_the_pipeline_convention():
    images, labels = shapes_zero_shot_set(num_per_class=2, image_size=64)
    raw, raw_labels = zero_shot_images(num_per_class=2, image_size=64)
    assert images.shape == (60, 64, 64, 3) and images.dtype == np.float32
    np.testing.assert_allclose(images, clip_normalise(raw), atol=1e-5)
    np.testing.assert_array_equal(labels, raw_labels)
    assert set(HELD_OUT_CLASS_IDS) <= set(labels.tolist())


def test_bad_arguments(tokenizer):
    with pytest.raises(ValueError, match="split"):
        shapes_dataset("dev", tokenizer=tokenizer)
    with pytest.raises(ValueError, match="batch_size"):
        shapes_dataset(batch_size=0, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="num_examples"):
        shapes_dataset(batch_size=64, num_examples=10, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="sequence_length"):
        shapes_dataset(tokenizer=tokenizer, sequence_length=8)
    with pytest.raises(ValueError, match="shuffle"):
        shapes_dataset(shuffle="yes", tokenizer=tokenizer)
    with pytest.raises(ValueError, match="image_size"):
        shapes_dataset(image_size=-4, tokenizer=tokenizer)
