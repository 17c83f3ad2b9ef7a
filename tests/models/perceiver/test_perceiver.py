import keras
import numpy as np
import pytest

from kerasmm.layers import ImageAdapter
from kerasmm.layers import TextAdapter
from kerasmm.models import Perceiver
from tests.models.perceiver.perceiver_reference import cross_attention_layer
from tests.models.perceiver.perceiver_reference import layer_norm
from tests.models.perceiver.perceiver_reference import self_attention_layer
from tests.models.perceiver.perceiver_reference import weights
from tests.test_case import TestCase
from tests.test_case import fit_steps
from tests.test_case import to_numpy

RNG = np.random.default_rng(0)
TINY = {"num_latents": 4, "latent_dim": 8, "num_classes": 3, "num_blocks": 3,
        "num_self_attends_per_block": 1, "num_self_attention_heads": 2}


def rand(*shape):
    return RNG.normal(size=shape).astype("float32")


def image_model(**kwargs):
    return Perceiver(ImageAdapter((4, 4, 3), num_bands=2), **{**TINY, **kwargs})


class TestPerceiver(TestCase):
    def test_matches_numpy_forward_with_shared_weights(self):
        model = Perceiver(TextAdapter(20, 6, 5), **{**TINY, "num_self_attends_per_block": 2})
        ids = RNG.integers(0, 20, size=(2, 6)).astype("int32")
        mask = np.array([[1, 1, 1, 1, 0, 0], [1] * 6], bool)
        logits = to_numpy(model({"token_ids": ids, "padding_mask": mask}))
        emb = weights(model.input_adapter)
        features = emb["token_embedding/embeddings"][ids] + emb["position_embedding/embeddings"]
        latents = np.broadcast_to(weights(model.latents)["latents"], (2, 4, 8))
        # The paper: the first cross-attention has its own weights, later
        # ones share a second set; every latent transformer shares one set.
        for b in range(3):
            cross = model.cross_attentions[0 if b == 0 else 1]
            latents = cross_attention_layer(cross, latents, features, mask)
            for layer in model.latent_transformers[0]:
                latents = self_attention_layer(layer, latents)
        w = weights(model)
        pooled = layer_norm(latents.mean(1), w, "final_norm")
        ref = pooled @ w["classifier/kernel"] + w["classifier/bias"]
        np.testing.assert_allclose(logits, ref, atol=1e-4)

    def test_weight_sharing_variable_counts(self):
        x = rand(2, 4, 4, 3)
        counts = {}
        for blocks, sharing in ((2, True), (5, True), (2, False), (5, False)):
            model = image_model(num_blocks=blocks, weight_sharing=sharing)
            model(x)
            counts[blocks, sharing] = len(model.weights)
        # Variables: latents 1, final norm 2, classifier 2; a cross-attention
        # block 18 (3 norms, q/k/v/output, 2-layer MLP), a self-attention 16.
        def expected(num_cross, num_self):
            return 5 + 18 * num_cross + 16 * num_self

        assert counts == {(2, True): expected(2, 1), (5, True): expected(2, 1),
                          (2, False): expected(2, 2), (5, False): expected(5, 5)}
        one, five = image_model(num_blocks=2), image_model(num_blocks=5)
        one(x), five(x)
        five.set_weights(one.get_weights())
        assert not np.allclose(to_numpy(one(x)), to_numpy(five(x)))

    def test_keras_round_trip(self):
        model = image_model(weight_sharing=False)
        self.run_model_test(model, rand(2, 4, 4, 3), check_fit=False,
                            expected_output_shape=(2, 3))

    def test_padded_tokens_have_no_influence(self):
        model = Perceiver(TextAdapter(20, 6, 5), **TINY)
        ids = RNG.integers(1, 20, size=(2, 6)).astype("int32")
        mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], bool)
        other = np.where(mask, ids, 7).astype("int32")
        np.testing.assert_array_equal(
            to_numpy(model({"token_ids": ids, "padding_mask": mask})),
            to_numpy(model({"token_ids": other, "padding_mask": mask})))

    @pytest.mark.slow
    def test_fit_reduces_loss(self):
        model = image_model()
        x, y = rand(8, 4, 4, 3), np.arange(8) % 3
        model.compile(optimizer=keras.optimizers.Adam(0.003),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = fit_steps(model, 40, x, y)
        assert history[-1] < 0.5 * history[0], history

    @pytest.mark.parametrize("kwargs, message", [
        ({"latent_dim": 7}, "latent_dim=7, num_self_attention_heads=2"),
        ({"num_classes": 0}, "num_classes=0"),
        ({"num_blocks": -1}, "num_blocks=-1"),
        ({"v_channels": 3}, "v_channels=3"),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            image_model(**kwargs)

    def test_wrong_image_size(self):
        with pytest.raises(ValueError, match=r"image_shape=\(4, 4, 3\)"):
            image_model()(rand(2, 4, 4, 1))
