import keras
import numpy as np
import pytest

from kerasmm.models import VisionTransformer
from tests.models.clip import numpy_clip
from tests.test_case import TestCase, to_numpy

TINY = {"image_size": 32, "patch_size": 8, "hidden_dim": 32, "num_layers": 2,
        "num_heads": 2, "output_dim": 16}


def images(batch=2, size=32, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, size, size, 3)).astype("float32")


def openai_vit_parameter_count(width, layers, patch, grid, output_dim):
    """Parameters of OpenAI's VisionTransformer, counted from its __init__."""
    block = (3 * width * width + 3 * width      # attn.in_proj
             + width * width + width            # attn.out_proj
             + 2 * 2 * width                    # ln_1, ln_2
             + width * 4 * width + 4 * width    # mlp.c_fc
             + 4 * width * width + width)       # mlp.c_proj
    return (3 * width * patch * patch          # conv1, no bias
            + width                             # class_embedding
            + (grid * grid + 1) * width         # positional_embedding
            + 2 * width + layers * block + 2 * width  # ln_pre, blocks, ln_post
            + width * output_dim)               # proj


class TestVisionTransformer(TestCase):
    def test_common_checks(self):
        model = VisionTransformer(**TINY)
        self.run_model_test(model, images(), expected_output_shape=(2, 16))

    def test_mixed_precision(self):
        for policy in ("mixed_float16", "mixed_bfloat16"):
            self.check_mixed_precision(VisionTransformer, TINY, images(), {}, policy)

    def test_matches_openai_forward(self):
        model = VisionTransformer(**TINY)
        numpy_clip.randomize_weights(model)
        x = images(3)
        expected = numpy_clip.openai_vision_transformer(
            x, numpy_clip.vit_state(model), heads=2)
        np.testing.assert_allclose(to_numpy(model(x)), expected, atol=1e-4, rtol=1e-4)

    def test_parameter_count_matches_openai(self):
        model = VisionTransformer(**TINY)
        assert model.count_params() == openai_vit_parameter_count(32, 2, 8, 4, 16)
        assert model.patch_embedding.projection.bias is None
        assert model.projection.bias is None

    def test_symbolic_call(self):
        model = VisionTransformer(**TINY)
        outputs = model(keras.Input((32, 32, 3)))
        assert tuple(outputs.shape) == (None, 16)
        assert model.compute_output_shape((5, 32, 32, 3)) == (5, 16)

    @pytest.mark.parametrize("shape", [(2, 64, 64, 3), (2, 32, 32, 1), (2, 32, 32)])
    def test_wrong_image_shape(self, shape):
        model = VisionTransformer(**TINY)
        with pytest.raises(ValueError, match=r"image_size=32\. Received: images with "
                           r"shape " + re_tuple(shape)):
            model(np.zeros(shape, "float32"))

    def test_wrong_image_shape_symbolic(self):
        model = VisionTransformer(**TINY)
        with pytest.raises(ValueError, match=r"image_size=32.*\(None, 40, 40, 3\)"):
            model(keras.Input((40, 40, 3)))

    @pytest.mark.parametrize("kwargs, message", [
        ({"image_size": 30}, r"image_size must be divisible by patch_size\. "
                             r"Received: image_size=30, patch_size=8"),
        ({"num_heads": 3}, r"num_heads must divide hidden_dim\. Received: "
                           r"num_heads=3, hidden_dim=32"),
        ({"num_layers": 0}, "num_layers=0"),
        ({"activation": "no_such_activation"}, "activation='no_such_activation'"),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            VisionTransformer(**{**TINY, **kwargs})


class TestVisionTransformerOptions(TestCase):
    """intermediate_dim, output_tokens, use_projection_bias, layer_norm_epsilon."""

    def test_output_tokens_common_checks(self):
        model = VisionTransformer(**TINY, intermediate_dim=40, output_tokens=True,
                                  use_projection_bias=True)
        self.run_model_test(model, images(),
                            expected_output_shape={"pooled": (2, 16), "tokens": (2, 16, 32)})
        assert model.compute_output_shape((5, 32, 32, 3)) == {
            "pooled": (5, 16), "tokens": (5, 16, 32)}
        outputs = model(keras.Input((32, 32, 3)))
        assert tuple(outputs["tokens"].shape) == (None, 16, 32)

    def test_intermediate_dim_matches_openai_forward(self):
        """Any MLP width (157 = int(32 * 4.9231), ViT-bigG-14's ratio)."""
        model = VisionTransformer(**TINY, intermediate_dim=157)
        assert tuple(model.blocks[1].mlp.dense_1.kernel.shape) == (32, 157)
        assert model.count_params() == openai_vit_parameter_count(32, 2, 8, 4, 16) - 2 * (
            2 * 32 * (4 * 32 - 157) + (4 * 32 - 157))
        numpy_clip.randomize_weights(model)
        x = images(3)
        expected = numpy_clip.openai_vision_transformer(
            x, numpy_clip.vit_state(model), heads=2)
        np.testing.assert_allclose(to_numpy(model(x)), expected, atol=1e-4, rtol=1e-4)

    def test_tokens_path_keeps_the_pooled_output(self):
        """output_tokens runs every block on every token; its pooled output
        equals the fast path's, and its tokens are ln_post of the patches."""
        fast = VisionTransformer(**TINY)
        numpy_clip.randomize_weights(fast)
        full = VisionTransformer.from_config({**fast.get_config(), "output_tokens": True})
        full.set_weights(fast.get_weights())
        x = images(3)
        outputs = full(x)
        np.testing.assert_allclose(to_numpy(outputs["pooled"]), to_numpy(fast(x)), atol=1e-5)
        tokens = to_numpy(outputs["tokens"])
        assert tokens.shape == (3, 16, 32)
        # After ln_post (gamma, beta): each token is gamma * unit-variance + beta.
        gamma, beta = (to_numpy(w) for w in full.ln_post.weights)
        normalized = (tokens - beta) / gamma
        np.testing.assert_allclose(normalized.mean(-1), 0.0, atol=1e-4)
        assert not np.allclose(tokens[:, 0], tokens[:, 1])

    def test_projection_bias_and_config_round_trip(self):
        model = VisionTransformer(**TINY, use_projection_bias=True, layer_norm_epsilon=1e-6,
                                  intermediate_dim=24, output_tokens=True)
        assert tuple(model.projection.bias.shape) == (16,)
        assert model.ln_pre.epsilon == 1e-6 and model.blocks[0].mlp_norm.epsilon == 1e-6
        config = model.get_config()
        assert {k: config[k] for k in ("intermediate_dim", "use_projection_bias",
                                       "output_tokens", "layer_norm_epsilon")} == {
            "intermediate_dim": 24, "use_projection_bias": True, "output_tokens": True,
            "layer_norm_epsilon": 1e-6}
        assert VisionTransformer.from_config(config).get_config() == config

    @pytest.mark.parametrize("kwargs, message", [
        ({"layer_norm_epsilon": 0}, r"layer_norm_epsilon must be > 0\. Received: "
                                    r"layer_norm_epsilon=0"),
        ({"layer_norm_epsilon": -1e-5}, "layer_norm_epsilon=-1e-05"),
        ({"layer_norm_epsilon": float("inf")}, "layer_norm_epsilon must be finite"),
        ({"layer_norm_epsilon": "1e-5"}, "layer_norm_epsilon must be a number"),
        ({"intermediate_dim": 0}, "intermediate_dim=0"),
        ({"intermediate_dim": 4.5}, "intermediate_dim=4.5"),
        ({"output_tokens": 1}, "output_tokens must be a bool"),
        ({"use_projection_bias": "no"}, "use_projection_bias must be a bool"),
    ])
    def test_bad_options(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            VisionTransformer(**{**TINY, **kwargs})


def re_tuple(shape):
    return r"\(" + r", ".join(str(d) for d in shape) + r"\)"
