"""Image preprocessors: uint8 0-255 and float 0-1 give the same output; other
ranges are refused.

Failed before the fix (HEAD 9d51597): float pixels were read as 0-255, so a
picture given as float 0-1 came out about 255 times too dark (max difference
to the uint8 picture ~3.8 after CLIP normalisation); floats in [-1, 1], NaN
and int32 values up to 65535 were preprocessed without a word.
"""

import numpy as np
import pytest
import tensorflow as tf

from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.preprocessing import PerceiverImagePreprocessor

PREPROCESSORS = [
    lambda: CLIPImagePreprocessor(image_size=24),
    lambda: PerceiverImagePreprocessor(image_size=24),
    lambda: CLIPImagePreprocessor(image_size=24, mean=None, std=None),
]
IDS = ["clip", "perceiver", "clip_unnormalised"]
RANGE = r"images must be integers in \[0, 255\] or floats in \[0, 1\]"


def picture(shape=(2, 30, 40, 3), seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape).astype("uint8")


@pytest.mark.parametrize("make", PREPROCESSORS, ids=IDS)
@pytest.mark.parametrize("shape", [(2, 30, 40, 3), (24, 24, 3), (2, 24, 24, 3)])
def test_uint8_and_float_pictures_give_the_same_output(make, shape):
    preprocess = make()
    pixels = picture(shape)
    expected = np.asarray(preprocess(pixels))
    for dtype in ("float32", "float64", "float16"):
        floats = (pixels.astype("float64") / 255).astype(dtype)
        atol = 1e-2 if dtype == "float16" else 1e-5
        np.testing.assert_allclose(np.asarray(preprocess(floats)), expected, atol=atol)
    for dtype in ("int32", "int64", "uint16"):
        np.testing.assert_array_equal(np.asarray(preprocess(pixels.astype(dtype))), expected)


@pytest.mark.parametrize("make", PREPROCESSORS, ids=IDS)
def test_out_of_range_pictures_are_refused(make):
    preprocess = make()
    pixels = picture()
    bad = {
        "float 0-255": pixels.astype("float32"),
        "float -1..1": pixels.astype("float32") / 127.5 - 1,
        "float NaN": np.where(pixels > 250, np.nan, pixels / 255).astype("float32"),
        "int 0-65535": pixels.astype("int32") * 257,
        "int negative": pixels.astype("int32") - 1,
    }
    for name, images in bad.items():
        with pytest.raises(ValueError, match=RANGE):
            preprocess(images)
        with pytest.raises(ValueError, match=RANGE):
            preprocess(images[0])
        # Inside tf.data the same message, from a TensorFlow assertion.
        dataset = tf.data.Dataset.from_tensor_slices(images).map(preprocess)
        with pytest.raises(tf.errors.InvalidArgumentError, match=RANGE):
            list(dataset)


@pytest.mark.parametrize("make", PREPROCESSORS, ids=IDS)
def test_in_tf_data_equals_eager(make):
    preprocess = make()
    pixels = picture((3, 30, 40, 3))
    for images in (pixels, pixels.astype("float32") / 255):
        dataset = tf.data.Dataset.from_tensor_slices(images).map(preprocess).batch(3)
        np.testing.assert_allclose(next(iter(dataset)).numpy(),
                                   np.asarray(preprocess(images)), atol=1e-6)
