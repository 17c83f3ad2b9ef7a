"""TextToImageDiffusion: the compiled sampling loop, errors, saving, text towers, fit."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasmm.datasets import shapes_tokenizer
from kerasmm.models import TextToImageDiffusion
from kerasmm.models import TextToImagePreprocessor
from kerasmm.models import TextTransformer
from kerasmm.models.diffusion import samplers
from kerasmm.models.generation.compiled import compile_function

TINY = dict(image_shape=(16, 16, 1), vocabulary_size=617, context_length=16, hidden_dim=8,
            channel_multipliers=(1, 2), num_heads=2, num_groups=4, text_hidden_dim=8,
            text_num_layers=1)
PROMPTS = ["a red circle", "a blue square"]


def randomize(model, seed=0):
    """Random weights everywhere: the zero-initialised output conv would make
    every prediction 0 and the comparisons below trivial."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if "float" in str(variable.dtype):
            variable.assign(rng.normal(0, 0.2, variable.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def model():
    return randomize(TextToImageDiffusion(**TINY, seed=1))


@pytest.fixture(scope="module")
def token_ids():
    return TextToImagePreprocessor(shapes_tokenizer())(PROMPTS).numpy()


def denoise_inputs(batch=2):
    rng = np.random.default_rng(0)
    return (rng.uniform(-1, 1, (batch, 16, 16, 1)).astype("float32"),
            np.array([3, 700][:batch], "int32"))


class FakeUNet(keras.layers.Layer):
    """A fixed 'denoiser' of (x_t, t, text tokens): the numpy loop below can recompute it."""

    def call(self, inputs):
        x, t, tokens, _ = inputs
        text = ops.mean(tokens, axis=(1, 2))[:, None, None, None]
        return 0.1 * x + 1e-4 * t[:, None, None, None] + 0.05 * text


def numpy_sampler(model, token_ids, num_steps, scale, sampler, seed):
    """DDIM (eta 0, eq. 12) or DDPM (Gaussian posterior) with guidance, in float64."""
    alphas = model.alphas_cumprod.astype("float64")
    k = model.num_train_timesteps // num_steps
    text = [ops.convert_to_numpy(model.encode_text(ids)[0]).astype("float64").mean(axis=(1, 2))
            for ids in (np.zeros_like(token_ids), token_ids)]
    shape = (len(token_ids),) + model.image_shape
    # The noise the compiled loop draws (XLA's stateless generator differs from
    # TensorFlow's eager one for the same seed).
    draw = compile_function(lambda step, s: samplers.stateless_normal(shape, s, step), [])

    def noise(step):
        return ops.convert_to_numpy(draw(ops.convert_to_tensor(np.int32(step)),
                                         ops.convert_to_tensor(np.int32(seed))))

    x = noise(0).astype("float64")
    for i in range(num_steps):
        t, prev = k * (num_steps - 1 - i), k * (num_steps - 2 - i)
        eps_u, eps_c = (0.1 * x + 1e-4 * t + 0.05 * c[:, None, None, None] for c in text)
        eps = eps_u + scale * (eps_c - eps_u)
        a_t, a_prev = alphas[t], (alphas[prev] if prev >= 0 else 1.0)
        x0 = np.clip((x - np.sqrt(1 - a_t) * eps) / np.sqrt(a_t), -1, 1)
        if sampler == "ddim":  # The direction's noise is that of the clipped x_0.
            x = np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev) * (x - np.sqrt(a_t) * x0) / np.sqrt(
                1 - a_t)
        else:
            z = noise(i + 1)
            alpha, beta = a_t / a_prev, 1 - a_t / a_prev
            precision = 1 / (1 - a_prev) + alpha / beta if prev >= 0 else np.inf
            mean = (np.sqrt(a_prev) * x0 / (1 - a_prev) + np.sqrt(alpha) * x / beta) / precision \
                if prev >= 0 else x0
            x = mean + np.sqrt(1 / precision) * z
    return np.clip(x, -1, 1)


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_compiled_loop_matches_numpy_and_traces_once(sampler, token_ids):
    fake = TextToImageDiffusion(**TINY, beta_schedule="linear")
    fake.unet = FakeUNet()
    images = fake.generate(token_ids, num_steps=4, guidance_scale=2.5, sampler=sampler, seed=7)
    expected = numpy_sampler(fake, token_ids, 4, 2.5, sampler, seed=7)
    np.testing.assert_allclose(images, expected, atol=2e-4)
    assert images.dtype == np.float32 and images.shape == (2, 16, 16, 1)
    # Same shape, another guidance scale and seed: no new trace; seeds reproduce.
    again = fake.generate(token_ids, num_steps=4, guidance_scale=2.5, sampler=sampler, seed=7)
    other = fake.generate(token_ids, num_steps=4, guidance_scale=1.0, sampler=sampler, seed=8)
    np.testing.assert_array_equal(images, again)
    assert np.abs(images - other).max() > 1e-3
    assert fake.generate_trace_count == 1
    fake.generate(token_ids[:1], num_steps=4, sampler=sampler, seed=7)
    assert fake.generate_trace_count == 2  # A new batch size is a new shape.


@pytest.mark.parametrize("image_shape", [(15, 16, 1), (16, 12, 3), (16, 16, 2), (16, 16),
                                         (0, 8, 1), "16x16"])
def test_bad_image_shape_is_refused(image_shape):
    with pytest.raises(ValueError, match="image_shape must be .* multiples of 8 .*Received"):
        TextToImageDiffusion(**dict(TINY, image_shape=image_shape))


@pytest.mark.parametrize("change, message", [
    (dict(channel_multipliers=(1, 1, 1, 1, 1)), "channel_multipliers must have 1 to 4"),
    (dict(num_groups=3), "num_groups must divide every U-Net width"),
    (dict(attention_levels=(2,)), "attention_levels must be levels in"),
    (dict(beta_schedule="quadratic"), "beta_schedule must be one of"),
    (dict(prompt_dropout=1.0), "prompt_dropout must be in"),
    (dict(pooled_text="yes"), "pooled_text must be"),
])
def test_bad_arguments_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        TextToImageDiffusion(**dict(TINY, **change))


def test_bad_token_ids_and_options_are_refused(model, token_ids):
    with pytest.raises(ValueError, match="token_ids must be an integer tensor"):
        model.generate(token_ids.astype("float32"))
    with pytest.raises(ValueError, match=r"token_ids must be integers in \[0, vocabulary_size\)"):
        model.generate(token_ids + 617)
    with pytest.raises(ValueError, match="at most context_length=16"):
        model.generate(np.zeros((2, 17), "int32"))
    with pytest.raises(ValueError, match="token_ids must have rank 2"):
        model.generate(token_ids[0])
    with pytest.raises(ValueError, match="sampler must be one of"):
        model.generate(token_ids, sampler="euler")
    with pytest.raises(ValueError, match="num_steps must be <= num_train_timesteps"):
        model.generate(token_ids, num_steps=1001)
    with pytest.raises(ValueError, match="guidance_scale must be >= 0"):
        model.generate(token_ids, guidance_scale=-1.0)
    with pytest.raises(ValueError, match="images must have shape"):
        model({"images": np.zeros((2, 8, 8, 1), "float32"), "token_ids": token_ids})
    with pytest.raises(ValueError, match="images must be a float batch"):
        model({"images": np.zeros((2, 16, 16, 1), "uint8"), "token_ids": token_ids})


def test_keras_file_round_trip(model, token_ids, tmp_path):
    noisy, timesteps = denoise_inputs()
    expected = ops.convert_to_numpy(model.denoise(noisy, timesteps, token_ids))
    assert np.abs(expected).max() > 0.1
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(ops.convert_to_numpy(loaded.denoise(noisy, timesteps, token_ids)),
                               expected, atol=1e-6)


def test_preset_round_trip(model, token_ids, tmp_path):
    noisy, timesteps = denoise_inputs()
    model.save_to_preset(str(tmp_path), preprocessor=TextToImagePreprocessor(shapes_tokenizer()))
    preprocessor = TextToImagePreprocessor.from_preset(str(tmp_path))
    np.testing.assert_array_equal(preprocessor(PROMPTS).numpy(), token_ids)
    loaded = TextToImageDiffusion.from_preset(str(tmp_path))
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded.denoise(noisy, timesteps, token_ids)),
        ops.convert_to_numpy(model.denoise(noisy, timesteps, token_ids)), atol=1e-6)


def test_padding_is_inert_and_the_prompt_matters(model, token_ids):
    noisy, timesteps = denoise_inputs()
    full = ops.convert_to_numpy(model.denoise(noisy, timesteps, token_ids))
    assert np.abs(full).max() > 0.1
    assert (token_ids[:, 6:] == 0).all()  # Shorter prompts, then padding.
    np.testing.assert_allclose(
        ops.convert_to_numpy(model.denoise(noisy, timesteps, token_ids[:, :6])), full, atol=1e-5)
    other = ops.convert_to_numpy(model.denoise(noisy, timesteps, token_ids[::-1]))
    assert np.abs(other - full).max() > 1e-3


def test_pooled_text_alone_conditions_the_unet(token_ids, tmp_path):
    # No attention anywhere: only the pooled text embedding can carry the prompt.
    noisy, timesteps = denoise_inputs()
    outputs = {}
    for pooled in (False, True):
        model = randomize(TextToImageDiffusion(**TINY, attention_levels=(),
                                               pooled_text=pooled))
        full = ops.convert_to_numpy(model.denoise(noisy, timesteps, token_ids))
        other = ops.convert_to_numpy(model.denoise(noisy, timesteps, token_ids[::-1]))
        outputs[pooled] = np.abs(other - full).max()
    assert outputs[False] < 1e-6 and outputs[True] > 1e-3
    np.testing.assert_allclose(  # Padding stays inert.
        ops.convert_to_numpy(model.denoise(noisy, timesteps, token_ids[:, :6])), full,
        atol=1e-5)
    config = model.get_config()
    assert config["pooled_text"] is True
    assert TextToImageDiffusion.from_config(config).count_params() == model.count_params()
    # Configs saved before `pooled_text` existed load without it.
    del config["pooled_text"]
    assert TextToImageDiffusion.from_config(config).pooled_text is False


def test_a_frozen_clip_text_tower_conditions_the_unet(token_ids, tmp_path):
    tower = TextTransformer(vocabulary_size=617, context_length=16, hidden_dim=16, num_layers=1,
                            num_heads=2, output_dim=8, output_tokens=True)
    tower.trainable = False
    model = randomize(TextToImageDiffusion(**TINY, text_encoder=tower))
    trainable = {id(v) for v in model.trainable_variables}
    assert not any(id(v) in trainable for v in tower.variables)
    assert model.text_projection.kernel.shape == (16, 8)
    noisy, timesteps = denoise_inputs()
    expected = ops.convert_to_numpy(model.denoise(noisy, timesteps, token_ids))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(ops.convert_to_numpy(loaded.denoise(noisy, timesteps, token_ids)),
                               expected, atol=1e-6)


def test_a_text_encoder_must_return_tokens():
    pooled = TextTransformer(vocabulary_size=617, context_length=16, hidden_dim=16,
                             num_layers=1, num_heads=2, output_dim=8)
    with pytest.raises(ValueError, match="text_encoder must return tokens"):
        TextToImageDiffusion(**TINY, text_encoder=pooled)


@pytest.mark.slow
def test_fit_with_only_an_optimizer_reduces_the_noise_loss(token_ids):
    model = TextToImageDiffusion(**dict(TINY, hidden_dim=8), prompt_dropout=0.5, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    rng = np.random.default_rng(0)
    images = np.where(rng.uniform(size=(64, 16, 16, 1)) > 0.5, 0.8, -0.8).astype("float32")
    data = {"images": images, "token_ids": np.repeat(token_ids, 32, axis=0)}
    history = model.fit(data, batch_size=32, epochs=6, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]
