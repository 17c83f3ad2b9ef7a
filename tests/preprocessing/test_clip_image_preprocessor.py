import numpy as np
import pytest
import tensorflow as tf

from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.utils.constants import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
STD = np.array([0.26862954, 0.26130258, 0.27577711])


def x_gradient(height, width, slope=0.4, offset=10.0):
    """A ramp in 0-255 levels (divide by 255 for float pixels)."""
    x = np.arange(width, dtype="float64")
    return np.broadcast_to((slope * x + offset)[None, :, None], (height, width, 3)).copy()


def test_constants_are_openai_clip():
    np.testing.assert_array_equal(OPENAI_CLIP_MEAN, MEAN)
    np.testing.assert_array_equal(OPENAI_CLIP_STD, STD)


def test_constant_image_stays_constant_and_normalisation_is_exact():
    color = np.array([200.0, 30.0, 90.0])
    image = np.broadcast_to(color, (50, 80, 3)).astype("uint8")
    out = np.asarray(CLIPImagePreprocessor(image_size=32)(image))
    assert out.shape == (32, 32, 3)
    expected = (color / 255.0 - MEAN) / STD
    np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), atol=1e-5)


def test_center_crop_geometry_without_resize():
    # Shortest side already 224: the resize is the identity, the crop keeps
    # columns (300 - 224) // 2 = 38 onwards.
    image = x_gradient(224, 300) + np.arange(224)[:, None, None] * 0.1
    out = np.asarray(CLIPImagePreprocessor(224, mean=None, std=None)(image / 255.0))
    np.testing.assert_allclose(out * 255.0, image[:, 38:262], atol=2e-3)


@pytest.mark.parametrize("portrait", [False, True])
def test_shortest_side_resize_then_center_crop(portrait):
    # 448x600 -> 224x300 (scale 1/2) -> crop columns 38..261. Output column j
    # samples source x = (j + 38 + 0.5) * 2 - 0.5; bicubic (antialiased or
    # not) reproduces a linear ramp away from the borders.
    image = x_gradient(448, 600)
    if portrait:
        image = image.transpose(1, 0, 2)
    out = np.asarray(CLIPImagePreprocessor(224, mean=None, std=None)(image / 255.0)) * 255.0
    source_x = (np.arange(224) + 38 + 0.5) * 2 - 0.5
    ramp = 0.4 * source_x + 10.0
    expected = ramp[:, None, None] if portrait else ramp[None, :, None]
    np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), atol=2e-3)


def test_dtypes_batches_and_tf_data_agree():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 40, 56, 3)).astype("uint8")
    preprocess = CLIPImagePreprocessor(image_size=24)
    batched = np.asarray(preprocess(images))
    assert batched.shape == (2, 24, 24, 3) and batched.dtype == np.float32
    np.testing.assert_allclose(np.asarray(preprocess(images[1])), batched[1], atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(preprocess(images.astype("float32") / 255)), batched, atol=1e-5
    )
    # Unbatched images of varying sizes inside tf.data.
    sizes = [(40, 56), (31, 24), (24, 70)]
    raw = [rng.integers(0, 256, size=s + (3,)).astype("uint8") for s in sizes]
    ds = tf.data.Dataset.from_generator(
        lambda: iter(raw), output_signature=tf.TensorSpec((None, None, 3), tf.uint8)
    ).map(preprocess)
    for image, got in zip(raw, ds.as_numpy_iterator()):
        assert got.shape == (24, 24, 3)
        np.testing.assert_allclose(got, np.asarray(preprocess(image)), atol=1e-5)


def test_config_round_trip_and_output_shape():
    layer = CLIPImagePreprocessor(image_size=16, mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2),
                                  interpolation="bilinear", antialias=False)
    restored = CLIPImagePreprocessor.from_config(layer.get_config())
    image = np.random.default_rng(1).integers(0, 256, size=(20, 30, 3)).astype("uint8")
    np.testing.assert_array_equal(np.asarray(restored(image)), np.asarray(layer(image)))
    assert layer.compute_output_shape((None, 20, 30, 3)) == (None, 16, 16, 3)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="image_size"):
        CLIPImagePreprocessor(image_size=0)
    with pytest.raises(ValueError, match="interpolation"):
        CLIPImagePreprocessor(interpolation="cubic")
    with pytest.raises(ValueError, match="mean"):
        CLIPImagePreprocessor(mean=(0.5, 0.5))
    with pytest.raises(ValueError, match="std"):
        CLIPImagePreprocessor(std=(0.5, 0.0, 0.5))
    with pytest.raises(ValueError, match="both"):
        CLIPImagePreprocessor(mean=None)
    layer = CLIPImagePreprocessor(image_size=8)
    with pytest.raises(ValueError, match="shape"):
        layer(np.zeros((8, 8), "uint8"))
    with pytest.raises(ValueError, match="shape"):
        layer(np.zeros((8, 8, 4), "uint8"))
    with pytest.raises(ValueError, match="dtype"):
        layer(tf.fill((8, 8, 3), "x"))
