"""One reverse-diffusion step of DDIM and of DDPM, and classifier-free guidance.

Pure `keras.ops` functions of tensors (they trace into the compiled
sampling loop and work on their own). `alpha_prod_t` and
`alpha_prod_prev` are `alpha_bar` at the current and the previous
timestep (see `kerasmm.models.diffusion.schedules`); both may be scalars
or broadcast against the images. As diffusers' schedulers with their
default `clip_sample=True`, the predicted clean image is clipped to
`[-1, 1]` (the images' range) before it is used.

>>> x, eps = np.ones((1, 2), "float32"), np.zeros((1, 2), "float32")
>>> keras.ops.convert_to_numpy(ddim_step(x, eps, 0.25, 1.0))
array([[1., 1.]], dtype=float32)
"""

import math

from keras import ops

from kerasmm.models.generation.sampling import stateless_uniform


def guided_noise(noise_unconditional, noise_conditional, guidance_scale):
    """Classifier-free guidance (Ho & Salimans): `e_u + s (e_c - e_u)`."""
    return noise_unconditional + guidance_scale * (noise_conditional - noise_unconditional)


def predicted_original(sample, noise, alpha_prod_t, original=None):
    """`x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)` (or `original`
    when given, e.g. from v-prediction), clipped to [-1, 1]."""
    if original is None:
        original = (sample - ops.sqrt(1.0 - alpha_prod_t) * noise) / ops.sqrt(alpha_prod_t)
    return ops.clip(original, -1.0, 1.0)


def velocity(original, noise, alpha_prod_t):
    """Salimans & Ho's v-prediction target: `v = sqrt(a_t) eps - sqrt(1 - a_t) x_0`."""
    return ops.sqrt(alpha_prod_t) * noise - ops.sqrt(1.0 - alpha_prod_t) * original


def original_and_noise_from_velocity(sample, v, alpha_prod_t):
    """`(x_0, eps)` of `x_t` and `v`: `x_0 = sqrt(a_t) x_t - sqrt(1 - a_t) v`,
    `eps = sqrt(1 - a_t) x_t + sqrt(a_t) v` (Salimans & Ho, section 4; no division,
    so exact even where `a_t` is near 0)."""
    root_a, root_1ma = ops.sqrt(alpha_prod_t), ops.sqrt(1.0 - alpha_prod_t)
    return root_a * sample - root_1ma * v, root_1ma * sample + root_a * v


def ddim_step(sample, noise, alpha_prod_t, alpha_prod_prev, eta=0.0, variance_noise=None,
              original=None, use_clipped_model_output=False):
    """Song et al. (DDIM) eq. 12, as diffusers' `DDIMScheduler.step`.

    `x_prev = sqrt(a_prev) x_0 + sqrt(1 - a_prev - sigma^2) eps + sigma z`
    with `sigma = eta sqrt((1 - a_prev) / (1 - a_t) (1 - a_t / a_prev))`
    (eq. 16). `eta=0` is deterministic; `eta=1` has DDPM's variance. By
    default the direction term uses the model's `eps`, not the one implied
    by the clipped `x_0` (diffusers' `use_clipped_model_output=False`);
    with `use_clipped_model_output=True` it uses
    `eps = (x_t - sqrt(a_t) x_0) / sqrt(1 - a_t)` of the clipped `x_0`, so
    that `x_0` and `eps` stay one consistent decomposition of `x_t`
    (`TextToImageDiffusion.generate` does: with guidance, the model's `x_0`
    leaves [-1, 1] and the default's mismatch compounds step after step).

    Args:
        sample: `x_t`.
        noise: the predicted noise `eps`.
        alpha_prod_t, alpha_prod_prev: `alpha_bar` at `t` and at the
            previous timestep (1.0 after the last step).
        eta: float (or scalar tensor) >= 0.
        variance_noise: standard normal `z` like `sample`; needed when
            `eta > 0`.
        original: the predicted clean image `x_0` if the model gives it
            (v-prediction); None derives it from `noise`.
        use_clipped_model_output: bool, the direction's `eps` from the
            clipped `x_0` (see above).
    """
    x0 = predicted_original(sample, noise, alpha_prod_t, original)
    if use_clipped_model_output:
        noise = (sample - ops.sqrt(alpha_prod_t) * x0) / ops.sqrt(
            ops.maximum(1.0 - alpha_prod_t, 1e-12))
    variance = (1.0 - alpha_prod_prev) / (1.0 - alpha_prod_t) * (
        1.0 - alpha_prod_t / alpha_prod_prev)
    sigma = eta * ops.sqrt(ops.maximum(variance, 0.0))
    direction = ops.sqrt(ops.maximum(1.0 - alpha_prod_prev - sigma ** 2, 0.0)) * noise
    previous = ops.sqrt(alpha_prod_prev) * x0 + direction
    if variance_noise is not None:
        previous = previous + sigma * variance_noise
    return previous


def ddpm_step(sample, noise, alpha_prod_t, alpha_prod_prev, variance_noise=None,
              original=None):
    """Ho et al. (DDPM) ancestral step from the posterior q(x_prev | x_t, x_0).

    With `beta = 1 - a_t / a_prev` (the strided schedule's beta when
    sampling with fewer steps than training, as diffusers'
    `DDPMScheduler`): mean `sqrt(a_prev) beta / (1 - a_t) x_0 + sqrt(1 -
    beta) (1 - a_prev) / (1 - a_t) x_t` (eq. 7) and variance
    `(1 - a_prev) / (1 - a_t) beta` (DDPM's "fixed_small"), zero on the
    last step (`a_prev = 1`). `original` as in `ddim_step`.
    """
    beta = 1.0 - alpha_prod_t / alpha_prod_prev
    x0 = predicted_original(sample, noise, alpha_prod_t, original)
    mean = (ops.sqrt(alpha_prod_prev) * beta / (1.0 - alpha_prod_t) * x0
            + ops.sqrt(1.0 - beta) * (1.0 - alpha_prod_prev) / (1.0 - alpha_prod_t) * sample)
    if variance_noise is None:
        return mean
    variance = ops.maximum((1.0 - alpha_prod_prev) / (1.0 - alpha_prod_t) * beta, 1e-20)
    return mean + ops.sqrt(variance) * variance_noise


def stateless_normal(shape, seed, step):
    """Standard normal floats, a pure function of `(seed, step)` (Box-Muller).

    `seed` and `step` are int32 scalar tensors (or ints); each step draws
    from two streams of `kerasmm.models.generation.sampling.stateless_uniform`.
    """
    step = ops.cast(step, "int32")
    u1 = stateless_uniform(shape, seed, 2 * step)
    u2 = stateless_uniform(shape, seed, 2 * step + 1)
    return ops.sqrt(-2.0 * ops.log(u1)) * ops.cos(2.0 * math.pi * u2)


def alpha_at(alphas, timesteps):
    """`alpha_bar` gathered at `timesteps`, 1.0 where a timestep is negative."""
    values = ops.take(alphas, ops.maximum(timesteps, 0), axis=0)
    return ops.where(timesteps >= 0, values, ops.ones_like(values))

