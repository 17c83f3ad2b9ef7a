import os

import keras
import numpy as np
import pytest

import kerasmm
from kerasmm.losses import CoCaLoss
from kerasmm.models import VisionTransformer
from tests.models.coca.coca_fixtures import END, PAD, START, captioned_images, make_coca


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def numpy_coca_loss(outputs, caption_weight, contrastive_weight):
    image, text = outputs["image_embeddings"], outputs["text_embeddings"]
    scale = np.exp(np.clip(outputs["logit_scale"], 0, np.log(100)))
    logits = scale * image @ text.T

    def ce(z):
        z = z - z.max(1, keepdims=True)
        return np.log(np.exp(z).sum(1)) - np.diag(z)

    contrastive = np.mean((ce(logits) + ce(logits.T)) / 2)
    z = outputs["caption_logits"].astype("float64")
    lse = np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)) + z.max(-1)
    target = np.take_along_axis(z, outputs["caption_labels"][..., None], -1)[..., 0]
    mask = outputs["caption_mask"]
    caption = ((lse - target) * mask).sum() / mask.sum()
    return contrastive_weight * contrastive + caption_weight * caption


def test_outputs_mask_and_loss_match_numpy():
    model, batch = make_coca(), captioned_images(6)
    outputs = {k: to_numpy(v) for k, v in model(batch).items()}
    assert outputs["caption_logits"].shape == (6, 5, 16)
    np.testing.assert_array_equal(outputs["caption_labels"], batch["token_ids"][:, 1:])
    # True through the end token, False on the padding after it.
    expected_mask = np.cumsum(batch["token_ids"][:, 1:] == END, axis=1) - (
        batch["token_ids"][:, 1:] == END) == 0
    np.testing.assert_array_equal(outputs["caption_mask"], expected_mask)
    assert (outputs["caption_mask"].sum(1) < 5).all() and outputs["caption_mask"].sum() > 6
    np.testing.assert_allclose(np.linalg.norm(outputs["text_embeddings"], axis=1), 1, atol=1e-5)
    for weights in ((2.0, 1.0), (0.5, 0.0)):
        value = CoCaLoss(*weights)(None, outputs)
        np.testing.assert_allclose(float(value), numpy_coca_loss(outputs, *weights), rtol=1e-5)


@pytest.mark.parametrize("text_mask", ["end_token", "open_clip"])
def test_cached_decoding_equals_teacher_forced_logits(text_mask):
    """Every step's logits equal the full call's; with open_clip's mask also
    after pads before any end token (hidden from later positions), which a
    cache without the key mask gets wrong."""
    model = make_coca(num_unimodal_layers=2, num_multimodal_layers=2, text_mask=text_mask)
    batch = captioned_images(3, seed=1)
    ids = np.random.default_rng(0).integers(3, 16, size=(3, 6)).astype("int32")
    ids[:, 0] = START  # no end token: every position is a real one
    if text_mask == "open_clip":
        ids[0, 1], ids[1, 2:4], ids[2, 3] = PAD, PAD, PAD
    teacher = to_numpy(model({"images": batch["images"], "token_ids": ids})["caption_logits"])
    context = model.generation_context(keras.ops.convert_to_tensor(batch["images"]))
    cache = model.init_cache(context, 3, 5)
    unmasked = dict(cache, unimodal=[{k: c[k] for k in ("key", "value")}
                                     for c in cache["unimodal"]])
    unmasked.pop("next_visible", None)
    for i in range(5):
        step = (keras.ops.convert_to_tensor(ids[:, i:i + 1]),
                keras.ops.convert_to_tensor(i, "int32"))
        logits, cache = model.decode_step(*step, cache, context)
        np.testing.assert_allclose(to_numpy(logits), teacher[:, i], atol=2e-5)
        plain, unmasked = model.decode_step(*step, unmasked, context)
        after_pad = (ids[:, :i] == PAD).any(axis=1)  # the key of a position after a pad
        differs = np.abs(to_numpy(plain) - teacher[:, i]).max(axis=1) > 1e-3
        np.testing.assert_array_equal(differs, after_pad)


@pytest.mark.slow
def test_fit_lowers_the_loss_and_learns_to_caption():
    model, data = make_coca(), captioned_images(64, seed=2)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=CoCaLoss())
    history = model.fit(data, batch_size=16, epochs=25, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses
    # Captions of the training scenes, greedy and beam.
    for strategy in ("greedy", "beam"):
        out = model.generate(data["images"], max_length=5, strategy=strategy, num_beams=2)
        expected = data["token_ids"][:, 1:1 + out.shape[1]]
        assert np.mean([(o == e).all() for o, e in zip(out, expected)]) >= 0.9, strategy


@pytest.mark.slow
def test_generate_strategies_shapes_and_padding():
    model, images = make_coca(), captioned_images(4, seed=3)["images"]
    greedy = model.generate(images, max_length=5)
    np.testing.assert_array_equal(
        model.generate(images, max_length=5, strategy="beam", num_beams=1), greedy)
    sampled = model.generate(images, max_length=5, strategy="sample", seed=0, top_k=4)
    for out in (greedy, sampled):
        assert out.dtype == np.int32 and out.shape[0] == 4 and out.shape[1] <= 5
        for row in out:
            if END in row:
                assert (row[list(row).index(END) + 1:] == PAD).all()
    with pytest.raises(ValueError, match="max_length must be <= context_length - 1"):
        model.generate(images, max_length=6)


def test_keras_round_trip_and_vit_tokens(tmp_path):
    vit = VisionTransformer(image_size=8, patch_size=4, hidden_dim=16, num_layers=1,
                            num_heads=2, output_dim=16, output_tokens=True)
    model = make_coca(vit)
    batch = captioned_images(2, seed=4)
    path = os.path.join(tmp_path, "coca.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, kerasmm.models.CoCa)
    for key, value in model(batch).items():
        np.testing.assert_allclose(to_numpy(loaded(batch)[key]), to_numpy(value), atol=1e-6)


def test_vector_encoder_and_bad_arguments():
    vectors = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                                keras.layers.Dense(12)])
    model = make_coca(vectors)
    assert tuple(model.encode_image(captioned_images(2)["images"]).shape) == (2, 8)
    with pytest.raises(ValueError, match="end_token_id must be < vocabulary_size"):
        make_coca(end_token_id=16)
    with pytest.raises(ValueError, match="inputs must be a dict"):
        model(captioned_images(2)["images"])
    with pytest.raises(ValueError, match="images"):
        model.encode_image(np.zeros((2, 8, 8, 3), "uint8"))
