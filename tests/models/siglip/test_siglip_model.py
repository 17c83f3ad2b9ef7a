"""SigLIP: outputs, logits, the default SigLIPLoss, saving, presets."""

import math

import keras
import numpy as np
import pytest

from kerasmm.losses import CLIPLoss
from kerasmm.models import CLIP
from kerasmm.models import SigLIP
from kerasmm.models import SigLIPTextEncoder
from kerasmm.models import SigLIPVisionEncoder
from kerasmm.models import TextTransformer
from kerasmm.models.siglip import SigLIPImagePreprocessor
from kerasmm.presets import check_preset_entry
from tests.convert.parity import fixture
from tests.presets.fake_hub import fake_hub
from tests.presets.fake_hub import offline  # noqa: F401 (the fixture)
from tests.test_case import TestCase, to_numpy

VISION = {"image_size": 32, "patch_size": 8, "hidden_dim": 16, "num_layers": 1,
          "num_heads": 2}
TEXT = {"vocabulary_size": 64, "context_length": 8, "hidden_dim": 16, "num_layers": 1,
        "num_heads": 2}
PRESET_NAMES = ["siglip2_base_patch16_224", "siglip2_so400m_patch14_384",
                "siglip_base_patch16_224", "siglip_base_patch16_384",
                "siglip_so400m_patch14_384"]


def make_siglip(vision=None, text=None, **kwargs):
    return SigLIP(SigLIPVisionEncoder(**{**VISION, **(vision or {})}),
                  SigLIPTextEncoder(**{**TEXT, **(text or {})}), **kwargs)


def make_batch(batch=4, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, 64, (batch, 8)).astype("int32")
    ids[:, 6:] = 1
    return {"images": rng.normal(size=(batch, 32, 32, 3)).astype("float32"),
            "token_ids": ids}


def np_sigmoid_loss(image_embeddings, text_embeddings, scale, bias):
    """big_vision's `mean(-sum(log_sigmoid(m1_diag1 * logits), axis=-1))`."""
    logits = np.exp(scale) * np.asarray(image_embeddings, "float64") @ np.asarray(
        text_embeddings, "float64").T + bias
    labels = 2 * np.eye(len(logits)) - 1
    return np.mean(np.sum(np.log1p(np.exp(-labels * logits)), axis=-1))


class TestSigLIP(TestCase):
    def test_outputs_and_unit_norm(self):
        model, batch = make_siglip(), make_batch()
        outputs = to_numpy(model(batch))
        assert sorted(outputs) == ["image_embeddings", "logit_bias", "logit_scale",
                                   "text_embeddings"]
        assert outputs["image_embeddings"].shape == (4, 16)
        for key, encode, x in (("image_embeddings", model.encode_image, batch["images"]),
                               ("text_embeddings", model.encode_text, batch["token_ids"])):
            embeddings = to_numpy(encode(x))
            np.testing.assert_allclose(np.linalg.norm(embeddings, axis=-1), 1.0, atol=1e-6)
            np.testing.assert_allclose(embeddings, outputs[key], atol=1e-6)
        # big_vision's initial temperature 10 and bias -10.
        assert math.isclose(float(outputs["logit_scale"]), math.log(10), rel_tol=1e-6)
        assert float(outputs["logit_bias"]) == -10.0

    def test_logits_are_unclamped_scale_times_cosine_plus_bias(self):
        model, batch = make_siglip(logit_scale_init=6.0, logit_bias_init=-3.0), make_batch()
        outputs = to_numpy(model(batch))
        expected = (np.exp(6.0) * outputs["image_embeddings"] @ outputs["text_embeddings"].T
                    - 3.0)
        np.testing.assert_allclose(to_numpy(model.logits(batch["images"], batch["token_ids"])),
                                   expected, rtol=1e-5, atol=1e-3)

    def test_compile_defaults_to_siglip_loss_and_fit_one_step(self):
        model, batch = make_siglip(), make_batch()
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        assert type(model.loss).__name__ == "SigLIPLoss"
        outputs = to_numpy(model(batch))
        expected = np_sigmoid_loss(outputs["image_embeddings"], outputs["text_embeddings"],
                                   outputs["logit_scale"], outputs["logit_bias"])
        assert math.isclose(model.evaluate(batch, batch_size=4, verbose=0), expected,
                            rel_tol=1e-5)
        before = [np.array(w) for w in model.get_weights()]
        history = model.fit(batch, batch_size=4, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        unchanged = [w.path for w, b in zip(model.weights, before)
                     if np.array_equal(b, to_numpy(w))]
        assert not unchanged, unchanged
        model.compile(optimizer="sgd", loss=CLIPLoss())  # Another loss stays possible.
        assert isinstance(model.loss, CLIPLoss)

    def test_config_and_keras_round_trip(self):
        model, batch = make_siglip(logit_bias_init=-5.0), make_batch()
        clone = SigLIP.from_config(model.get_config())
        assert isinstance(clone, SigLIP) and clone.logit_bias_init == -5.0
        assert len(clone.weights) == len(model.weights)
        model.compile(optimizer="adam")
        model.optimizer.build(model.trainable_variables)
        restored = self.check_keras_round_trip(model, batch)
        assert isinstance(restored, SigLIP) and isinstance(restored, CLIP)
        assert type(restored.loss).__name__ == "SigLIPLoss"

    def test_towers_built_with_output_tokens(self):
        model, batch = make_siglip(), make_batch()
        tokens = make_siglip({"output_tokens": True}, {"output_tokens": True})
        tokens.set_weights(model.get_weights())
        for key, value in to_numpy(tokens(batch)).items():
            np.testing.assert_allclose(value, to_numpy(model(batch))[key], atol=1e-5)

    def test_padding_mask_reaches_the_text_tower(self):
        model, batch = make_siglip(), make_batch()
        mask = batch["token_ids"] != 1
        mask[:, -1] = True
        outputs = to_numpy(model({**batch, "padding_mask": mask}))
        expected = to_numpy(model.encode_text({"token_ids": batch["token_ids"],
                                               "padding_mask": mask}))
        np.testing.assert_allclose(outputs["text_embeddings"], expected, atol=1e-6)
        assert np.abs(outputs["text_embeddings"]
                      - to_numpy(model(batch))["text_embeddings"]).max() > 1e-4

    def test_predict_repeats_the_scalars(self):
        outputs = make_siglip().predict(make_batch(), batch_size=2, verbose=0)
        assert outputs["logit_bias"].shape == (4,) and outputs["image_embeddings"].shape == (4, 16)

    def test_mixed_precision_keeps_float32_outputs(self):
        model = make_siglip({"dtype": "mixed_bfloat16"}, {"dtype": "mixed_bfloat16"},
                            dtype="mixed_bfloat16")
        outputs = model(make_batch())
        for key in ("image_embeddings", "text_embeddings", "logit_scale", "logit_bias"):
            assert keras.backend.standardize_dtype(outputs[key].dtype) == "float32", key

    @pytest.mark.parametrize("build, error, message", [
        (lambda: SigLIP(TextTransformer(vocabulary_size=8, context_length=4, hidden_dim=16,
                                        num_layers=1, num_heads=2, output_dim=16),
                        SigLIPTextEncoder(**TEXT)),
         TypeError, r"vision_encoder must be a kerasmm\.models\.SigLIPVisionEncoder"),
        (lambda: make_siglip(text={"output_dim": 8}), ValueError,
         r"vision_encoder hidden_dim=16, text_encoder output_dim=8"),
        (lambda: make_siglip(output_dim=32), ValueError, "output_dim=32"),
        (lambda: make_siglip(logit_bias_init=None), ValueError, "logit_bias_init"),
        (lambda: make_siglip().encode_image(np.zeros((1, 32, 32, 3), "uint8")), ValueError,
         "images must be a float batch"),
        (lambda: make_siglip()({"images": make_batch()["images"]}), ValueError,
         "keys 'images' and 'token_ids'"),
    ])
    def test_bad_arguments(self, build, error, message):
        with pytest.raises(error, match=message):
            build()


# === Presets ===


def test_presets_are_registered_unpinned_with_published_metrics():
    assert sorted(SigLIP.presets) == PRESET_NAMES
    for name, entry in SigLIP.presets.items():
        check_preset_entry(name, entry)
        (source,) = entry["sources"]
        assert source["converter"] == "hf_siglip" and source["unpinned"] is True
        assert source["hf_repo"].startswith("google/siglip")
        (top1,) = entry["metrics"]["imagenet_zero_shot_top1"].values()
        assert 70 < top1 < 90
        siglip2 = name.startswith("siglip2")
        assert entry["preprocessing"]["tokenizer_file"] == (
            "tokenizer.model" if siglip2 else "spiece.model")
        assert entry["preprocessing"]["image_size"] == int(name.rsplit("_", 1)[1])
        image = {k: v for k, v in entry["preprocessing"].items()
                 if k in ("image_size", "mean", "std", "interpolation", "antialias")}
        assert SigLIPImagePreprocessor(**image).get_config()["interpolation"] == "bilinear"
    assert "siglip_base_patch16_224" not in CLIP.presets


@pytest.mark.usefixtures("offline")
def test_registered_name_loads_through_the_hub(monkeypatch):
    """`SigLIP.from_preset("siglip_base_patch16_224")`, its Hub repo served
    from the tiny converted fixture; unpinned, so only with allow_unpinned."""
    hub = fake_hub(monkeypatch, {"google/siglip-base-patch16-224": fixture("hf_siglip")})
    with pytest.raises(ValueError, match="allow_unpinned"):
        SigLIP.from_preset("siglip_base_patch16_224")
    model = SigLIP.from_preset("siglip_base_patch16_224", allow_unpinned=True)
    assert isinstance(model, SigLIP) and model.vision_encoder.image_size == 32
    assert hub.fetched("model.safetensors") and hub.fetched("spiece.model")
