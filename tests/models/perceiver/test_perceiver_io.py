import keras
import numpy as np
import pytest

from kerasmm.layers import AudioAdapter
from kerasmm.layers import BasicDecoder
from kerasmm.layers import ClassificationDecoder
from kerasmm.layers import ImageAdapter
from kerasmm.layers import LabelAdapter
from kerasmm.layers import MaskedLMDecoder
from kerasmm.layers import MultimodalAdapter
from kerasmm.layers import MultimodalDecoder
from kerasmm.layers import TextAdapter
from kerasmm.layers import VideoAdapter
from kerasmm.models import PerceiverIO
from tests.models.perceiver.perceiver_reference import cross_attention_layer
from tests.models.perceiver.perceiver_reference import self_attention_layer
from tests.models.perceiver.perceiver_reference import weights
from tests.test_case import TestCase
from tests.test_case import fit_steps
from tests.test_case import to_numpy

RNG = np.random.default_rng(0)
TINY = {"num_latents": 4, "latent_dim": 8, "num_self_attends_per_block": 2,
        "num_cross_attention_heads": 1, "num_self_attention_heads": 2}


def rand(*shape):
    return RNG.normal(size=shape).astype("float32")


def image_model(**kwargs):
    return PerceiverIO(ImageAdapter((4, 4, 3), num_bands=2), ClassificationDecoder(3),
                       **{**TINY, **kwargs})


def text_model(decoder=None, **kwargs):
    decoder = decoder or MaskedLMDecoder(vocabulary_size=20, max_sequence_length=8, num_heads=2)
    return PerceiverIO(TextAdapter(vocabulary_size=20, max_sequence_length=8, embedding_dim=6),
                       decoder, **{**TINY, "num_cross_attention_heads": 2, **kwargs})


def text_inputs(rng=RNG):
    ids = rng.integers(6, 20, size=(3, 7)).astype("int32")
    mask = np.ones((3, 7), bool)
    mask[0, 4:] = mask[1, 6:] = False
    return {"token_ids": np.where(mask, ids, 0).astype("int32"), "padding_mask": mask}


def multimodal_model():
    adapter = MultimodalAdapter({
        "audio": AudioAdapter(samples_per_patch=4, num_bands=2),
        "image": VideoAdapter((2, 4, 4, 1), spatial_downsample=2, num_bands=1),
        "label": LabelAdapter(3)}, mask_probs={"label": 1.0})
    decoder = MultimodalDecoder({
        "audio": BasicDecoder(4, output_index_dims=(4,), position_encoding="fourier",
                              num_bands=2, output_shape=(-1,)),
        "image": BasicDecoder(1, output_index_dims=(2, 4, 4), position_encoding="fourier",
                              num_bands=1),
        "label": ClassificationDecoder(3, query_dim=4, use_query_residual=False)},
        output_num_channels=6)
    return PerceiverIO(adapter, decoder, **TINY)


def multimodal_inputs(batch=2):
    return {"audio": rand(batch, 16, 1), "image": rand(batch, 2, 4, 4, 1),
            "label": np.eye(3, dtype="float32")[np.arange(batch) % 3]}


class TestPerceiverIO(TestCase):
    def test_text_model_matches_numpy_forward(self):
        model = text_model(num_blocks=2)
        x = text_inputs()
        logits = to_numpy(model(x))
        assert logits.shape == (3, 7, 20)
        # Hugging Face's PerceiverForMaskedLM, transcribed to numpy.
        emb = weights(model.input_adapter)
        table = emb["token_embedding/embeddings"]
        features = table[x["token_ids"]] + emb["position_embedding/embeddings"][:7]
        latents = np.broadcast_to(weights(model.latents)["latents"], (3, 4, 8))
        latents = cross_attention_layer(model.cross_attention, latents, features,
                                        x["padding_mask"])
        for _ in range(2):
            for layer in model.self_attention_layers:
                latents = self_attention_layer(layer, latents)
        dec = weights(model.decoder)
        queries = np.broadcast_to(dec["position_embeddings/latents"][:7], (3, 7, 6))
        out = cross_attention_layer(model.decoder.cross_attention, queries, latents)
        np.testing.assert_allclose(logits, out @ table.T + dec["bias"], atol=1e-4)

    def test_padded_tokens_have_no_influence(self):
        x = text_inputs()
        changed = dict(x, token_ids=np.where(x["padding_mask"], x["token_ids"], 13)
                       .astype("int32"))
        for model in (text_model(), text_model(ClassificationDecoder(4))):
            np.testing.assert_array_equal(to_numpy(model(x)), to_numpy(model(changed)))
        # Without the mask, the same change does matter.
        unmasked = text_model(ClassificationDecoder(4))
        assert not np.array_equal(to_numpy(unmasked(x["token_ids"])),
                                  to_numpy(unmasked(changed["token_ids"])))

    def test_blocks_share_weights(self):
        x = rand(2, 4, 4, 3)
        one, three = image_model(num_blocks=1), image_model(num_blocks=3)
        one(x), three(x)
        assert len(one.weights) == len(three.weights)
        names = [v.path for v in three.weights if "self_attention" in v.path]
        assert len(names) == len(set(names)) == 2 * 16
        three.set_weights(one.get_weights())
        assert not np.allclose(to_numpy(one(x)), to_numpy(three(x)))
        assert len(image_model(num_self_attends_per_block=3)(x).shape) == 2

    @pytest.mark.parametrize("make, inputs", [
        (image_model, lambda: rand(2, 4, 4, 3)),
        (text_model, text_inputs),
        (multimodal_model, multimodal_inputs),
    ])
    def test_keras_round_trip(self, make, inputs):
        model = make()
        x = inputs()
        self.run_model_test(model, x, check_fit=False)
        config = model.get_config()
        clone = PerceiverIO.from_config(config)
        assert clone.get_config() == config

    @pytest.mark.slow
    def test_fit_reduces_loss_image_classification(self):
        model = image_model()
        x = np.random.default_rng(0).normal(size=(8, 4, 4, 3)).astype("float32")
        y = np.arange(8) % 3
        model.compile(optimizer=keras.optimizers.Adam(0.003),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = fit_steps(model, 40, x, y)
        assert history[-1] < 0.5 * history[0], history

    @pytest.mark.slow
    def test_fit_reduces_loss_masked_bytes(self):
        model = text_model()
        x = text_inputs(np.random.default_rng(0))
        weight = x["padding_mask"].astype("float32")
        model.compile(optimizer=keras.optimizers.Adam(0.003),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = fit_steps(model, 40, x, x["token_ids"], sample_weight=weight)
        assert history[-1] < 0.7 * history[0], history

    @pytest.mark.slow
    def test_fit_reduces_loss_multimodal_autoencoding(self):
        model = multimodal_model()
        rng = np.random.default_rng(0)
        x = {"audio": rng.normal(size=(4, 16, 1)).astype("float32"),
             "image": rng.normal(size=(4, 2, 4, 4, 1)).astype("float32"),
             "label": np.eye(3, dtype="float32")[[0, 1, 2, 0]]}
        y = {"audio": x["audio"][..., 0], "image": x["image"], "label": x["label"]}
        model.compile(optimizer=keras.optimizers.Adam(0.003),
                      loss={"audio": "mse", "image": "mse",
                            "label": keras.losses.CategoricalCrossentropy(from_logits=True)})
        history = fit_steps(model, 40, x, y)
        assert history[-1] < 0.75 * history[0], history

    def test_subsampled_decoding(self):
        model = multimodal_model()
        x = multimodal_inputs()
        full = to_numpy(model(x)["image"]).reshape(2, 32, 1)
        points = np.array([0, 31])
        part = model(x, subsampled_points={"image": points, "audio": np.array([1])})
        assert tuple(part["image"].shape) == (2, 2, 1)
        assert tuple(part["audio"].shape) == (2, 4)
        # Point 0 sits at the grid corner (-1, -1, -1) in both conventions.
        np.testing.assert_allclose(to_numpy(part["image"])[:, 0], full[:, 0], atol=1e-5)

    def test_encode_returns_latents(self):
        assert tuple(image_model().encode(rand(2, 4, 4, 3)).shape) == (2, 4, 8)

    def test_mixed_precision_forward(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        out = text_model()(text_inputs())
        assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
        assert np.all(np.isfinite(to_numpy(keras.ops.cast(out, "float32"))))

    @pytest.mark.parametrize("kwargs, message", [
        ({"latent_dim": 9}, "latent_dim=9, num_self_attention_heads=2"),
        ({"num_cross_attention_heads": 3}, "latent_dim=8, num_cross_attention_heads=3"),
        ({"qk_channels": 5}, "qk_channels=5"),
        ({"num_latents": 0}, "num_latents=0"),
        ({"num_blocks": 0}, "num_blocks=0"),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            image_model(**kwargs)

    def test_bad_inputs_and_components(self):
        with pytest.raises(ValueError, match=r"image_shape=\(4, 4, 3\).*\(2, 5, 4, 3\)"):
            image_model()(rand(2, 5, 4, 3))
        with pytest.raises(ValueError, match="num_cross_attention_heads=4, adapter width=13"):
            image_model(num_cross_attention_heads=4)(rand(2, 4, 4, 3))
        with pytest.raises(ValueError, match="tie_embeddings=True.*ImageAdapter"):
            PerceiverIO(ImageAdapter((4, 4, 3)), MaskedLMDecoder(), **TINY)
        with pytest.raises(ValueError, match="input_adapter must be a kerasmm adapter"):
            PerceiverIO("image", ClassificationDecoder(2), **TINY)
        x = multimodal_inputs()
        del x["audio"]
        with pytest.raises(ValueError, match="missing modality 'audio'"):
            multimodal_model()(x)
        model = text_model(MaskedLMDecoder(20, 8, position_dim=4, num_heads=2))
        with pytest.raises(ValueError, match="position_dim\\)=4, embedding_dim=6"):
            model(text_inputs())
