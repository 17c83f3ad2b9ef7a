import keras
import numpy as np
import pytest

from kerasmm.layers import ConvPatchEmbedding
from kerasmm.layers import PatchEmbedding
from tests.test_case import TestCase, to_numpy

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.normal(size=shape).astype("float32")


def np_patch_embedding(images, ph, pw, kernel, bias):
    """Cut (ph, pw) patches row by row, flatten each (ph, pw, C), project."""
    batch, height, width, _ = images.shape
    patches = [images[:, i:i + ph, j:j + pw, :].reshape(batch, -1)
               for i in range(0, height, ph) for j in range(0, width, pw)]
    patches = np.stack(patches, axis=1)
    out = patches @ kernel.reshape(-1, kernel.shape[-1])
    return out if bias is None else out + bias


class TestPatchEmbedding(TestCase):
    def test_common_checks(self):
        self.run_layer_test(PatchEmbedding, {"patch_size": 4, "hidden_dim": 6},
                            rand(2, 8, 12, 3), expected_output_shape=(2, 6, 6),
                            expected_num_trainable_weights=2)

    def test_rectangular_patches_without_bias(self):
        self.run_layer_test(PatchEmbedding,
                            {"patch_size": (2, 4), "hidden_dim": 5, "use_bias": False},
                            rand(2, 8, 12, 3), expected_output_shape=(2, 12, 5),
                            expected_num_trainable_weights=1, check_mixed_precision=False)

    @pytest.mark.parametrize("patch_size, use_bias", [(4, True), ((2, 3), False)])
    def test_matches_numpy_patchify(self, patch_size, use_bias):
        images = rand(2, 8, 12, 3)
        layer = PatchEmbedding(patch_size=patch_size, hidden_dim=7, use_bias=use_bias)
        out = to_numpy(layer(images))
        ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else patch_size
        kernel = to_numpy(layer.projection.kernel).astype("float64")
        assert kernel.shape == (ph, pw, 3, 7)
        bias = None
        if use_bias:
            # The bias starts at zero; give it values so that it is checked.
            layer.projection.bias.assign(rand(7))
            bias = to_numpy(layer.projection.bias).astype("float64")
            out = to_numpy(layer(images))
        expected = np_patch_embedding(images.astype("float64"), ph, pw, kernel, bias)
        np.testing.assert_allclose(out, expected, atol=1e-5)

    def test_not_divisible(self):
        with pytest.raises(ValueError, match=(
                r"image_size must be divisible by patch_size\. "
                r"Received: image_size=225, patch_size=32")):
            PatchEmbedding(patch_size=32, hidden_dim=8)(keras.Input((225, 225, 3)))
        with pytest.raises(ValueError, match=r"image_size=\(8, 10\), patch_size=\(4, 4\)"):
            PatchEmbedding(patch_size=(4, 4), hidden_dim=8)(rand(1, 8, 10, 3))

    @pytest.mark.parametrize("kwargs, message", [
        ({"patch_size": 0, "hidden_dim": 8}, "patch_size=0"),
        ({"patch_size": (4,), "hidden_dim": 8}, r"patch_size=\(4,\)"),
        ({"patch_size": "4", "hidden_dim": 8}, "patch_size='4'"),
        ({"patch_size": 4, "hidden_dim": 0}, "hidden_dim=0"),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            PatchEmbedding(**kwargs)

    def test_bad_rank(self):
        with pytest.raises(ValueError, match="images must have rank 4"):
            PatchEmbedding(patch_size=2, hidden_dim=4)(rand(2, 8, 8))


class TestConvPatchEmbedding(TestCase):
    def test_common_checks(self):
        # Two stride-2 convolutions (kernel; gamma, beta), the 1x1 projection
        # (kernel, bias).
        self.run_layer_test(ConvPatchEmbedding, {"patch_size": 4, "hidden_dim": 6},
                            rand(2, 8, 12, 3), expected_output_shape=(2, 6, 6),
                            expected_num_trainable_weights=2 * 3 + 2)

    def test_default_filters_follow_the_paper_with_a_floor(self):
        # Xiao et al.: widths double up to hidden_dim / 2; here at least 16.
        assert ConvPatchEmbedding(16, 768).filters == (48, 96, 192, 384)
        assert ConvPatchEmbedding(8, 64).filters == (16, 16, 32)

    def test_each_token_sees_its_own_patch_in_row_major_order(self):
        # An independent locality check: a pixel changed inside patch (r, c)
        # changes token r * cols + c, and only tokens whose receptive field
        # holds it. With "same" padding (none before, one after) a stride-2
        # 3x3 convolution's output o reads inputs 2o .. 2o + 2, so after two
        # of them token r reads pixel rows 4r .. 4r + 6.
        layer = ConvPatchEmbedding(patch_size=4, hidden_dim=8)
        images = rand(1, 16, 24, 3)
        base = to_numpy(layer(images, training=False))
        for y, x in ((1, 1), (6, 13), (14, 22), (9, 4)):
            changed = images.copy()
            changed[0, y, x] += 5.0
            delta = np.abs(to_numpy(layer(changed, training=False)) - base).sum(-1)[0]
            assert delta[(y // 4) * 6 + x // 4] > 1e-3
            rows, cols = np.nonzero(delta.reshape(4, 6) > 1e-6)
            assert np.all((4 * rows <= y) & (y <= 4 * rows + 6)), (y, rows)
            assert np.all((4 * cols <= x) & (x <= 4 * cols + 6)), (x, cols)

    def test_batch_statistics_only_in_training(self):
        layer = ConvPatchEmbedding(patch_size=2, hidden_dim=4)
        images = rand(4, 8, 8, 3) * 3.0 + 2.0
        inference = to_numpy(layer(images, training=False))
        training = to_numpy(layer(images, training=True))
        assert not np.allclose(inference, training, atol=1e-3)

    def test_bad_arguments_name_the_argument(self):
        with pytest.raises(ValueError, match="patch_size must be a power of two.*6"):
            ConvPatchEmbedding(patch_size=6, hidden_dim=8)
        with pytest.raises(ValueError, match=r"filters must be 2 .*Received: filters=\(8,\)"):
            ConvPatchEmbedding(patch_size=4, hidden_dim=8, filters=(8,))
        with pytest.raises(ValueError, match="image_size must be divisible"):
            ConvPatchEmbedding(patch_size=4, hidden_dim=8)(rand(1, 10, 8, 3))
