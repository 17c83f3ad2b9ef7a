import keras
import numpy as np
import pytest

from kerasmm.losses import CLIPLoss


def clip_reference(images, texts, logit_scale):
    """CLIP loss transcribed from the paper's pseudo-code, float64 numpy."""
    images, texts = np.float64(images), np.float64(texts)
    scale = np.exp(min(float(logit_scale), np.log(100.0)))
    logits = scale * images @ texts.T
    labels = np.arange(len(images))

    def cross_entropy(z):
        shifted = z - z.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -log_probs[labels, labels].mean()

    return (cross_entropy(logits) + cross_entropy(logits.T)) / 2


def make_inputs(batch=7, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    images = (0.5 * rng.normal(size=(batch, dim))).astype("float32")
    texts = (0.5 * rng.normal(size=(batch, dim))).astype("float32")
    return images, texts


def outputs(images, texts, logit_scale):
    return {
        "image_embeddings": images,
        "text_embeddings": texts,
        "logit_scale": logit_scale,
    }


def loss_fn(loss):
    return lambda i, t, s: loss(None, outputs(i, t, s))


@pytest.mark.parametrize("logit_scale", [1.2, np.log(1 / 0.07), 5.0])
def test_value_matches_numpy(compute, logit_scale):
    images, texts = make_inputs()
    value = compute(loss_fn(CLIPLoss()), images, texts,
                    np.float32(logit_scale))
    expected = clip_reference(images, texts, logit_scale)
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)


def test_gradients_match_finite_differences(value_and_grads,
                                            central_differences):
    images, texts = make_inputs()
    scale = np.float32(1.2)
    value, grads = value_and_grads(loss_fn(CLIPLoss()), images, texts, scale)
    expected = central_differences(clip_reference, images, texts, scale)
    np.testing.assert_allclose(value, clip_reference(images, texts, scale),
                               rtol=1e-5)
    for grad, reference in zip(grads, expected):
        np.testing.assert_allclose(grad, reference, rtol=1e-4, atol=1e-5)


def test_logit_scale_clamped_at_log_100(value_and_grads):
    images, texts = make_inputs()
    _, grads = value_and_grads(loss_fn(CLIPLoss()), images, texts,
                               np.float32(5.0))
    assert grads[2] == 0.0


@pytest.mark.parametrize("chunk_size", [3, 16])
def test_chunked_equals_unchunked(value_and_grads, chunk_size):
    images, texts = make_inputs(batch=7)
    scale = np.float32(2.0)
    value, grads = value_and_grads(loss_fn(CLIPLoss()), images, texts, scale)
    chunked_value, chunked_grads = value_and_grads(
        loss_fn(CLIPLoss(chunk_size=chunk_size)), images, texts, scale
    )
    np.testing.assert_allclose(chunked_value, value, atol=1e-5)
    for chunked, plain in zip(chunked_grads, grads):
        np.testing.assert_allclose(chunked, plain, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_inputs_give_float32_loss(compute, dtype):
    images, texts = make_inputs()
    keras.config.set_dtype_policy(f"mixed_{dtype}")
    loss = CLIPLoss()
    low = {
        "image_embeddings": keras.ops.cast(images, dtype),
        "text_embeddings": keras.ops.cast(texts, dtype),
        "logit_scale": keras.ops.cast(np.log(100.0), dtype),
    }
    value = compute(lambda y_pred: loss(None, y_pred), low)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    rounded = [keras.ops.convert_to_numpy(keras.ops.cast(low[k], "float32"))
               for k in ("image_embeddings", "text_embeddings", "logit_scale")]
    np.testing.assert_allclose(float(value), clip_reference(*rounded),
                               rtol=1e-5)


def test_y_true_is_ignored(compute):
    images, texts = make_inputs()
    y_pred = outputs(images, texts, np.float32(1.0))
    np.testing.assert_allclose(
        float(compute(lambda y: CLIPLoss()(np.ones((7, 3)), y), y_pred)),
        clip_reference(images, texts, 1.0),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "images_shape, texts_shape, match",
    [
        ((4, 5), (4, 6), "same width"),
        ((4, 5), (3, 5), "same batch size"),
        ((4, 5, 1), (4, 5), "image_embeddings must be a 2D"),
        ((4, 5), (5,), "text_embeddings must be a 2D"),
    ],
)
def test_bad_shapes_raise(images_shape, texts_shape, match):
    y_pred = outputs(np.ones(images_shape, "float32"),
                     np.ones(texts_shape, "float32"), np.float32(1.0))
    with pytest.raises(ValueError, match=match):
        CLIPLoss()(None, y_pred)


def test_missing_keys_raise():
    images, texts = make_inputs()
    with pytest.raises(ValueError, match="text_embeddings"):
        CLIPLoss()(None, {"image_embeddings": images, "logit_scale": 1.0})
    with pytest.raises(ValueError, match="logit_scale"):
        CLIPLoss()(None, {"image_embeddings": images,
                          "text_embeddings": texts})
    with pytest.raises(ValueError, match="dict"):
        CLIPLoss()(None, np.stack([images, texts], axis=1))


@pytest.mark.parametrize("chunk_size", [0, -2, 1.5, True])
def test_bad_chunk_size_raises(chunk_size):
    with pytest.raises(ValueError, match=f"chunk_size={chunk_size}"):
        CLIPLoss(chunk_size=chunk_size)


def test_config_round_trip():
    loss = CLIPLoss(chunk_size=64, name="clip")
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert isinstance(restored, CLIPLoss)
    assert restored.get_config() == loss.get_config()
    assert restored.chunk_size == 64
