"""`DiffusionSamplingMixin`: compiled DDIM / DDPM sampling with classifier-free guidance."""

import collections

import numpy as np
from keras import ops

from kerasmm.models.diffusion import samplers
from kerasmm.models.diffusion.schedules import sampling_timesteps
from kerasmm.models.generation.compiled import as_seed
from kerasmm.models.generation.compiled import compile_function
from kerasmm.utils.constants import DIFFUSION_SAMPLERS
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int

SAMPLERS = DIFFUSION_SAMPLERS

# What changes the traced program; guidance_scale and eta are runtime inputs.
SamplingOptions = collections.namedtuple("SamplingOptions", ["sampler", "num_steps"])


class DiffusionSamplingMixin:
    """`generate()` for a diffusion model.

    The model provides `encode_text(token_ids) -> (tokens, mask)` (run once
    per call), `unet([x_t, t, tokens, mask]) -> eps` (or `v` where its
    `prediction_type` is `"v"`), `check_token_ids`,
    `empty_prompt`, `image_shape`, `num_train_timesteps` and
    `alphas_cumprod`.

    The whole loop (text encoding, `num_steps` denoiser calls, guidance,
    sampler updates, noise draws) is one function compiled per
    `(sampler, num_steps)` and input shape: XLA on TensorFlow, `jax.jit` on
    JAX (`kerasmm.models.generation.compiled`); `generate_trace_count`
    counts the traces. Weights changed after the first call are used
    without retracing.
    """

    generate_trace_count = 0

    def generate(self, token_ids, num_steps=50, guidance_scale=3.0, sampler="ddim", eta=0.0,
                 seed=None):
        """Samples images for a batch of prompts' token ids.

        Args:
            token_ids: int `(B, L)`, e.g. from `TextToImagePreprocessor`.
            num_steps: int, sampling steps in `[1, num_train_timesteps]`;
                "leading" timestep spacing (`schedules.sampling_timesteps`),
                the last step lands on `alpha_bar = 1` (the predicted clean
                image).
            guidance_scale: float >= 0, classifier-free guidance
                `eps_u + s (eps_c - eps_u)`: 1 is the conditional model
                alone, 0 the unconditional one, > 1 follows the prompt more.
            sampler: `"ddim"` (Song et al. eq. 12, `eta` sets the noise;
                its direction uses the noise of the clipped clean image,
                `samplers.ddim_step(use_clipped_model_output=True)`: with
                diffusers' default instead, guidance 3 and 25 steps, the
                shipped `shapes_diffusion_tiny` was read as its prompt 0.38
                of the time instead of 0.975) or `"ddpm"` (ancestral
                sampling of the posterior; `eta` unused).
            eta: float >= 0, DDIM's `eta`; 0 is deterministic given the seed.
            seed: int for reproducible samples (stateless noise: the same
                seed gives the same images on a backend); None draws one.

        Returns:
            float32 NumPy array `(B, H, W, C)` in `[-1, 1]`
            (`kerasmm.utils.images.images_to_uint8` gives pictures).
        """
        check_choice("sampler", sampler, SAMPLERS)
        num_steps = check_positive_int("num_steps", num_steps)
        sampling_timesteps(self.num_train_timesteps, num_steps)  # Checks the range.
        guidance_scale = check_number("guidance_scale", guidance_scale, minimum=0.0)
        eta = check_number("eta", eta, minimum=0.0)
        check_int("seed", seed, allow_none=True)
        token_ids = self.check_token_ids(token_ids)
        options = SamplingOptions(sampler, num_steps)
        functions = self.__dict__.setdefault("_sampling_functions", {})
        if options not in functions:
            functions[options] = compile_function(self._sampling_function(options),
                                                  self.variables)
        inputs = {"token_ids": token_ids,
                  "guidance_scale": ops.convert_to_tensor(np.float32(guidance_scale)),
                  "eta": ops.convert_to_tensor(np.float32(eta))}
        images = functions[options](inputs, as_seed(seed))
        return ops.convert_to_numpy(images).astype("float32")

    def _sampling_function(self, options):
        timesteps, previous = sampling_timesteps(self.num_train_timesteps, options.num_steps)

        def run(inputs, seed):
            # Python runs this only while tracing: one count per compilation.
            self.generate_trace_count += 1
            token_ids = inputs["token_ids"]
            batch = token_ids.shape[0]
            shape = (batch,) + tuple(self.image_shape)
            tokens, mask = self.encode_text(
                ops.concatenate([self.empty_prompt(token_ids), token_ids], axis=0))
            alphas = ops.convert_to_tensor(self.alphas_cumprod)
            steps = ops.convert_to_tensor(timesteps)
            previous_steps = ops.convert_to_tensor(previous)

            def step(i, x):
                t = ops.take(steps, i)
                noise = self.unet([ops.concatenate([x, x], axis=0),
                                   ops.cast(ops.full((2 * batch,), t), "float32"),
                                   tokens, mask])
                # Guidance is linear, so it acts on v as on eps at a fixed t.
                noise = samplers.guided_noise(noise[:batch], noise[batch:],
                                              inputs["guidance_scale"])
                alpha_t = samplers.alpha_at(alphas, t)
                alpha_prev = samplers.alpha_at(alphas, ops.take(previous_steps, i))
                original = None
                if getattr(self, "prediction_type", "epsilon") == "v":
                    original, noise = samplers.original_and_noise_from_velocity(
                        x, noise, alpha_t)
                z = samplers.stateless_normal(shape, seed, i + 1)
                if options.sampler == "ddim":
                    return samplers.ddim_step(x, noise, alpha_t, alpha_prev, inputs["eta"], z,
                                              original, use_clipped_model_output=True)
                return samplers.ddpm_step(x, noise, alpha_t, alpha_prev, z, original)

            x = samplers.stateless_normal(shape, seed, 0)
            x = ops.fori_loop(0, options.num_steps, step, x)
            return ops.clip(x, -1.0, 1.0)

        return run
