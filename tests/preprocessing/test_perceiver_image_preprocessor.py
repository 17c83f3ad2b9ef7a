import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasmm.utils.constants import IMAGENET_MEAN
from kerasmm.utils.constants import IMAGENET_STD
from kerasmm.preprocessing import PerceiverImagePreprocessor

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def x_gradient(height, width, slope=0.4, offset=10.0):
    x = np.arange(width, dtype="float64")
    return np.broadcast_to((slope * x + offset)[None, :, None], (height, width, 3)).copy()


def test_constants_are_imagenet():
    np.testing.assert_array_equal(IMAGENET_MEAN, MEAN)
    np.testing.assert_array_equal(IMAGENET_STD, STD)


def test_constant_image_stays_constant_and_normalisation_is_exact():
    color = np.array([200.0, 30.0, 90.0])
    image = np.broadcast_to(color, (50, 80, 3)).astype("uint8")
    out = np.asarray(PerceiverImagePreprocessor(image_size=32)(image))
    assert out.shape == (32, 32, 3)
    expected = (color / 255.0 - MEAN) / STD
    np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), atol=1e-5)


@pytest.mark.parametrize("portrait", [False, True])
def test_center_crop_geometry_without_resize(portrait):
    # Short side 256: the crop is int(224 / 256 * 256) = 224 square, from row
    # (256 - 224) // 2 = 16 and column (300 - 224) // 2 = 38; no resize.
    image = x_gradient(256, 300) + np.arange(256)[:, None, None] * 0.1
    if portrait:
        image = image.transpose(1, 0, 2)
    out = np.asarray(PerceiverImagePreprocessor(224, mean=None, std=None)(image / 255.0))
    window = image[38:262, 16:240] if portrait else image[16:240, 38:262]
    np.testing.assert_allclose(out * 255.0, window, atol=2e-3)


def test_crop_then_resize_to_a_square():
    # 512x600: crop int(0.875 * 512) = 448 from column (600 - 448) // 2 = 76,
    # then 448 -> 224 (scale 1/2) in both directions. Output column j samples
    # source x = 76 + (j + 0.5) * 2 - 0.5; bicubic reproduces a linear ramp
    # away from the borders.
    image = x_gradient(512, 600)
    out = np.asarray(PerceiverImagePreprocessor(224, mean=None, std=None)(image / 255.0)) * 255.0
    ramp = 0.4 * (76 + (np.arange(224) + 0.5) * 2 - 0.5) + 10.0
    np.testing.assert_allclose(out[:, 2:-2], np.broadcast_to(ramp[None, 2:-2, None],
                                                             (224, 220, 3)), atol=2e-3)


def test_crop_fraction_sets_the_window():
    # Fraction 0.5 of a 40x40 image: the central 20x20, upsampled x2 to 40.
    image = x_gradient(40, 40)
    out = np.asarray(PerceiverImagePreprocessor(40, center_crop_fraction=0.5, mean=None,
                                                std=None)(image / 255.0)) * 255.0
    ramp = 0.4 * (10 + (np.arange(40) + 0.5) / 2 - 0.5) + 10.0
    np.testing.assert_allclose(out[:, 3:-3], np.broadcast_to(ramp[None, 3:-3, None],
                                                             (40, 34, 3)), atol=2e-3)


def test_dtypes_batches_and_tf_data_agree():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 40, 56, 3)).astype("uint8")
    preprocess = PerceiverImagePreprocessor(image_size=24)
    batched = np.asarray(preprocess(images))
    assert batched.shape == (2, 24, 24, 3) and batched.dtype == np.float32
    np.testing.assert_allclose(np.asarray(preprocess(images[1])), batched[1], atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(preprocess(images.astype("float32") / 255)), batched, atol=1e-5)
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
    layer = PerceiverImagePreprocessor(image_size=16, center_crop_fraction=0.75,
                                       mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2),
                                       interpolation="bilinear", antialias=False)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, PerceiverImagePreprocessor)
    assert restored.get_config() == layer.get_config()
    image = np.random.default_rng(1).integers(0, 256, size=(20, 30, 3)).astype("uint8")
    np.testing.assert_array_equal(np.asarray(restored(image)), np.asarray(layer(image)))
    assert layer.compute_output_shape((None, 20, 30, 3)) == (None, 16, 16, 3)


@pytest.mark.parametrize("kwargs, message", [
    ({"image_size": 0}, "image_size must be a positive int"),
    ({"center_crop_fraction": 0.0}, "center_crop_fraction must be a number in"),
    ({"center_crop_fraction": 1.5}, "center_crop_fraction=1.5"),
    ({"interpolation": "cubic"}, "interpolation must be one of"),
    ({"mean": (0.5, 0.5)}, "mean must be None or 3 finite numbers"),
    ({"mean": None}, "mean and std must both be given"),
    ({"std": (0.2, 0.0, 0.2)}, "std must be positive"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PerceiverImagePreprocessor(**kwargs)


def test_bad_images():
    preprocess = PerceiverImagePreprocessor(image_size=8)
    with pytest.raises(ValueError, match="images must have shape"):
        preprocess(np.zeros((8, 8), "uint8"))
    with pytest.raises(ValueError, match="images must be int or float"):
        preprocess(np.zeros((8, 8, 3), bool))
