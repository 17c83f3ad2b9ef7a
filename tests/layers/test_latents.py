import math

import keras
import numpy as np
import pytest

from kerasmm.layers import LatentArray
from tests.test_case import TestCase, to_numpy

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.normal(size=shape).astype("float32")


def truncated_normal_std(stddev, cut=2.0):
    """Std of N(0, stddev^2) truncated to [-cut * stddev, cut * stddev]."""
    pdf = math.exp(-cut ** 2 / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(cut / math.sqrt(2))
    return stddev * math.sqrt(1 - 2 * cut * pdf / mass)


class TestLatentArray(TestCase):
    def test_common_checks(self):
        self.run_layer_test(LatentArray, {"num_latents": 4, "latent_dim": 6},
                            rand(3, 7, 5), expected_output_shape=(3, 4, 6),
                            expected_num_trainable_weights=1)

    def test_broadcast_to_batch_of_any_rank(self):
        layer = LatentArray(num_latents=3, latent_dim=2)
        for x in (rand(4, 9), rand(2, 5, 6, 7), rand(1)):
            out = to_numpy(layer(x))
            assert out.shape == (x.shape[0], 3, 2)
            for b in range(x.shape[0]):
                np.testing.assert_array_equal(out[b], to_numpy(layer.latents))

    def test_dynamic_batch(self):
        inputs = keras.Input((10, 3))
        model = keras.Model(inputs, LatentArray(num_latents=5, latent_dim=4)(inputs))
        assert model.output.shape == (None, 5, 4)
        assert to_numpy(model(rand(6, 10, 3))).shape == (6, 5, 4)

    def test_default_init_truncated_normal_std_002(self):
        layer = LatentArray(num_latents=128, latent_dim=64)
        layer.build((1, 1))
        latents = to_numpy(layer.latents)
        assert np.abs(latents).max() <= 2 * 0.02 + 1e-7
        assert abs(latents.mean()) < 1e-3
        np.testing.assert_allclose(latents.std(), truncated_normal_std(0.02), rtol=0.03)

    def test_custom_initializer_round_trip(self):
        layer = LatentArray(num_latents=2, latent_dim=3,
                            initializer=keras.initializers.Constant(0.5))
        clone = LatentArray.from_config(layer.get_config())
        np.testing.assert_array_equal(to_numpy(clone(rand(1, 4))), np.full((1, 2, 3), 0.5))

    @pytest.mark.parametrize("kwargs, message", [
        ({"num_latents": 0, "latent_dim": 4}, "num_latents=0"),
        ({"num_latents": 4, "latent_dim": 2.5}, "latent_dim=2.5"),
        ({"num_latents": True, "latent_dim": 4}, "num_latents=True"),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            LatentArray(**kwargs)
