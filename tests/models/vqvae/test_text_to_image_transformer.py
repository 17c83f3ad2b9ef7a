import os

import keras
import numpy as np
import pytest
from keras import ops

from kerasmm.models import TextToImageTransformer
from kerasmm.models import VQVAE


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def tiny_model(**kwargs):
    vqvae = VQVAE(image_shape=(8, 8, 1), num_embeddings=16, embedding_dim=4, hidden_dims=(8,))
    config = {"vocabulary_size": 11, "context_length": 5, "hidden_dim": 16, "num_layers": 2,
              "num_heads": 2, **kwargs}
    return TextToImageTransformer(vqvae, **config)


def batch(size=3, length=4, seed=0):
    rng = np.random.default_rng(seed)
    return {"token_ids": rng.integers(0, 11, (size, length)).astype("int32"),
            "images": rng.uniform(-1, 1, (size, 8, 8, 1)).astype("float32")}


def numpy_cross_entropy(logits, labels):
    logits = logits - logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, labels[..., None], -1).mean()


def test_call_shapes_and_loss_matches_numpy():
    model = tiny_model()
    data = batch()
    out = model(data)
    assert tuple(out["logits"].shape) == (3, 16, 16)
    labels = to_numpy(out["labels"])
    codes = to_numpy(model.vqvae.encode(data["images"]))
    np.testing.assert_array_equal(labels, codes.reshape(3, 16))
    loss = to_numpy(model.compute_loss(x=data, y_pred=out))
    np.testing.assert_allclose(loss, numpy_cross_entropy(to_numpy(out["logits"]), labels),
                               rtol=1e-5)


def test_logits_are_causal_in_the_image_codes():
    model = tiny_model()
    data = batch()
    codes = to_numpy(model.vqvae.encode(data["images"]))
    changed = codes.copy().reshape(3, 16)
    changed[:, 9] = (changed[:, 9] + 1) % 16
    a = to_numpy(model({"token_ids": data["token_ids"], "image_codes": codes})["logits"])
    b = to_numpy(model({"token_ids": data["token_ids"],
                        "image_codes": changed.reshape(3, 4, 4)})["logits"])
    # Position i predicts code i from codes < i: only positions > 9 see code 9.
    np.testing.assert_allclose(a[:, :10], b[:, :10], atol=1e-6)
    assert np.abs(a[:, 10:] - b[:, 10:]).max() > 1e-4


def test_cached_decode_steps_equal_the_full_call():
    model = tiny_model()
    data = batch()
    out = model(data)
    labels = to_numpy(out["labels"])
    context = model.generation_context(ops.convert_to_tensor(data["token_ids"]))
    cache = model.init_cache(context, 3, 16)
    token = np.full((3, 1), model.start_token_id, "int32")
    for i in range(16):
        logits, cache = model.decode_step(ops.convert_to_tensor(token),
                                          ops.convert_to_tensor(np.int32(i)), cache, context)
        logits = to_numpy(logits)
        np.testing.assert_allclose(logits[:, :16], to_numpy(out["logits"])[:, i], atol=1e-5)
        assert (logits[:, 16] < -1e8).all()  # the start token is never sampled
        token = labels[:, i:i + 1]


@pytest.mark.slow
def test_fit_trains_the_transformer_not_the_vqvae():
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    data = batch(size=8)
    vqvae_before = [to_numpy(w) for w in model.vqvae.weights]
    head_before = to_numpy(model.code_head.kernel)
    history = model.fit(data, batch_size=8, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    for before, after in zip(vqvae_before, model.vqvae.weights):
        np.testing.assert_array_equal(before, to_numpy(after))
    assert not np.allclose(head_before, to_numpy(model.code_head.kernel))
    # Precomputed codes give the same outputs as images.
    codes = to_numpy(model.vqvae.encode(data["images"]))
    with_codes = model({"token_ids": data["token_ids"], "image_codes": codes})
    np.testing.assert_allclose(to_numpy(with_codes["logits"]), to_numpy(model(data)["logits"]),
                               atol=1e-6)


def test_generate_images_compiles_once_and_follows_the_seed():
    model = tiny_model()
    token_ids = batch(size=2)["token_ids"]
    first = model.generate_images(token_ids, seed=3, top_k=4)
    assert first.shape == (2, 8, 8, 1) and first.dtype == np.float32
    assert np.abs(first).max() <= 1.0
    np.testing.assert_array_equal(model.generate_images(token_ids, seed=3, top_k=4), first)
    other = model.generate_images(token_ids, seed=4, top_k=4)
    assert not np.array_equal(other, first)
    assert model.generate_trace_count == 1
    # The sampled codes decode to the images.
    codes = model.generate(token_ids, max_length=16, strategy="sample", top_k=4, seed=3)
    assert codes.shape == (2, 16) and codes.max() < 16
    np.testing.assert_allclose(to_numpy(model.vqvae.decode(codes.reshape(2, 4, 4))), first,
                               atol=1e-6)


def test_keras_round_trip(tmp_path):
    model = tiny_model(intermediate_dim=24)
    data = batch()
    path = os.path.join(tmp_path, "t2i.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert not restored.vqvae.trainable
    assert len(restored.trainable_variables) == len(model.trainable_variables)
    np.testing.assert_allclose(to_numpy(restored(data)["logits"]),
                               to_numpy(model(data)["logits"]), atol=1e-6)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="vqvae must be a kerasmm.models.VQVAE"):
        TextToImageTransformer(keras.layers.Dense(2), vocabulary_size=4, context_length=4)
    with pytest.raises(ValueError, match="hidden_dim must be divisible by num_heads"):
        tiny_model(hidden_dim=10, num_heads=4)
    with pytest.raises(ValueError, match="context_length must be a positive integer"):
        tiny_model(context_length=0)
    model = tiny_model()
    with pytest.raises(ValueError, match="at most context_length=5 tokens"):
        model.generate_images(np.zeros((1, 6), "int32"))
    with pytest.raises(ValueError, match="token_ids must be an integer tensor"):
        model.generate_images(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match=r"token_ids must be integers in \[0, vocabulary_size\)"):
        model.generate_images(np.full((1, 3), 11, "int32"))
    with pytest.raises(ValueError, match=r"image_codes must have shape \(batch, 4, 4\)"):
        model({"token_ids": np.zeros((1, 3), "int32"),
               "image_codes": np.zeros((1, 16), "int32")})
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        model.generate_images(np.zeros((1, 3), "int32"), top_k=0)
