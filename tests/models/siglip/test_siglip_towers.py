import keras
import numpy as np
import pytest

from kerasmm.models import SigLIPTextEncoder
from kerasmm.models import SigLIPVisionEncoder
from kerasmm.models.siglip import MultiheadAttentionPooling
from tests.test_case import TestCase, to_numpy

VISION = {"image_size": 32, "patch_size": 8, "hidden_dim": 16, "num_layers": 2,
          "num_heads": 2, "intermediate_dim": 24}
TEXT = {"vocabulary_size": 64, "context_length": 8, "hidden_dim": 16, "num_layers": 2,
        "num_heads": 2, "output_dim": 12}


def images(batch=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, 32, 32, 3)).astype("float32")


def token_ids(batch=2, seed=0):
    ids = np.random.default_rng(seed).integers(2, 64, (batch, 8)).astype("int32")
    ids[:, 5:] = 1  # Padding, as SigLIP pads every text.
    return ids


class TestVisionEncoder(TestCase):
    def test_common_checks(self):
        self.run_model_test(SigLIPVisionEncoder(**VISION), images(),
                            expected_output_shape=(2, 16))

    def test_mixed_precision(self):
        for policy in ("mixed_float16", "mixed_bfloat16"):
            self.check_mixed_precision(SigLIPVisionEncoder, VISION, images(), {}, policy)

    def test_architecture(self):
        model = SigLIPVisionEncoder(**VISION)
        assert model.output_dim == 16 and model.num_patches == 16
        assert model.patch_embedding.projection.bias is not None  # Conv with bias.
        assert tuple(model.position_embedding.embeddings.shape) == (16, 16)  # No class token.
        assert tuple(model.head.probe.shape) == (1, 1, 16)
        assert model.blocks[0].layer_norm_epsilon == 1e-6
        assert model.blocks[0].attention.use_bias
        assert tuple(model.blocks[0].mlp.dense_1.kernel.shape) == (16, 24)

    def test_output_tokens(self):
        model = SigLIPVisionEncoder(**VISION)
        tokens = SigLIPVisionEncoder(**VISION, output_tokens=True)
        tokens.set_weights(model.get_weights())
        outputs = tokens(images())
        assert tuple(outputs["tokens"].shape) == (2, 16, 16)
        np.testing.assert_allclose(to_numpy(outputs["pooled"]), to_numpy(model(images())),
                                   atol=1e-6)
        # The tokens are what the head pools: ln_post's output.
        np.testing.assert_allclose(to_numpy(model.head(outputs["tokens"])),
                                   to_numpy(outputs["pooled"]), atol=1e-6)
        assert tokens.compute_output_shape((3, 32, 32, 3)) == {
            "pooled": (3, 16), "tokens": (3, 16, 16)}
        self.check_keras_round_trip(tokens, images())

    def test_remat_keeps_outputs(self):
        model = SigLIPVisionEncoder(**VISION)
        remat = SigLIPVisionEncoder(**VISION, remat=True)
        remat.set_weights(model.get_weights())
        np.testing.assert_allclose(to_numpy(remat(images())), to_numpy(model(images())),
                                   atol=1e-6)

    def test_symbolic_call(self):
        model = SigLIPVisionEncoder(**VISION)
        assert tuple(model(keras.Input((32, 32, 3))).shape) == (None, 16)
        with pytest.raises(ValueError, match=r"image_size=32.*\(None, 40, 40, 3\)"):
            model(keras.Input((40, 40, 3)))

    def test_integer_images_are_refused(self):
        with pytest.raises(ValueError, match="must be a float batch"):
            SigLIPVisionEncoder(**VISION)(np.zeros((1, 32, 32, 3), "uint8"))

    @pytest.mark.parametrize("kwargs, message", [
        ({"image_size": 30}, r"image_size must be divisible by patch_size\. "
                             r"Received: image_size=30, patch_size=8"),
        ({"num_heads": 3}, r"num_heads must divide hidden_dim\. Received: num_heads=3"),
        ({"intermediate_dim": 0}, "intermediate_dim=0"),
        ({"layer_norm_epsilon": 0}, "layer_norm_epsilon"),
        ({"output_tokens": "yes"}, "output_tokens"),
        ({"activation": "no_such_activation"}, "activation='no_such_activation'"),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            SigLIPVisionEncoder(**{**VISION, **kwargs})


class TestTextEncoder(TestCase):
    def test_common_checks(self):
        self.run_model_test(SigLIPTextEncoder(**TEXT), token_ids(),
                            expected_output_shape=(2, 12))

    def test_mixed_precision(self):
        for policy in ("mixed_float16", "mixed_bfloat16"):
            self.check_mixed_precision(SigLIPTextEncoder, TEXT, token_ids(), {}, policy)

    def test_pooled_at_the_last_position(self):
        model = SigLIPTextEncoder(**TEXT, output_tokens=True)
        outputs = model(token_ids())
        expected = model.head(outputs["tokens"][:, -1, :])
        np.testing.assert_allclose(to_numpy(outputs["pooled"]), to_numpy(expected), atol=1e-6)
        fast = SigLIPTextEncoder(**TEXT)
        fast.set_weights(model.get_weights())
        np.testing.assert_allclose(to_numpy(fast(token_ids())), to_numpy(expected), atol=1e-5)

    def test_attention_is_bidirectional(self):
        """Unlike CLIP's causal tower, changing the first token changes what
        the last position sees, and changing a later token changes the first
        position's features."""
        model = SigLIPTextEncoder(**TEXT, output_tokens=True)
        ids = token_ids(1)
        changed = ids.copy()
        changed[0, 6] = 40
        first = to_numpy(model(ids)["tokens"])[0, 0]
        assert np.abs(first - to_numpy(model(changed)["tokens"])[0, 0]).max() > 1e-4

    def test_padding_mask(self):
        """Masked positions are never attended to: their values stop mattering."""
        model = SigLIPTextEncoder(**TEXT)
        ids = token_ids()
        mask = np.arange(8)[None, :] < np.array([[5], [3]])
        mask[:, -1] = True  # The pooled position attends to the text.
        changed = np.where(mask, ids, 7)
        changed[:, -1] = ids[:, -1]
        masked = to_numpy(model({"token_ids": ids, "padding_mask": mask}))
        np.testing.assert_allclose(
            to_numpy(model({"token_ids": changed, "padding_mask": mask})), masked, atol=1e-5)
        assert np.abs(to_numpy(model(ids)) - masked).max() > 1e-4

    def test_shorter_sequences(self):
        assert tuple(SigLIPTextEncoder(**TEXT)(token_ids()[:, :5]).shape) == (2, 12)

    def test_bad_inputs(self):
        model = SigLIPTextEncoder(**TEXT)
        with pytest.raises(ValueError, match=r"not be longer than context_length"):
            model(np.ones((1, 9), "int32"))
        with pytest.raises(ValueError, match=r"token_ids must be integers in \[0, "
                           r"vocabulary_size\)"):
            model(np.full((1, 8), 64))
        with pytest.raises(ValueError, match=r"padding_mask must have shape \(batch, length\)"):
            model({"token_ids": token_ids(), "padding_mask": np.ones((2, 4), bool)})
        with pytest.raises(ValueError, match="'token_ids'"):
            model({"ids": token_ids()})

    def test_output_dim_defaults_to_the_width(self):
        assert SigLIPTextEncoder(**{**TEXT, "output_dim": None}).output_dim == 16


class TestMultiheadAttentionPooling(TestCase):
    def test_common_checks(self):
        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        self.run_layer_test(MultiheadAttentionPooling, {"num_heads": 2, "intermediate_dim": 12},
                            x, expected_output_shape=(2, 8))

    def test_matches_a_numpy_map_head(self):
        """probe attends to x (torch MultiheadAttention), then h + MLP(LN(h))."""
        layer = MultiheadAttentionPooling(num_heads=2, intermediate_dim=12)
        x = np.random.default_rng(1).normal(size=(3, 5, 8)).astype("float32")
        layer.build(x.shape)
        w = {v.path.split("/", 1)[1]: to_numpy(v) for v in layer.weights}
        rng = np.random.default_rng(2)
        for path in w:  # Nothing left at its initial value.
            w[path] = w[path] + rng.normal(0, 0.2, w[path].shape).astype("float32")
        layer.set_weights([w[v.path.split("/", 1)[1]] for v in layer.weights])
        out = to_numpy(layer(x))

        def dense(h, name):
            return h @ w[f"{name}/kernel"] + w[f"{name}/bias"]

        q = dense(np.broadcast_to(w["probe"], (3, 1, 8)), "attention/query")
        k, v = dense(x, "attention/key"), dense(x, "attention/value")
        heads = []
        for i in range(2):
            s = slice(4 * i, 4 * i + 4)
            logits = q[..., s] @ k[..., s].transpose(0, 2, 1) / 2.0
            p = np.exp(logits - logits.max(-1, keepdims=True))
            heads.append((p / p.sum(-1, keepdims=True)) @ v[..., s])
        h = dense(np.concatenate(heads, -1), "attention/output")
        mean, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
        n = (h - mean) / np.sqrt(var + 1e-6) * w["layer_norm/gamma"] + w["layer_norm/beta"]
        u = dense(n, "mlp/dense_1")
        u = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u ** 3)))
        expected = (h + dense(u, "mlp/dense_2"))[:, 0]
        np.testing.assert_allclose(out, expected, atol=1e-5)

    def test_heads_must_divide_the_width(self):
        with pytest.raises(ValueError, match=r"num_heads must divide the width of x"):
            MultiheadAttentionPooling(num_heads=3, intermediate_dim=4)(np.zeros((1, 2, 8)))
