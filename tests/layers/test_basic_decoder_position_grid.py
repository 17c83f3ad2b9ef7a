"""BasicDecoder(position_grid="index"): full decoding with the positions of
subsampled decoding (DeepMind's multimodal autoencoder, HF's
`subsampled_output_points`)."""

import numpy as np
import pytest

from kerasmm.layers import BasicDecoder
from tests.models.perceiver.perceiver_reference import cross_attention_layer
from tests.models.perceiver.perceiver_reference import fourier_features
from tests.models.perceiver.perceiver_reference import weights
from tests.test_case import TestCase
from tests.test_case import to_numpy

LATENTS = np.random.default_rng(1).normal(size=(2, 5, 8)).astype("float32")
DIMS = (3, 4)


def _index_positions(points, dims):
    """DeepMind: `-1 + 2 * unravel_index(points) / index_dims`."""
    return -1 + 2 * np.stack(np.unravel_index(points, dims), axis=1) / np.array(dims)


class TestPositionGrid(TestCase):
    def test_common_checks(self):
        self.run_layer_test(BasicDecoder, {
            "output_num_channels": 3, "output_index_dims": DIMS,
            "position_encoding": "fourier", "num_bands": 2, "position_grid": "index"},
            LATENTS, expected_output_shape=(2, 3, 4, 3))

    def test_full_grid_uses_index_positions(self):
        decoder = BasicDecoder(2, output_index_dims=DIMS, position_encoding="fourier",
                               num_bands=3, max_resolution=(6, 8), position_grid="index")
        out = to_numpy(decoder(LATENTS))
        assert out.shape == (2, 3, 4, 2)
        queries = fourier_features(DIMS, 3, (6, 8), pos=_index_positions(np.arange(12), DIMS))
        np.testing.assert_allclose(to_numpy(decoder.queries(LATENTS))[1], queries, atol=1e-5)
        w = weights(decoder)
        ref = cross_attention_layer(decoder.cross_attention,
                                    np.broadcast_to(queries, (2, 12, queries.shape[-1])),
                                    LATENTS.astype("float64"))
        ref = ref @ w["final_projection/kernel"] + w["final_projection/bias"]
        np.testing.assert_allclose(out, ref.reshape(2, 3, 4, 2), atol=1e-5)
        # The full decode is the concatenation of all chunks.
        chunks = [to_numpy(decoder(LATENTS, subsampled_points=np.arange(i, i + 4)))
                  for i in (0, 4, 8)]
        np.testing.assert_allclose(out.reshape(2, 12, 2), np.concatenate(chunks, axis=1),
                                   atol=1e-5)

    def test_default_linspace_grid_differs(self):
        linspace = BasicDecoder(2, output_index_dims=DIMS, position_encoding="fourier",
                                num_bands=3)
        assert linspace.position_grid == "linspace"
        linspace(LATENTS)
        queries = to_numpy(linspace.queries(LATENTS))[0]
        np.testing.assert_allclose(queries, fourier_features(DIMS, 3), atol=1e-5)
        index = fourier_features(DIMS, 3, pos=_index_positions(np.arange(12), DIMS))
        assert np.max(np.abs(queries - index)) > 0.1

    def test_learned_table_ignores_it(self):
        decoder = BasicDecoder(2, output_index_dims=(4,), position_dim=6,
                               position_grid="index")
        assert to_numpy(decoder(LATENTS)).shape == (2, 4, 2)
        table = weights(decoder)["position_embeddings/latents"]
        np.testing.assert_array_equal(to_numpy(decoder.queries(LATENTS))[0],
                                      table.astype("float32"))

    def test_config_and_bad_value(self):
        decoder = BasicDecoder(2, output_index_dims=DIMS, position_grid="index")
        assert decoder.get_config()["position_grid"] == "index"
        assert BasicDecoder.from_config(decoder.get_config()).position_grid == "index"
        with pytest.raises(ValueError, match="position_grid='pixels'"):
            BasicDecoder(2, output_index_dims=DIMS, position_grid="pixels")
