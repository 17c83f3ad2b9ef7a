import keras
import numpy as np
import pytest

from kerasmm.losses import SigLIPLoss


def siglip_reference(images, texts, logit_scale, logit_bias):
    """SigLIP loss as in the paper's Algorithm 1 (float64 numpy):
    `-sum(log_sigmoid(labels * logits)) / n`."""
    images, texts = np.float64(images), np.float64(texts)
    n = len(images)
    logits = np.exp(float(logit_scale)) * images @ texts.T + float(logit_bias)
    labels = 2 * np.eye(n) - np.ones((n, n))
    log_sigmoid = -np.logaddexp(0.0, -labels * logits)
    return -log_sigmoid.sum() / n


def make_inputs(batch=6, dim=4, seed=1):
    rng = np.random.default_rng(seed)
    images = (0.5 * rng.normal(size=(batch, dim))).astype("float32")
    texts = (0.5 * rng.normal(size=(batch, dim))).astype("float32")
    return images, texts


def outputs(images, texts, logit_scale, logit_bias):
    return {
        "image_embeddings": images,
        "text_embeddings": texts,
        "logit_scale": logit_scale,
        "logit_bias": logit_bias,
    }


def loss_fn(loss):
    return lambda i, t, s, b: loss(None, outputs(i, t, s, b))


@pytest.mark.parametrize("scale, bias", [(np.log(10.0), -10.0), (0.3, 0.5)])
def test_value_matches_numpy(compute, scale, bias):
    images, texts = make_inputs()
    value = compute(loss_fn(SigLIPLoss()), images, texts, np.float32(scale),
                    np.float32(bias))
    np.testing.assert_allclose(
        float(value), siglip_reference(images, texts, scale, bias), rtol=1e-5
    )


def test_gradients_match_finite_differences(value_and_grads,
                                            central_differences):
    images, texts = make_inputs()
    scale, bias = np.float32(0.8), np.float32(-1.5)
    value, grads = value_and_grads(loss_fn(SigLIPLoss()), images, texts,
                                   scale, bias)
    expected = central_differences(siglip_reference, images, texts, scale,
                                   bias)
    np.testing.assert_allclose(
        value, siglip_reference(images, texts, scale, bias), rtol=1e-5
    )
    for grad, reference in zip(grads, expected):
        np.testing.assert_allclose(grad, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("chunk_size", [4, 16])
def test_chunked_equals_unchunked(value_and_grads, chunk_size):
    images, texts = make_inputs()
    args = (images, texts, np.float32(1.1), np.float32(-2.0))
    value, grads = value_and_grads(loss_fn(SigLIPLoss()), *args)
    chunked_value, chunked_grads = value_and_grads(
        loss_fn(SigLIPLoss(chunk_size=chunk_size)), *args
    )
    np.testing.assert_allclose(chunked_value, value, atol=1e-5)
    for chunked, plain in zip(chunked_grads, grads):
        np.testing.assert_allclose(chunked, plain, atol=1e-5)


def test_float16_inputs_give_float32_loss(compute):
    images, texts = make_inputs()
    keras.config.set_dtype_policy("mixed_float16")
    low = {
        "image_embeddings": keras.ops.cast(images, "float16"),
        "text_embeddings": keras.ops.cast(texts, "float16"),
        "logit_scale": keras.ops.cast(np.log(10.0), "float16"),
        "logit_bias": keras.ops.cast(-10.0, "float16"),
    }
    loss = SigLIPLoss(chunk_size=4)
    value = compute(lambda y_pred: loss(None, y_pred), low)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    rounded = [keras.ops.convert_to_numpy(keras.ops.cast(v, "float32"))
               for v in low.values()]
    np.testing.assert_allclose(float(value), siglip_reference(*rounded),
                               rtol=1e-5)


def test_missing_logit_bias_raises():
    images, texts = make_inputs()
    with pytest.raises(ValueError, match="logit_bias"):
        SigLIPLoss()(None, {"image_embeddings": images,
                            "text_embeddings": texts, "logit_scale": 1.0})


def test_bad_inputs_raise():
    images, texts = make_inputs()
    with pytest.raises(ValueError, match="same width"):
        SigLIPLoss()(None, outputs(images, texts[:, :3], 1.0, 0.0))
    with pytest.raises(ValueError, match="image_embeddings"):
        SigLIPLoss()(None, {"text_embeddings": texts, "logit_scale": 1.0,
                            "logit_bias": 0.0})
    with pytest.raises(ValueError, match="chunk_size=0"):
        SigLIPLoss(chunk_size=0)


def test_config_round_trip():
    loss = SigLIPLoss(chunk_size=8)
    restored = SigLIPLoss.from_config(loss.get_config())
    assert restored.get_config() == loss.get_config()


def compiled(fn):
    """`fn` compiled with XLA on either backend."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    import tensorflow as tf

    return tf.function(fn, jit_compile=True)


@pytest.mark.parametrize("chunk_size", [None, 512])
def test_xla_keeps_the_many_small_negative_terms(chunk_size):
    """At SigLIP's initial scale and bias every negative pair adds ~4.5e-5:
    XLA must not lose them in one float32 sum over all B^2 pairs (it did,
    by 0.07 at B=4096, when the rows were summed with `ops.sum`)."""
    rng = np.random.default_rng(0)
    images, texts = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in
                     rng.standard_normal((2, 2048, 64)).astype("float32"))
    scale, bias = np.float32(np.log(10.0)), np.float32(-10.0)
    loss = SigLIPLoss(chunk_size=chunk_size)
    value = compiled(lambda i, t, s, b: loss(None, outputs(i, t, s, b)))(
        images, texts, scale, bias)
    expected = siglip_reference(images, texts, scale, bias)
    # The negatives' share of the loss: the part that used to vanish.
    assert expected - 10.0 > 0.05
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)
