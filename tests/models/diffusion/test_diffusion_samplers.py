"""Noise schedules and single sampler steps against NumPy transcriptions of the papers."""

import math

import numpy as np
import pytest
from keras import ops

from kerasmm.models.diffusion import samplers
from kerasmm.models.diffusion import schedules


def numpy(x):
    return ops.convert_to_numpy(x)


def test_linear_schedule_is_ddpm():
    beta = np.linspace(1e-4, 0.02, 1000)
    np.testing.assert_allclose(schedules.betas("linear", 1000), beta, rtol=1e-6)
    np.testing.assert_allclose(schedules.alphas_cumprod(schedules.betas("linear", 1000)),
                               np.cumprod(1 - beta), rtol=1e-5)


def test_cosine_schedule_matches_the_closed_form_alpha_bar():
    # Nichol & Dhariwal eq. 17: alpha_bar(t) = f(t) / f(0); the betas telescope
    # into it wherever the 0.999 cap is inactive (all but the last steps).
    steps, s = 1000, 0.008
    f = np.cos((np.arange(steps + 1) / steps + s) / (1 + s) * math.pi / 2) ** 2
    alphas = schedules.alphas_cumprod(schedules.betas("cosine", steps))
    np.testing.assert_allclose(alphas[:-10], (f[1:] / f[0])[:-10], rtol=1e-4, atol=1e-7)
    assert schedules.betas("cosine", steps).max() == pytest.approx(0.999)


def test_leading_timestep_spacing():
    timesteps, previous = schedules.sampling_timesteps(1000, 50)
    assert timesteps[0] == 980 and timesteps[-1] == 0 and len(timesteps) == 50
    np.testing.assert_array_equal(previous[:-1], timesteps[1:])
    assert previous[-1] == -1
    with pytest.raises(ValueError, match="num_steps must be <= num_train_timesteps"):
        schedules.sampling_timesteps(10, 11)


def test_bad_schedule_name():
    with pytest.raises(ValueError, match="beta_schedule must be one of"):
        schedules.betas("sigmoid", 10)


def fake_denoiser(x, t):
    """A fixed 'model': any deterministic function of (x_t, t)."""
    return 0.6 * np.tanh(x) + 1e-4 * t


RNG = np.random.default_rng(0)
X_T = RNG.uniform(-0.3, 0.3, (2, 4, 4, 1)).astype("float32")
Z = RNG.normal(size=X_T.shape).astype("float32")
ALPHAS = schedules.alphas_cumprod(schedules.betas("linear", 1000)).astype("float64")


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_is_song_et_al_eq_12(eta):
    t, prev = 500, 480
    a_t, a_prev = ALPHAS[t], ALPHAS[prev]
    x, eps = X_T.astype("float64"), fake_denoiser(X_T.astype("float64"), t)
    # Song et al. eq. 12 with sigma from eq. 16.
    x0 = (x - np.sqrt(1 - a_t) * eps) / np.sqrt(a_t)
    assert np.abs(x0).max() < 1  # No clipping in this check.
    sigma = eta * np.sqrt((1 - a_prev) / (1 - a_t)) * np.sqrt(1 - a_t / a_prev)
    expected = np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev - sigma ** 2) * eps + sigma * Z
    got = samplers.ddim_step(X_T, eps.astype("float32"), np.float32(a_t),
                             np.float32(a_prev), eta, Z)
    np.testing.assert_allclose(numpy(got), expected, atol=2e-5)


def test_ddim_with_the_clipped_model_output():
    # A step whose x_0 leaves [-1, 1]: the direction's eps is recomputed from the
    # clipped x_0 (diffusers' use_clipped_model_output=True), so that
    # x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps holds for the pair the step uses.
    t, prev = 900, 850
    a_t, a_prev = ALPHAS[t], ALPHAS[prev]
    x = 3.0 * X_T.astype("float64")
    eps = -2.0 * np.ones_like(x)
    x0 = np.clip((x - np.sqrt(1 - a_t) * eps) / np.sqrt(a_t), -1, 1)
    assert (np.abs((x - np.sqrt(1 - a_t) * eps) / np.sqrt(a_t)) > 1).all()  # All clipped.
    consistent = (x - np.sqrt(a_t) * x0) / np.sqrt(1 - a_t)
    np.testing.assert_allclose(np.sqrt(a_t) * x0 + np.sqrt(1 - a_t) * consistent, x)
    expected = np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev) * consistent
    args = (x.astype("float32"), eps.astype("float32"), np.float32(a_t), np.float32(a_prev))
    got = samplers.ddim_step(*args, 0.0, Z, use_clipped_model_output=True)
    np.testing.assert_allclose(numpy(got), expected, rtol=1e-4, atol=1e-4)
    default = samplers.ddim_step(*args, 0.0, Z)  # The model's eps: another point.
    np.testing.assert_allclose(numpy(default), np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev) * eps,
                               rtol=1e-4, atol=1e-4)
    assert np.abs(numpy(default) - expected).min() > 0.1
    # Nothing clipped: both are the same step.
    small = fake_denoiser(X_T, 500).astype("float32")
    a_t, a_prev = np.float32(ALPHAS[500]), np.float32(ALPHAS[480])
    np.testing.assert_allclose(
        numpy(samplers.ddim_step(X_T, small, a_t, a_prev, 0.0, Z, use_clipped_model_output=True)),
        numpy(samplers.ddim_step(X_T, small, a_t, a_prev, 0.0, Z)), atol=1e-5)


def test_ddim_with_eta_0_ignores_the_noise():
    eps = fake_denoiser(X_T, 300).astype("float32")
    a_t, a_prev = np.float32(ALPHAS[300]), np.float32(ALPHAS[280])
    one = samplers.ddim_step(X_T, eps, a_t, a_prev, 0.0, Z)
    other = samplers.ddim_step(X_T, eps, a_t, a_prev, 0.0, -3 * Z)
    np.testing.assert_array_equal(numpy(one), numpy(other))


def gaussian_posterior(x_t, x0, a_t, a_prev):
    """q(x_prev | x_t, x_0) by multiplying the two Gaussians (no DDPM formula used):
    N(x_prev; sqrt(a_prev) x0, 1 - a_prev) * N(x_t; sqrt(alpha) x_prev, beta)."""
    alpha = a_t / a_prev
    beta = 1 - alpha
    precision = 1 / (1 - a_prev) + alpha / beta
    mean = (np.sqrt(a_prev) * x0 / (1 - a_prev) + np.sqrt(alpha) * x_t / beta) / precision
    return mean, 1 / precision


@pytest.mark.parametrize("t, prev", [(500, 499), (500, 450), (1, 0)])
def test_ddpm_step_samples_the_posterior(t, prev):
    a_t, a_prev = ALPHAS[t], ALPHAS[prev]
    x, eps = X_T.astype("float64"), fake_denoiser(X_T.astype("float64"), t)
    x0 = np.clip((x - np.sqrt(1 - a_t) * eps) / np.sqrt(a_t), -1, 1)
    mean, variance = gaussian_posterior(x, x0, a_t, a_prev)
    got = samplers.ddpm_step(X_T, eps.astype("float32"), np.float32(a_t), np.float32(a_prev), Z)
    np.testing.assert_allclose(numpy(got), mean + np.sqrt(variance) * Z, rtol=1e-4, atol=1e-4)


def test_ddim_eta_1_is_the_ddpm_posterior():
    # Song et al.: eta = 1 gives DDPM's variance; with an unclipped x_0 the whole
    # step equals the ancestral one.
    eps = fake_denoiser(X_T, 500).astype("float32")
    a_t, a_prev = np.float32(ALPHAS[500]), np.float32(ALPHAS[480])
    np.testing.assert_allclose(numpy(samplers.ddim_step(X_T, eps, a_t, a_prev, 1.0, Z)),
                               numpy(samplers.ddpm_step(X_T, eps, a_t, a_prev, Z)), atol=1e-4)


def test_last_step_returns_the_clipped_clean_image():
    eps = fake_denoiser(X_T, 10).astype("float32")
    a_t = np.float32(ALPHAS[10])
    x0 = np.clip((X_T - np.sqrt(1 - a_t) * eps) / np.sqrt(a_t), -1, 1)
    for step in (samplers.ddim_step(X_T, eps, a_t, np.float32(1.0), 0.0, Z),
                 samplers.ddpm_step(X_T, eps, a_t, np.float32(1.0), Z)):
        np.testing.assert_allclose(numpy(step), x0, atol=1e-5)


def test_guidance_formula():
    unconditional, conditional = np.float32([1.0, -2.0]), np.float32([3.0, 0.0])
    np.testing.assert_allclose(numpy(samplers.guided_noise(unconditional, conditional, 3.0)),
                               [7.0, 4.0])
    np.testing.assert_allclose(numpy(samplers.guided_noise(unconditional, conditional, 0.0)),
                               unconditional)


def test_alpha_at_is_one_before_the_first_timestep():
    got = numpy(samplers.alpha_at(ALPHAS.astype("float32"), np.int32([-1, 0, 999])))
    np.testing.assert_allclose(got, [1.0, ALPHAS[0], ALPHAS[999]], rtol=1e-6)


def test_stateless_normal_is_seeded_and_standard():
    a = numpy(samplers.stateless_normal((4000,), np.int32(3), np.int32(1)))
    b = numpy(samplers.stateless_normal((4000,), np.int32(3), np.int32(1)))
    c = numpy(samplers.stateless_normal((4000,), np.int32(3), np.int32(2)))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert abs(a.mean()) < 0.1 and abs(a.std() - 1) < 0.1
