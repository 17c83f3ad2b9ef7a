import os

import keras
import numpy as np
import pytest

from kerasmm.models import VQVAE

TINY = {"num_embeddings": 16, "embedding_dim": 4, "hidden_dims": (8, 8)}


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def images(shape=(3, 16, 24, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


@pytest.mark.parametrize("image_shape", [(16, 24, 1), (8, 8, 3)])
def test_encode_decode_shapes_and_range(image_shape):
    model = VQVAE(image_shape=image_shape, **TINY)
    x = images((3, *image_shape))
    codes = to_numpy(model.encode(x))
    assert model.downsampling_factor == 4
    assert codes.shape == (3, image_shape[0] // 4, image_shape[1] // 4)
    assert codes.dtype == np.int32 and codes.min() >= 0 and codes.max() < 16
    decoded = to_numpy(model.decode(codes))
    assert decoded.shape == (3, *image_shape) and decoded.dtype == np.float32
    assert np.abs(decoded).max() <= 1.0
    # The forward pass is decode(encode(x)).
    np.testing.assert_allclose(to_numpy(model({"images": x})), decoded, atol=1e-6)


def test_loss_matches_numpy():
    model = VQVAE(image_shape=(8, 8, 3), beta=0.4, **TINY)
    x = images((4, 8, 8, 3), seed=1)
    reconstructions = model(x)
    loss = to_numpy(model.compute_loss(x={"images": x}, y_pred=reconstructions))
    z = to_numpy(model.encoder(x))
    codebook = to_numpy(model.quantizer.codebook)
    q = codebook[((z[..., None, :] - codebook) ** 2).sum(-1).argmin(-1)]
    expected = ((x - to_numpy(reconstructions)) ** 2).mean() + 1.4 * ((z - q) ** 2).mean()
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("use_ema", [False, True])
def test_fit_on_images_only(use_ema):
    model = VQVAE(image_shape=(8, 8, 3), use_ema=use_ema, **TINY)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    x = images((16, 8, 8, 3), seed=2)
    encoder_before = to_numpy(model.encoder.weights[0])
    codebook_before = to_numpy(model.quantizer.codebook)
    history = model.fit({"images": x}, batch_size=16, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert not np.allclose(to_numpy(model.encoder.weights[0]), encoder_before)
    # The codebook moves by gradient, or by moving averages with use_ema.
    assert not np.allclose(to_numpy(model.quantizer.codebook), codebook_before)


def test_keras_round_trip(tmp_path):
    model = VQVAE(image_shape=(8, 16, 1), use_ema=True, num_residual_blocks=2, **TINY)
    x = images((2, 8, 16, 1))
    path = os.path.join(tmp_path, "vqvae.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(to_numpy(restored.encode(x)), to_numpy(model.encode(x)))
    np.testing.assert_allclose(to_numpy(restored(x)), to_numpy(model(x)), atol=1e-6)


def test_frozen_config_freezes_every_layer():
    model = VQVAE(image_shape=(8, 8, 1), trainable=False, **TINY)
    assert not model.trainable_variables and not model.encoder.trainable


@pytest.mark.parametrize("kwargs, message", [
    ({"image_shape": (10, 16, 3)}, "image_shape height must be divisible"),
    ({"image_shape": (16, 16, 2)}, r"image_shape\[-1\] must be one of \(1, 3\)"),
    ({"image_shape": (16, 16)}, "image_shape must be"),
    ({"image_shape": (16, 16, 3), "hidden_dims": (8, 0)}, "hidden_dims must be"),
    ({"image_shape": (16, 16, 3), "num_embeddings": 0}, "num_embeddings must be"),
    ({"image_shape": (16, 16, 3), "num_residual_blocks": -1}, "num_residual_blocks must be"),
    ({"image_shape": (16, 16, 3), "beta": -0.1}, "beta must be >= 0"),
])
def test_bad_arguments(kwargs, message):
    config = {**TINY, **kwargs}
    with pytest.raises(ValueError, match=message):
        VQVAE(**config)


def test_bad_inputs():
    model = VQVAE(image_shape=(8, 8, 3), **TINY)
    with pytest.raises(ValueError, match=r"images must have shape \(batch, 8, 8, 3\)"):
        model.encode(np.zeros((1, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match="images must be a float batch"):
        model(np.zeros((1, 8, 8, 3), "uint8"))
    with pytest.raises(ValueError, match=r"codes must have shape \(batch, 2, 2\)"):
        model.decode(np.zeros((1, 3, 3), "int32"))
    with pytest.raises(ValueError, match="codes must be integers in"):
        model.decode(np.full((1, 2, 2), 16, "int32"))
