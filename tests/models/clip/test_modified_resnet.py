import keras
import numpy as np
import pytest

from kerasmm.models import ModifiedResNet
from kerasmm.models.clip import AttentionPool2D, Bottleneck
from tests.models.clip import numpy_clip
from tests.test_case import TestCase, to_numpy

# width 8 -> stages of 8, 16, 32, 64 inner channels, a 256-channel 2x2 map.
TINY = {"block_counts": (1, 2, 1, 1), "width": 8, "num_heads": 4, "output_dim": 16,
        "image_size": 64}


def rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def nchw(x):
    return x.astype("float64").transpose(0, 3, 1, 2)


class TestAttentionPool2D(TestCase):
    def test_common_checks(self):
        self.run_layer_test(AttentionPool2D, {"num_heads": 2, "output_dim": 6},
                            rand(2, 3, 3, 8), expected_output_shape=(2, 6),
                            expected_num_trainable_weights=9)

    @pytest.mark.parametrize("heads, output_dim", [(1, None), (4, 5)])
    def test_matches_openai_attention_pool(self, heads, output_dim):
        pool = AttentionPool2D(num_heads=heads, output_dim=output_dim)
        x = rand(3, 2, 3, 8)
        pool.build(x.shape)
        numpy_clip.randomize_weights(pool)
        expected = numpy_clip.openai_attention_pool(
            nchw(x), numpy_clip.attention_pool_state(pool), heads)
        np.testing.assert_allclose(to_numpy(pool(x)), expected, atol=1e-5, rtol=1e-5)

    def test_bad_inputs(self):
        with pytest.raises(ValueError, match=r"num_heads=3, channels=8"):
            AttentionPool2D(num_heads=3)(rand(1, 2, 2, 8))
        with pytest.raises(ValueError, match=r"known \(H, W, C\)"):
            AttentionPool2D(num_heads=2)(keras.Input((None, None, 8)))


class TestBottleneck(TestCase):
    @pytest.mark.parametrize("stride, channels", [(1, 16), (1, 8), (2, 8)])
    def test_matches_openai_bottleneck(self, stride, channels):
        block = Bottleneck(filters=4, stride=stride)
        x = rand(2, 6, 6, channels)
        block.build(x.shape)
        # Downsampling branch only where the width or the size changes.
        assert (block.downsample_conv is None) == (stride == 1 and channels == 16)
        numpy_clip.randomize_weights(block)
        expected = numpy_clip.openai_bottleneck(
            nchw(x), numpy_clip.bottleneck_state(block), stride)
        np.testing.assert_allclose(to_numpy(block(x)), expected.transpose(0, 2, 3, 1),
                                   atol=1e-5, rtol=1e-5)

    def test_common_checks(self):
        self.run_layer_test(Bottleneck, {"filters": 2, "stride": 2}, rand(2, 4, 4, 4),
                            expected_output_shape=(2, 2, 2, 8),
                            # bn3 starts at zero scale (OpenAI's init): one step
                            # cannot reach the weights of the residual branch.
                            frozen_weights=("conv1", "conv2", "conv3", "bn1", "bn2"),
                            check_mixed_precision=False)


class TestModifiedResNet(TestCase):
    @pytest.mark.slow  # ~10-20 s: tracing the train step of ~100 variables.
    def test_common_checks(self):
        model = ModifiedResNet(**{**TINY, "block_counts": (1, 1, 1, 1), "image_size": 32})
        # OpenAI zero-initialises each block's last BatchNorm scale, which
        # hides the residual branches from a single training step.
        for stage in model.stages:
            for block in stage:
                block.bn3.gamma.assign(np.ones(block.bn3.gamma.shape, "float32"))
        self.run_model_test(model, rand(2, 32, 32, 3), expected_output_shape=(2, 16))

    @pytest.mark.slow  # a few seconds on TF, ~1 min on JAX (per-shape compilation)
    def test_mixed_precision(self):
        small = {**TINY, "block_counts": (1, 1, 1, 1), "image_size": 32}
        self.check_mixed_precision(ModifiedResNet, small, rand(2, 32, 32, 3), {},
                                   "mixed_bfloat16")

    def test_matches_openai_forward(self):
        model = ModifiedResNet(**TINY)
        numpy_clip.randomize_weights(model)
        x = rand(2, 64, 64, 3)
        expected = numpy_clip.openai_modified_resnet(
            x, numpy_clip.resnet_state(model), TINY["block_counts"], heads=4)
        np.testing.assert_allclose(to_numpy(model(x, training=False)), expected,
                                   atol=1e-4, rtol=1e-4)

    def test_openai_shapes(self):
        model = ModifiedResNet(**TINY)
        state = numpy_clip.resnet_state(model)
        # As OpenAI's RN50 at width 8: stem 4, 4, 8; attnpool over 2x2 + 1.
        assert state["conv1.weight"].shape == (4, 3, 3, 3)
        assert state["conv3.weight"].shape == (8, 4, 3, 3)
        assert state["layer1.0.downsample.0.weight"].shape == (32, 8, 1, 1)
        assert "layer2.1.downsample.0.weight" not in state
        assert state["layer4.0.conv3.weight"].shape == (256, 64, 1, 1)
        assert state["attnpool.positional_embedding"].shape == (5, 256)
        assert state["attnpool.c_proj.weight"].shape == (16, 256)
        assert not any(n.endswith("conv1.bias") for n in state)

    def test_symbolic_call(self):
        model = ModifiedResNet(**TINY)
        assert tuple(model(keras.Input((64, 64, 3))).shape) == (None, 16)

    def test_wrong_image_size(self):
        model = ModifiedResNet(**TINY)
        with pytest.raises(ValueError, match=r"image_size=64\. Received: images with "
                           r"shape \(1, 32, 32, 3\)"):
            model(rand(1, 32, 32, 3))

    @pytest.mark.parametrize("kwargs, message", [
        ({"image_size": 48}, r"image_size must be a multiple of 32\. Received: "
                             r"image_size=48"),
        ({"num_heads": 3}, r"num_heads must divide width \* 32\. Received: "
                           r"num_heads=3, width \* 32=256"),
        ({"block_counts": (1, 1, 1)}, r"block_counts=\(1, 1, 1\)"),
        ({"width": 7}, "width=7"),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            ModifiedResNet(**{**TINY, **kwargs})
