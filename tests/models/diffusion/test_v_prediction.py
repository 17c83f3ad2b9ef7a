"""v-prediction (Salimans & Ho) and Min-SNR weighting (Hang et al.) of TextToImageDiffusion."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasmm.models import TextToImageDiffusion
from kerasmm.models.diffusion import samplers
from kerasmm.models.diffusion import schedules
from kerasmm.models.generation.compiled import compile_function

TINY = dict(image_shape=(16, 16, 1), vocabulary_size=617, context_length=16, hidden_dim=8,
            channel_multipliers=(1, 2), num_heads=2, num_groups=4, text_hidden_dim=8,
            text_num_layers=1)
RNG = np.random.default_rng(0)
X0 = RNG.uniform(-0.9, 0.9, (2, 16, 16, 1))
EPS = RNG.normal(size=X0.shape)
TOKEN_IDS = np.array([[1, 5, 2] + [0] * 13, [1, 7, 2] + [0] * 13], "int32")


def numpy(x):
    return ops.convert_to_numpy(x).astype("float64")


@pytest.mark.parametrize("alpha", [2.4e-9, 0.0037, 0.5, 0.99996])
def test_v_conversions_are_salimans_and_ho(alpha):
    x_t = np.sqrt(alpha) * X0 + np.sqrt(1 - alpha) * EPS
    v = np.sqrt(alpha) * EPS - np.sqrt(1 - alpha) * X0  # Section 4's definition.
    np.testing.assert_allclose(numpy(samplers.velocity(X0, EPS, alpha)), v, atol=1e-6)
    original, noise = samplers.original_and_noise_from_velocity(
        x_t.astype("float32"), v.astype("float32"), np.float32(alpha))
    np.testing.assert_allclose(numpy(original), X0, atol=2e-5)
    np.testing.assert_allclose(numpy(noise), EPS, atol=2e-5)


class OracleUNet(keras.layers.Layer):
    """Knows the clean image `X0`: returns the exact v (or eps) of `x_t` at `t`."""

    def __init__(self, alphas, predict_v):
        super().__init__()
        self.alphas, self.predict_v = alphas, predict_v

    def call(self, inputs):
        x, t = inputs[0], inputs[1]
        a = ops.take(ops.convert_to_tensor(self.alphas), ops.cast(t, "int32"))[:, None, None,
                                                                                None]
        # Guided sampling stacks the unconditional and the conditional batch.
        x0 = ops.tile(ops.convert_to_tensor(X0.astype("float32")), (x.shape[0] // len(X0), 1,
                                                                    1, 1))
        if self.predict_v:  # v = sqrt(a) eps - sqrt(1-a) x0 with eps = (x - sqrt(a) x0)/sqrt(1-a)
            return (ops.sqrt(a) * x - x0) / ops.sqrt(1.0 - a)
        return (x - ops.sqrt(a) * x0) / ops.sqrt(1.0 - a)


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_sampling_with_a_perfect_v_oracle_recovers_the_clean_image(sampler):
    model = TextToImageDiffusion(**TINY, prediction_type="v")
    model.unet = OracleUNet(model.alphas_cumprod, predict_v=True)
    images = model.generate(TOKEN_IDS, num_steps=5, sampler=sampler, guidance_scale=3.0, seed=3)
    np.testing.assert_allclose(images, X0, atol=1e-4)


class FakeVelocity(keras.layers.Layer):
    def call(self, inputs):
        return 0.3 * ops.tanh(inputs[0]) + 1e-4 * inputs[1][:, None, None, None]


def test_ddim_loop_converts_v_as_the_formulas():
    model = TextToImageDiffusion(**TINY, prediction_type="v")
    model.unet = FakeVelocity()
    images = model.generate(TOKEN_IDS, num_steps=4, guidance_scale=2.0, seed=5)
    shape = (len(TOKEN_IDS),) + model.image_shape
    draw = compile_function(lambda s: samplers.stateless_normal(shape, s, 0), [])
    x = numpy(draw(ops.convert_to_tensor(np.int32(5))))
    alphas = model.alphas_cumprod.astype("float64")
    for t, prev in zip((750, 500, 250, 0), (500, 250, 0, -1)):
        v = 0.3 * np.tanh(x) + 1e-4 * t
        a_t, a_prev = alphas[t], (alphas[prev] if prev >= 0 else 1.0)
        x0 = np.clip(np.sqrt(a_t) * x - np.sqrt(1 - a_t) * v, -1, 1)
        eps = (x - np.sqrt(a_t) * x0) / np.sqrt(1 - a_t)  # The noise of the clipped x_0.
        x = np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev) * eps
    np.testing.assert_allclose(images, np.clip(x, -1, 1), atol=2e-4)


def test_training_targets_and_min_snr_weights():
    model = TextToImageDiffusion(**TINY, prediction_type="v", loss_weighting="min_snr", seed=0)
    out = {k: numpy(v) for k, v in model({"images": X0.astype("float32"),
                                         "token_ids": TOKEN_IDS}).items()}
    alphas = model.alphas_cumprod.astype("float64")
    for i in range(len(X0)):  # The target is v at one of the schedule's alpha_bar.
        residual = [np.abs(out["target"][i] - (np.sqrt(a) * out["noise"][i]
                                               - np.sqrt(1 - a) * X0[i])).max() for a in alphas]
        t = int(np.argmin(residual))
        assert residual[t] < 1e-4
        snr = alphas[t] / (1 - alphas[t])
        assert out["loss_weight"][i] == pytest.approx(min(snr, 5.0) / (snr + 1), rel=1e-4)
    expected = np.mean(out["loss_weight"][:, None, None, None]
                       * (out["target"] - out["prediction"]) ** 2)
    loss = model.compute_loss(y_pred={k: ops.convert_to_tensor(v.astype("float32"))
                                      for k, v in out.items()})
    assert float(loss) == pytest.approx(expected, rel=1e-4)
    snr = np.float64([0.01, 1.0, 100.0])
    alpha = snr / (1 + snr)
    eps_model = TextToImageDiffusion(**TINY, loss_weighting="min_snr")
    np.testing.assert_allclose(numpy(eps_model.loss_weight(alpha.astype("float32"))),
                               np.minimum(snr, 5) / snr, rtol=1e-4)
    plain = TextToImageDiffusion(**TINY)
    np.testing.assert_array_equal(numpy(plain.loss_weight(alpha.astype("float32"))), 1.0)


def test_options_are_saved_checked_and_default_to_the_old_model():
    model = TextToImageDiffusion(**TINY, prediction_type="v", loss_weighting="min_snr")
    config = model.get_config()
    loaded = TextToImageDiffusion.from_config(config)
    assert (loaded.prediction_type, loaded.loss_weighting) == ("v", "min_snr")
    del config["prediction_type"], config["loss_weighting"]  # A config saved before them.
    old = TextToImageDiffusion.from_config(config)
    assert (old.prediction_type, old.loss_weighting) == ("epsilon", "none")
    with pytest.raises(ValueError, match="prediction_type must be one of .*Received"):
        TextToImageDiffusion(**TINY, prediction_type="x0")
    with pytest.raises(ValueError, match="loss_weighting must be one of .*Received"):
        TextToImageDiffusion(**TINY, loss_weighting="snr")


def test_schedule_alpha_bar_reaches_zero_at_the_end():
    # The cosine schedule already ends at (near) zero SNR (Lin et al.'s condition).
    assert schedules.alphas_cumprod(schedules.betas("cosine", 1000))[-1] < 1e-8
