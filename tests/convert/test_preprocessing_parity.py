"""kerasmm's CLIP tokenizer and image preprocessing against Hugging Face's.

References made by transformers' `CLIPTokenizer` and `CLIPImageProcessor`
(torchvision and PIL backends) in tools/make_parity_fixtures.py.
"""

import json
import os

import numpy as np
import pytest

from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.preprocessing import CLIPTokenizer
from tests.convert.parity import fixture


def _tokenizer_cases():
    directory = fixture("clip_tokenizer")
    with open(os.path.join(directory, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)
    tokenizer = CLIPTokenizer(
        vocabulary=os.path.join(directory, "vocab.json"),
        merges=os.path.join(directory, "merges.txt"),
        sequence_length=cases["context_length"],
        pad_token_id=cases["pad_token_id"])  # HF pads with the end token.
    texts = [case["text"] for case in cases["cases"]]
    expected = np.array([case["token_ids"] for case in cases["cases"]])
    return tokenizer, texts, expected


def test_token_ids_equal_hugging_face_eager():
    tokenizer, texts, expected = _tokenizer_cases()
    actual = np.asarray(tokenizer(texts))
    mismatched = [t for t, a, e in zip(texts, actual, expected) if list(a) != list(e)]
    assert not mismatched, f"ids differ from HF CLIPTokenizer for {mismatched}"


@pytest.mark.slow
@pytest.mark.tf_only
def test_token_ids_equal_hugging_face_in_tf_data():
    import tensorflow as tf

    tokenizer, texts, expected = _tokenizer_cases()
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(5).map(tokenizer)
    actual = np.concatenate([np.asarray(batch) for batch in dataset])
    np.testing.assert_array_equal(actual, expected)


def _image_cases():
    directory = fixture("clip_image_processor")
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    with np.load(os.path.join(directory, "reference.npz")) as data:
        arrays = dict(data)
    return config, arrays


@pytest.mark.parametrize("backend", ["torchvision", "pil"])
def test_image_preprocessing_close_to_hugging_face(backend):
    """Differences in 0..255 pixel levels (measured here: none without a
    resize; max 0.94, mean 0.28 on a smooth image; max 11.8, mean 0.35 on
    uniform noise, the worst case for bicubic resampling)."""
    config, arrays = _image_cases()
    preprocess = CLIPImagePreprocessor(image_size=config["image_size"],
                                       mean=config["mean"], std=config["std"])
    std = np.array(config["std"])
    for i in range(config["num_images"]):
        image = arrays[f"image_{i}"]
        levels = np.abs(np.asarray(preprocess(image)) - arrays[f"{backend}_{i}"]) * std * 255
        if image.shape[:2] == (config["image_size"],) * 2:
            assert levels.max() < 1e-3  # No resize: the same normalisation.
        elif i == config["smooth_image"]:
            assert levels.max() < 2.0, levels.max()
        else:
            assert levels.mean() < 1.0 and levels.max() < 16.0, (levels.mean(), levels.max())
