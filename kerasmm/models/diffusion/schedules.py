"""Noise schedules of DDPM-style diffusion: betas, `alphas_cumprod`, sampling timesteps.

Plain NumPy (float64 math, returned as float32): the model stores the
schedule as constants and the samplers gather from it.

>>> a = alphas_cumprod(betas("cosine", 1000))
>>> a.shape, bool(a[0] > 0.999), bool(a[-1] < 1e-4)
((1000,), True, True)
"""

import math

import numpy as np

from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_positive_int

BETA_SCHEDULES = ("linear", "cosine")


def betas(beta_schedule, num_train_timesteps):
    """The noise variances `beta_t`, `t = 0 .. num_train_timesteps - 1`.

    - `"linear"`: Ho et al. (DDPM), `linspace(1e-4, 0.02, T)` (diffusers'
      `beta_schedule="linear"` with its default `beta_start`, `beta_end`).
    - `"cosine"`: Nichol & Dhariwal (improved DDPM), `alpha_bar(t) =
      cos((t / T + s) / (1 + s) * pi / 2) ** 2` with `s = 0.008` and
      `beta_t = min(1 - alpha_bar(t + 1) / alpha_bar(t), 0.999)`
      (diffusers' `"squaredcos_cap_v2"`).

    Args:
        beta_schedule: `"linear"` or `"cosine"`.
        num_train_timesteps: int, the number of diffusion steps `T`.

    Returns:
        float32 NumPy array `(T,)`.
    """
    check_choice("beta_schedule", beta_schedule, BETA_SCHEDULES)
    steps = check_positive_int("num_train_timesteps", num_train_timesteps)
    if beta_schedule == "linear":
        return np.linspace(1e-4, 0.02, steps, dtype="float64").astype("float32")

    def alpha_bar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    values = [min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), 0.999)
              for i in range(steps)]
    return np.array(values, dtype="float64").astype("float32")


def alphas_cumprod(beta_values):
    """`alpha_bar_t = prod_{s <= t} (1 - beta_s)`, float32 `(T,)`."""
    return np.cumprod(1.0 - np.asarray(beta_values, "float64")).astype("float32")


def sampling_timesteps(num_train_timesteps, num_steps):
    """`(timesteps, previous_timesteps)` of a `num_steps` sampler, int32.

    "Leading" spacing, diffusers' `DDIMScheduler` / `DDPMScheduler`
    default: with `k = T // num_steps`, the timesteps are `(num_steps - 1)
    k, ..., k, 0` and each one's previous timestep is `t - k`; the last
    step's previous timestep is -1, where the sampler takes `alpha_bar = 1`
    (diffusers' `set_alpha_to_one=True`: the final step returns the
    predicted clean image).

    >>> sampling_timesteps(1000, 4)
    (array([750, 500, 250,   0], dtype=int32), array([500, 250,   0,  -1], dtype=int32))
    """
    total = check_positive_int("num_train_timesteps", num_train_timesteps)
    steps = check_positive_int("num_steps", num_steps)
    if steps > total:
        raise ValueError(
            "num_steps must be <= num_train_timesteps. Received: "
            f"num_steps={steps}, num_train_timesteps={total}")
    ratio = total // steps
    timesteps = (np.arange(steps) * ratio)[::-1].astype("int32")
    previous = np.where(timesteps >= ratio, timesteps - ratio, -1).astype("int32")
    return timesteps, previous
