import math

import keras
import numpy as np
import pytest

from kerasmm.layers import (
    FourierPositionEncoding,
    LearnedPositionEmbedding,
    SinusoidalPositionEncoding,
    sincos_2d_positions,
)
from tests.test_case import TestCase, to_numpy

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.normal(size=shape).astype("float32")


# ----------------------------------------------------------- numpy references
def np_sinusoidal(length, d, max_wavelength=10000):
    """Vaswani et al.: PE(pos, 2i) = sin(pos / w^(2i/d)), PE(pos, 2i+1) = cos(...)."""
    table = np.zeros((length, d))
    for pos in range(length):
        for channel in range(d):
            i = channel // 2
            angle = pos / max_wavelength ** (2 * i / d)
            table[pos, channel] = math.sin(angle) if channel % 2 == 0 else math.cos(angle)
    return table


def np_fourier(index_dims, num_bands, max_resolution=None, concat_pos=True,
               sine_only=False, pos=None):
    """DeepMind's build_linear_positions + generate_fourier_features, in float64."""
    max_resolution = max_resolution or index_dims
    if pos is None:
        axes = [np.linspace(-1.0, 1.0, n) for n in index_dims]
        pos = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
        pos = pos.reshape(-1, len(index_dims))
    sines, cosines = [], []
    for dim, res in enumerate(max_resolution):
        for freq in np.linspace(1.0, res / 2, num_bands):
            sines.append(np.sin(np.pi * freq * pos[:, dim]))
            cosines.append(np.cos(np.pi * freq * pos[:, dim]))
    columns = ([pos[:, k] for k in range(pos.shape[1])] if concat_pos else [])
    columns += sines + ([] if sine_only else cosines)
    return np.stack(columns, axis=-1)


# ------------------------------------------------------------------ sinusoidal
class TestSinusoidalPositionEncoding(TestCase):
    def test_common_checks(self):
        self.run_layer_test(SinusoidalPositionEncoding, {"max_wavelength": 100},
                            rand(2, 5, 8), expected_output_shape=(2, 5, 8),
                            check_fit=False)

    @pytest.mark.parametrize("d", [8, 7, 1])
    def test_matches_formula(self, d):
        out = to_numpy(SinusoidalPositionEncoding()(rand(3, 40, d)))
        expected = np_sinusoidal(40, d)
        for b in range(3):
            np.testing.assert_allclose(out[b], expected, atol=1e-5)

    def test_odd_width_last_channel_is_sine(self):
        out = to_numpy(SinusoidalPositionEncoding(max_wavelength=10)(rand(1, 6, 5)))[0]
        # Last channel 4 = 2i with i = 2: sin(pos / 10^(4/5)).
        np.testing.assert_allclose(out[:, 4], np.sin(np.arange(6) / 10 ** 0.8), atol=1e-6)
        np.testing.assert_allclose(out[0], [0, 1, 0, 1, 0], atol=1e-7)

    def test_any_length_at_call_time(self):
        inputs = keras.Input((None, 6))
        model = keras.Model(inputs, SinusoidalPositionEncoding()(inputs))
        for length in (3, 11):
            out = to_numpy(model(rand(2, length, 6)))
            np.testing.assert_allclose(out[1], np_sinusoidal(length, 6), atol=1e-5)

    def test_matches_keras_hub_for_even_width(self):
        import keras_hub
        x = rand(2, 9, 10)
        np.testing.assert_allclose(
            to_numpy(SinusoidalPositionEncoding()(x)),
            to_numpy(keras_hub.layers.SinePositionEncoding()(x)), atol=1e-5)

    def test_bad_inputs(self):
        with pytest.raises(ValueError, match="max_wavelength=0"):
            SinusoidalPositionEncoding(max_wavelength=0)
        with pytest.raises(ValueError, match="x must have rank >= 2"):
            SinusoidalPositionEncoding()(rand(4))


# --------------------------------------------------------------------- learned
class TestLearnedPositionEmbedding(TestCase):
    def test_common_checks(self):
        self.run_layer_test(LearnedPositionEmbedding, {"sequence_length": 10},
                            rand(2, 5, 8), expected_output_shape=(2, 5, 8),
                            expected_num_trainable_weights=1)

    def test_returns_first_rows_broadcast(self):
        layer = LearnedPositionEmbedding(sequence_length=10)
        out = to_numpy(layer(rand(3, 4, 6)))
        table = to_numpy(layer.embeddings)
        assert table.shape == (10, 6)
        for b in range(3):
            np.testing.assert_array_equal(out[b], table[:4])
        np.testing.assert_array_equal(to_numpy(layer(rand(1, 10, 6)))[0], table)

    def test_default_init_is_truncated_normal_002(self):
        layer = LearnedPositionEmbedding(sequence_length=64)
        layer(rand(1, 2, 64))
        table = to_numpy(layer.embeddings)
        assert np.abs(table).max() <= 2 * 0.02 + 1e-7
        assert 0.015 < table.std() < 0.021
        assert LearnedPositionEmbedding(4).get_config()["initializer"]["config"]["stddev"] == 0.02

    def test_custom_initializer_round_trip(self):
        layer = LearnedPositionEmbedding(sequence_length=3, initializer="ones")
        clone = LearnedPositionEmbedding.from_config(layer.get_config())
        np.testing.assert_array_equal(to_numpy(clone(rand(1, 3, 2))), np.ones((1, 3, 2)))

    def test_variable_length_symbolic(self):
        inputs = keras.Input((None, 4))
        layer = LearnedPositionEmbedding(sequence_length=8)
        model = keras.Model(inputs, layer(inputs))
        table = to_numpy(layer.embeddings)
        for length in (2, 8):
            np.testing.assert_array_equal(to_numpy(model(rand(2, length, 4)))[1],
                                          table[:length])

    def test_bad_inputs(self):
        with pytest.raises(ValueError, match="sequence_length=0"):
            LearnedPositionEmbedding(sequence_length=0)
        with pytest.raises(ValueError, match="input length=6, sequence_length=4"):
            LearnedPositionEmbedding(sequence_length=4)(rand(2, 6, 3))
        layer = LearnedPositionEmbedding(sequence_length=4)
        layer(rand(2, 3, 3))
        with pytest.raises(ValueError, match="input length=5, sequence_length=4"):
            layer(rand(2, 5, 3))
        with pytest.raises(ValueError, match="x with width 6, built with 3"):
            layer(rand(2, 3, 6))
        with pytest.raises(ValueError, match="x must have rank >= 2"):
            LearnedPositionEmbedding(sequence_length=4)(rand(3))


# --------------------------------------------------------------------- fourier
class TestFourierPositionEncoding(TestCase):
    def test_common_checks(self):
        self.run_layer_test(FourierPositionEncoding, {"index_dims": (4, 6), "num_bands": 3},
                            rand(2, 4, 6, 3), expected_output_shape=(2, 24, 14),
                            check_fit=False)

    def test_common_checks_with_pos(self):
        pos = RNG.uniform(-1, 1, size=(2, 5, 2)).astype("float32")
        self.run_layer_test(
            FourierPositionEncoding,
            {"index_dims": (4, 6), "num_bands": 2, "sine_only": True},
            [rand(2, 3), pos], expected_output_shape=(2, 5, 6), check_fit=False)

    def test_hand_computed_values(self):
        # positions [-1, 0, 1]; bands linspace(1, 3 / 2, 2) = [1, 1.5].
        out = to_numpy(FourierPositionEncoding(index_dims=(3,), num_bands=2)(rand(2, 1)))
        expected = np.array([
            # pos, sin(pi x), sin(1.5 pi x), cos(pi x), cos(1.5 pi x)
            [-1.0, 0.0, 1.0, -1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0, 1.0],
            [1.0, 0.0, -1.0, -1.0, 0.0],
        ])
        np.testing.assert_allclose(out[0], expected, atol=1e-6)
        np.testing.assert_allclose(out[1], expected, atol=1e-6)

    def test_hand_computed_2d_ordering(self):
        # index_dims (2, 3): row-major points (-1,-1), (-1,0), (-1,1), (1,-1), ...
        # bands: dim 0 linspace(1, 1, 1) = [1]; dim 1 linspace(1, 1.5, 1) = [1].
        out = to_numpy(FourierPositionEncoding(index_dims=(2, 3), num_bands=1)(rand(1, 1)))[0]
        np.testing.assert_allclose(out[:, :2], [[-1, -1], [-1, 0], [-1, 1],
                                                [1, -1], [1, 0], [1, 1]], atol=1e-7)
        # Point 1 = (-1, 0): [pos, sin(pi*-1), sin(0), cos(-pi), cos(0)].
        np.testing.assert_allclose(out[1], [-1, 0, 0, 0, -1, 1], atol=1e-6)

    def test_max_resolution_sets_bands(self):
        # bands linspace(1, 5 / 2, 2) = [1, 2.5]; at x = 1: sin(2.5 pi) = 1.
        layer = FourierPositionEncoding(index_dims=(3,), num_bands=2, max_resolution=(5,))
        out = to_numpy(layer(rand(1, 1)))[0]
        np.testing.assert_allclose(out[2], [1, 0, 1, -1, 0], atol=1e-6)

    @pytest.mark.parametrize("concat_pos, sine_only, channels",
                             [(True, False, 2 + 2 * 2 * 5), (True, True, 2 + 2 * 5),
                              (False, False, 2 * 2 * 5), (False, True, 2 * 5)])
    def test_matches_deepmind_formula(self, concat_pos, sine_only, channels):
        kwargs = {"index_dims": (7, 9), "num_bands": 5, "max_resolution": (16, 12),
                  "concat_pos": concat_pos, "sine_only": sine_only}
        layer = FourierPositionEncoding(**kwargs)
        out = to_numpy(layer(rand(2, 7, 9, 1)))
        assert out.shape == (2, 63, channels) and layer.output_dim == channels
        expected = np_fourier((7, 9), 5, (16, 12), concat_pos, sine_only)
        np.testing.assert_allclose(out[0], expected, atol=1e-5)
        np.testing.assert_allclose(out[1], expected, atol=1e-5)

    def test_three_dims_default_resolution(self):
        layer = FourierPositionEncoding(index_dims=(2, 3, 4), num_bands=4)
        out = to_numpy(layer(rand(1, 5)))[0]
        np.testing.assert_allclose(out, np_fourier((2, 3, 4), 4), atol=1e-5)
        assert layer.output_dim == 3 + 3 * 2 * 4

    def test_custom_pos(self):
        layer = FourierPositionEncoding(index_dims=(4, 4), num_bands=3)
        pos = RNG.uniform(-1, 1, size=(5, 2))
        shared = to_numpy(layer(rand(3, 1), pos=pos.astype("float32")))
        assert shared.shape == (3, 5, layer.output_dim)
        np.testing.assert_allclose(shared[2], np_fourier((4, 4), 3, pos=pos), atol=1e-5)
        batched = RNG.uniform(-1, 1, size=(2, 5, 2))
        out = to_numpy(layer(rand(2, 1), pos=batched.astype("float32")))
        for b in range(2):
            np.testing.assert_allclose(out[b], np_fourier((4, 4), 3, pos=batched[b]),
                                       atol=1e-5)

    def test_custom_pos_keeps_float32_under_mixed_precision(self):
        pos = RNG.uniform(-1, 1, size=(1, 50, 1))
        layer = FourierPositionEncoding(index_dims=(64,), num_bands=4, dtype="mixed_float16")
        out = to_numpy(layer(rand(1, 1), pos=pos.astype("float32")))
        assert out.dtype == np.float16
        # Frequencies reach 32: a float16 position would shift phases by up to ~0.05.
        np.testing.assert_allclose(out[0].astype("float64"),
                                   np_fourier((64,), 4, pos=pos[0]), atol=2e-3)

    def test_int_index_dims_and_dynamic_batch(self):
        layer = FourierPositionEncoding(index_dims=5, num_bands=2)
        assert layer.index_dims == (5,)
        inputs = keras.Input((5, 3))
        model = keras.Model(inputs, layer(inputs))
        assert model.output.shape == (None, 5, 5)
        assert to_numpy(model(rand(4, 5, 3))).shape == (4, 5, 5)

    @pytest.mark.parametrize("kwargs, message", [
        ({"index_dims": (0, 3), "num_bands": 2}, r"index_dims=\(0, 3\)"),
        ({"index_dims": (), "num_bands": 2}, r"index_dims=\(\)"),
        ({"index_dims": (3,), "num_bands": 0}, "num_bands=0"),
        ({"index_dims": (3, 3), "num_bands": 2, "max_resolution": (3,)},
         r"max_resolution=\(3,\), index_dims=\(3, 3\)"),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            FourierPositionEncoding(**kwargs)

    def test_bad_pos(self):
        layer = FourierPositionEncoding(index_dims=(3, 3), num_bands=2)
        with pytest.raises(ValueError, match=r"pos must have shape \(n, 2\)"):
            layer(rand(2, 1), pos=rand(5, 3))
        with pytest.raises(ValueError, match="pos batch=3, inputs batch=2"):
            layer(rand(2, 1), pos=rand(3, 5, 2))


def mae_2d_sincos(embed_dim, grid_size):
    """MAE's `util/pos_embed.py: get_2d_sincos_pos_embed` (facebookresearch/mae),
    written out as there: the reference the table must equal."""
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.meshgrid(grid_w, grid_h)  # here w goes first
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_size, grid_size])

    def one_d(dim, pos):
        omega = np.arange(dim // 2, dtype=float) / (dim / 2.0)
        omega = 1.0 / 10000**omega
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return np.concatenate([one_d(embed_dim // 2, grid[0]), one_d(embed_dim // 2, grid[1])],
                          axis=1)


@pytest.mark.parametrize("grid_size, dim", [(1, 4), (4, 8), (7, 64)])
def test_sincos_2d_positions_equal_mae(grid_size, dim):
    table = sincos_2d_positions(grid_size, dim)
    assert table.shape == (grid_size * grid_size, dim) and table.dtype == np.float32
    np.testing.assert_allclose(table, mae_2d_sincos(dim, grid_size), atol=1e-6)
    # Row-major patches: the first half follows the column, the second the row.
    square = table.reshape(grid_size, grid_size, dim)
    np.testing.assert_allclose(square[:, :, : dim // 2], square[:1, :, : dim // 2].repeat(
        grid_size, axis=0))
    np.testing.assert_allclose(square[:, :, dim // 2:], square[:, :1, dim // 2:].repeat(
        grid_size, axis=1))


def test_sincos_2d_positions_errors():
    with pytest.raises(ValueError, match="dim must be a multiple of 4. Received: dim=6"):
        sincos_2d_positions(4, 6)
    with pytest.raises(ValueError, match="grid_size"):
        sincos_2d_positions(0, 8)
