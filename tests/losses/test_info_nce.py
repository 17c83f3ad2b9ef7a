import keras
import numpy as np
import pytest

from kerasmm.losses import InfoNCE


def info_nce_reference(pairs, temperature, symmetric=False, normalize=True):
    """InfoNCE in float64 numpy; `pairs` is (batch, 2, dim)."""
    anchors, positives = np.float64(pairs[:, 0]), np.float64(pairs[:, 1])
    if normalize:
        anchors = anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
        positives = positives / np.linalg.norm(positives, axis=1,
                                               keepdims=True)

    def cross_entropy(queries, keys):
        logits = queries @ keys.T / temperature
        losses = [
            np.log(np.sum(np.exp(row))) - row[i] for i, row in enumerate(logits)
        ]
        return np.array(losses)

    loss = cross_entropy(anchors, positives)
    if symmetric:
        loss = (loss + cross_entropy(positives, anchors)) / 2
    return loss.mean()


def make_pairs(batch=6, dim=4, seed=2):
    return np.random.default_rng(seed).normal(size=(batch, 2, dim)).astype(
        "float32")


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("normalize", [False, True])
def test_value_matches_numpy(compute, symmetric, normalize):
    pairs = make_pairs()
    loss = InfoNCE(temperature=0.5, symmetric=symmetric, normalize=normalize)
    np.testing.assert_allclose(
        float(compute(lambda p: loss(None, p), pairs)),
        info_nce_reference(pairs, 0.5, symmetric, normalize),
        rtol=1e-5,
    )


def test_tuple_dict_and_stacked_inputs_agree(compute):
    pairs = make_pairs()
    loss = InfoNCE(temperature=0.2)

    def all_forms(p):
        return (
            loss(None, p),
            loss(None, (p[:, 0], p[:, 1])),
            loss(None, {"image_embeddings": p[:, 0],
                        "text_embeddings": p[:, 1],
                        "logit_scale": 3.0}),
        )

    stacked, as_tuple, as_dict = map(float, compute(all_forms, pairs))
    expected = info_nce_reference(pairs, 0.2)
    np.testing.assert_allclose([stacked, as_tuple, as_dict], [expected] * 3,
                               rtol=1e-5)


@pytest.mark.parametrize("symmetric", [False, True])
def test_gradients_match_finite_differences(value_and_grads,
                                            central_differences, symmetric):
    pairs = make_pairs()
    loss = InfoNCE(temperature=0.5, symmetric=symmetric)
    _, (grad,) = value_and_grads(lambda p: loss(None, p), pairs)
    (expected,) = central_differences(
        lambda p: info_nce_reference(p, 0.5, symmetric), pairs
    )
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5)


def test_chunked_equals_unchunked(value_and_grads):
    pairs = make_pairs(batch=7)
    value, (grad,) = value_and_grads(
        lambda p: InfoNCE(symmetric=True)(None, p), pairs)
    chunked_value, (chunked_grad,) = value_and_grads(
        lambda p: InfoNCE(symmetric=True, chunk_size=3)(None, p), pairs)
    np.testing.assert_allclose(chunked_value, value, atol=1e-5)
    np.testing.assert_allclose(chunked_grad, grad, atol=1e-5)


def test_bfloat16_inputs_give_float32_loss(compute):
    pairs = keras.ops.cast(make_pairs(), "bfloat16")
    value = compute(lambda p: InfoNCE()(None, p), pairs)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"
    rounded = keras.ops.convert_to_numpy(keras.ops.cast(pairs, "float32"))
    np.testing.assert_allclose(float(value),
                               info_nce_reference(rounded, 0.1), rtol=1e-5)


@pytest.mark.parametrize("temperature", [0, -0.1, "0.1", True])
def test_bad_temperature_raises(temperature):
    with pytest.raises(ValueError, match="temperature="):
        InfoNCE(temperature=temperature)


def test_bad_inputs_raise():
    pairs = make_pairs()
    with pytest.raises(ValueError, match=r"\(batch, 2, dim\)"):
        InfoNCE()(None, np.concatenate([pairs, pairs], axis=1))
    with pytest.raises(ValueError, match="2 tensors"):
        InfoNCE()(None, (pairs[:, 0], pairs[:, 1], pairs[:, 1]))
    with pytest.raises(ValueError, match="same width"):
        InfoNCE()(None, (pairs[:, 0], pairs[:, 1, :3]))
    with pytest.raises(ValueError, match="same batch size"):
        InfoNCE()(None, (pairs[:, 0], pairs[:4, 1]))


def test_config_round_trip():
    loss = InfoNCE(temperature=0.07, symmetric=True, normalize=False,
                   chunk_size=32)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert isinstance(restored, InfoNCE)
    assert restored.get_config() == loss.get_config()
