"""TextToImageDiffusion: a text-conditioned denoising diffusion model trained with `fit`."""

import keras
from keras import ops

from kerasmm.distribute import BuildBeforeTracingMixin
from kerasmm.models.diffusion import samplers
from kerasmm.models.diffusion import schedules
from kerasmm.models.diffusion.denoiser import build_text_encoder
from kerasmm.models.diffusion.denoiser import build_unet
from kerasmm.models.diffusion.diffusion_presets import DIFFUSION_PRESETS
from kerasmm.models.diffusion.diffusion_sampling import DiffusionSamplingMixin
from kerasmm.presets import PresetMixin
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_images
from kerasmm.utils.checks import check_int_tuple
from kerasmm.utils.checks import check_layer
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank
from kerasmm.utils.checks import check_rate
from kerasmm.utils.constants import DIFFUSION_LOSS_WEIGHTINGS
from kerasmm.utils.constants import DIFFUSION_PREDICTION_TYPES
from kerasmm.utils.tensor_checks import check_token_ids

PREDICTION_TYPES = DIFFUSION_PREDICTION_TYPES
LOSS_WEIGHTINGS = DIFFUSION_LOSS_WEIGHTINGS
MIN_SNR_GAMMA = 5.0  # Hang et al.'s recommended gamma


def check_image_shape(image_shape):
    """`(H, W, C)` with H, W positive multiples of 8 and C in {1, 3}, as a tuple."""
    shape = tuple(image_shape) if isinstance(image_shape, (list, tuple)) else ()
    if (len(shape) != 3 or any(isinstance(d, bool) or not isinstance(d, int) or d <= 0
                               for d in shape)
            or shape[0] % 8 or shape[1] % 8 or shape[2] not in (1, 3)):
        raise ValueError(
            "image_shape must be (height, width, channels) with height and width positive "
            "multiples of 8 and channels 1 or 3. Received: "
            f"image_shape={image_shape!r}")
    return shape


@keras.saving.register_keras_serializable(package="kerasmm")
class TextToImageDiffusion(DiffusionSamplingMixin, PresetMixin, BuildBeforeTracingMixin,
                           keras.Model):
    """Text-to-image denoising diffusion: a U-Net conditioned on text tokens.

    Training (`compile(optimizer=...)` then `fit` on `{"images", "token_ids"}`,
    images float in `[-1, 1]`): each step draws a timestep `t ~ U{0, T-1}`
    and noise `eps ~ N(0, I)` per image, forms `x_t = sqrt(a_t) x_0 +
    sqrt(1 - a_t) eps` (`a = alphas_cumprod` of `beta_schedule`), replaces
    the prompt by the empty prompt with probability `prompt_dropout`
    (classifier-free guidance, Ho & Salimans) and minimises the MSE between
    the U-Net's output and its target (no `loss` is needed): the noise
    `eps` (`prediction_type="epsilon"`, DDPM's simple loss) or the velocity
    `v = sqrt(a_t) eps - sqrt(1 - a_t) x_0` (`"v"`, Salimans & Ho), whose
    loss is `(1 + SNR)` times the clean-image error and so keeps weight
    on the high-noise steps where the layout and colours are decided
    (the noise loss is `SNR` times it, vanishing there).
    `loss_weighting="min_snr"` multiplies each image's loss by Min-SNR-5
    (Hang et al.: the clean-image weight becomes `min(SNR, 5)`).
    The empty prompt is all `pad_token_id`.

    Networks: a text encoder gives text tokens, which the U-Net
    (`kerasmm.models.diffusion.denoiser.build_unet`: ResBlocks and
    `ImageTextAttention`, i.e. `kerasmm.layers.SelfAttention` then
    `CrossAttention` to the tokens, with the text padding mask) reads at
    the levels in `attention_levels`. Without `text_encoder` the model
    owns a small bidirectional transformer; otherwise any Keras model
    mapping `token_ids` to tokens `(B, L, D)`, or to a dict with `"tokens"`
    (e.g. `kerasmm.models.TextTransformer(..., output_tokens=True)`), is
    used, followed by a Dense to `text_hidden_dim`. Freeze a pretrained
    tower with `text_encoder.trainable = False` before `compile`. The text
    padding mask is `token_ids != pad_token_id` (position 0 always kept).

    Sampling: `generate` (DDIM / DDPM, classifier-free guidance, one
    compiled loop per shape; see `DiffusionSamplingMixin`).

    EMA: `compile(optimizer=keras.optimizers.AdamW(..., use_ema=True))`
    keeps an exponential moving average of the weights in the optimizer;
    at the end of `fit` Keras copies the averages into the model's weights
    (`optimizer.finalize_variable_values`), so `generate`, `save` and
    `save_to_preset` after `fit` use the EMA weights (`ema_overwrite_frequency`
    also copies them every N steps during training).

    Args:
        image_shape: `(H, W, C)`, H and W multiples of 8, C 1 or 3.
        vocabulary_size, context_length: of the token ids (own text encoder;
            the ids are checked against `vocabulary_size` in any case).
        hidden_dim: int, U-Net width at full resolution.
        channel_multipliers: widths of the levels in units of `hidden_dim`
            (1 to 4 levels; each extra level halves the resolution).
        attention_levels: levels with attention (None: every level but
            the first).
        num_heads: int, attention heads (U-Net and own text encoder).
        num_groups: int, GroupNorm groups; must divide every U-Net width.
        text_hidden_dim: int, width of the text tokens the U-Net reads.
        text_num_layers: int, blocks of the own text encoder.
        text_encoder: None or a Keras model (see above).
        pooled_text: bool, also condition every ResBlock on the mean of the
            unmasked text tokens, added to the timestep embedding (global
            conditioning beside cross-attention; False: cross-attention only).
        num_train_timesteps: int, `T`.
        beta_schedule: `"cosine"` (Nichol & Dhariwal) or `"linear"` (DDPM).
        prompt_dropout: float in [0, 1), classifier-free guidance dropout.
        pad_token_id: int, the padding id (the empty prompt).
        dropout: float in [0, 1), in ResBlocks and attention blocks.
        seed: int or None, seed of the training noise.
        prediction_type: `"epsilon"` (the U-Net predicts the noise) or `"v"`.
        loss_weighting: `"none"` or `"min_snr"` (gamma 5).

    Call arguments:
        inputs: dict with `"images"` float `(B, H, W, C)` in [-1, 1] and
            `"token_ids"` int `(B, L)`.
        training: Python bool (prompt dropout applies only in training).

    Returns:
        dict of float32: `"noise"` (the noise drawn) and `"predicted_noise"`
        (the model's, converted from `v` if needed), `"target"` and
        `"prediction"` `(B, H, W, C)` (what the built-in loss compares) and
        `"loss_weight"` `(B,)`.

    Example:
    >>> model = TextToImageDiffusion((16, 16, 1), vocabulary_size=32, context_length=8,
    ...     hidden_dim=8, channel_multipliers=(1, 2), num_heads=2, num_groups=4,
    ...     text_hidden_dim=8, text_num_layers=1)
    >>> model.compile(optimizer=keras.optimizers.AdamW(1e-3, use_ema=True))
    >>> images = np.random.uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    >>> token_ids = np.array([[1, 5, 2, 0, 0, 0, 0, 0]] * 2, "int32")
    >>> # model.fit({"images": images, "token_ids": token_ids}, epochs=1)
    >>> # model.generate(token_ids, num_steps=50, guidance_scale=3.0, seed=0)
    >>> tuple(model({"images": images, "token_ids": token_ids})["predicted_noise"].shape)
    (2, 16, 16, 1)

    Reference:
        Ho et al., "Denoising Diffusion Probabilistic Models", 2020; Song et
        al., "Denoising Diffusion Implicit Models", 2021; Nichol & Dhariwal,
        "Improved Denoising Diffusion Probabilistic Models", 2021; Ho &
        Salimans, "Classifier-Free Diffusion Guidance", 2022; Rombach et
        al., "High-Resolution Image Synthesis with Latent Diffusion Models", 2022.
    """

    family_presets = DIFFUSION_PRESETS

    def __init__(self, image_shape, vocabulary_size, context_length, hidden_dim=32,
                 channel_multipliers=(1, 2, 2), attention_levels=None, num_heads=4,
                 num_groups=8, text_hidden_dim=64, text_num_layers=2, text_encoder=None,
                 num_train_timesteps=1000, beta_schedule="cosine", prompt_dropout=0.1,
                 pad_token_id=0, dropout=0.0, seed=None, pooled_text=False,
                 prediction_type="epsilon", loss_weighting="none", **kwargs):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(image_shape)
        self.vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
        self.context_length = check_positive_int("context_length", context_length)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.channel_multipliers = check_int_tuple("channel_multipliers", channel_multipliers)
        levels = len(self.channel_multipliers)
        if levels > 4:
            raise ValueError("channel_multipliers must have 1 to 4 entries (H and W are "
                             "multiples of 8: at most 3 halvings). Received: "
                             f"channel_multipliers={channel_multipliers!r}")
        if attention_levels is None:
            attention_levels = tuple(range(1, levels)) or (0,)
        self.attention_levels = tuple(check_int(f"attention_levels[{i}]", level, minimum=0)
                                      for i, level in enumerate(attention_levels))
        if any(level >= levels for level in self.attention_levels):
            raise ValueError(f"attention_levels must be levels in [0, {levels}). Received: "
                             f"attention_levels={attention_levels!r}")
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.num_groups = check_positive_int("num_groups", num_groups)
        for width in {hidden_dim * m for m in self.channel_multipliers}:
            for divisor_name, divisor in (("num_groups", num_groups), ("num_heads", num_heads)):
                if width % divisor:
                    raise ValueError(
                        f"{divisor_name} must divide every U-Net width (hidden_dim * "
                        f"channel_multipliers). Received: {divisor_name}={divisor}, "
                        f"width={width}")
        self.text_hidden_dim = check_positive_int("text_hidden_dim", text_hidden_dim)
        if text_hidden_dim % num_heads:
            raise ValueError("num_heads must divide text_hidden_dim. Received: "
                             f"num_heads={num_heads}, text_hidden_dim={text_hidden_dim}")
        self.text_num_layers = check_int("text_num_layers", text_num_layers, minimum=0)
        self.num_train_timesteps = check_positive_int("num_train_timesteps",
                                                      num_train_timesteps)
        self.beta_schedule = check_choice("beta_schedule", beta_schedule,
                                          schedules.BETA_SCHEDULES)
        self.prompt_dropout = check_rate("prompt_dropout", prompt_dropout)
        self.pad_token_id = check_int("pad_token_id", pad_token_id, minimum=0)
        self.dropout = check_rate("dropout", dropout)
        self.seed = check_int("seed", seed, allow_none=True)
        self.pooled_text = check_bool("pooled_text", pooled_text)
        self.prediction_type = check_choice("prediction_type", prediction_type,
                                            PREDICTION_TYPES)
        self.loss_weighting = check_choice("loss_weighting", loss_weighting, LOSS_WEIGHTINGS)
        self.alphas_cumprod = schedules.alphas_cumprod(
            schedules.betas(beta_schedule, num_train_timesteps))

        # === Layers ===
        dtype = self.dtype_policy
        self.owns_text_encoder = text_encoder is None
        self.text_projection = None
        if text_encoder is None:
            text_encoder = build_text_encoder(
                vocabulary_size, context_length, text_hidden_dim, self.text_num_layers,
                num_heads, dropout, dtype=dtype)
        else:
            check_layer("text_encoder", text_encoder)
            tokens = self._text_tokens(text_encoder, ops.zeros((1, context_length), "int32"))
            self.text_projection = keras.layers.Dense(text_hidden_dim, name="text_projection",
                                                      dtype=dtype)
            self.text_projection.build(tokens.shape)
        self.text_encoder = text_encoder
        self.unet = build_unet(self.image_shape, text_hidden_dim, hidden_dim,
                               self.channel_multipliers, self.attention_levels, num_heads,
                               num_groups, dropout, pooled_text=self.pooled_text,
                               dtype=dtype)
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        self.noise_loss = keras.losses.MeanSquaredError(name="noise_mse")
        self.built = True

    # === Text ===

    @staticmethod
    def _text_tokens(encoder, token_ids, **kwargs):
        tokens = encoder(token_ids, **kwargs)
        if isinstance(tokens, dict):
            tokens = tokens["tokens"]
        if len(tokens.shape) != 3:
            raise ValueError("text_encoder must return tokens (batch, length, width) or a "
                             "dict with 'tokens'. Received: text_encoder output with shape "
                             f"{tuple(tokens.shape)}")
        return tokens

    def check_token_ids(self, token_ids):
        """`token_ids` as an int32 `(B, L)` tensor, `L <= context_length`, ids checked."""
        token_ids = ops.convert_to_tensor(token_ids)
        check_rank("token_ids", token_ids.shape, 2)
        if token_ids.shape[1] is not None and token_ids.shape[1] > self.context_length:
            raise ValueError(f"token_ids must be at most context_length={self.context_length} "
                             f"long. Received: token_ids with shape {tuple(token_ids.shape)}")
        return ops.cast(check_token_ids("token_ids", token_ids, self.vocabulary_size), "int32")

    def encode_text(self, token_ids, training=False):
        """`(tokens (B, L, text_hidden_dim), mask (B, L))` the U-Net attends to."""
        token_ids = ops.convert_to_tensor(token_ids)
        positions = ops.arange(ops.shape(token_ids)[1])[None, :]
        mask = ops.logical_or(token_ids != self.pad_token_id, positions == 0)
        if self.owns_text_encoder:
            tokens = self.text_encoder({"token_ids": token_ids, "padding_mask": mask},
                                       training=training)
        else:
            tokens = self.text_projection(
                self._text_tokens(self.text_encoder, token_ids, training=training))
        return tokens, mask

    def empty_prompt(self, token_ids):
        """The unconditional prompt of classifier-free guidance: all `pad_token_id`."""
        return ops.full_like(token_ids, self.pad_token_id)

    # === Forward ===

    def denoise(self, noisy_images, timesteps, token_ids, training=False):
        """Predicted noise float32 `(B, H, W, C)` of `x_t` at `timesteps` `(B,)`."""
        tokens, mask = self.encode_text(token_ids, training=training)
        noisy_images = ops.cast(ops.convert_to_tensor(noisy_images), "float32")
        return self.unet([noisy_images, ops.cast(ops.convert_to_tensor(timesteps), "float32"),
                          tokens, mask], training=training)

    def call(self, inputs, training=None):
        if not isinstance(inputs, dict) or not {"images", "token_ids"} <= set(inputs):
            received = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError("inputs must be a dict with the keys 'images' and 'token_ids'. "
                             f"Received: {received}")
        images = ops.convert_to_tensor(inputs["images"])
        check_images("images", images.shape, self.image_shape,
                     f"image_shape={self.image_shape}", images.dtype)
        token_ids = self.check_token_ids(inputs["token_ids"])
        images = ops.cast(images, "float32")
        batch = ops.shape(images)[0]
        timesteps = keras.random.randint((batch,), 0, self.num_train_timesteps,
                                         seed=self.seed_generator)
        noise = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        if training and self.prompt_dropout > 0:
            dropped = keras.random.uniform((batch,), seed=self.seed_generator)
            token_ids = ops.where((dropped < self.prompt_dropout)[:, None],
                                  self.empty_prompt(token_ids), token_ids)
        alpha = ops.take(ops.convert_to_tensor(self.alphas_cumprod), timesteps)[:, None, None,
                                                                               None]
        noisy = ops.sqrt(alpha) * images + ops.sqrt(1.0 - alpha) * noise
        prediction = self.denoise(noisy, timesteps, token_ids, training=training)
        target, predicted_noise = noise, prediction
        if self.prediction_type == "v":
            target = samplers.velocity(images, noise, alpha)
            _, predicted_noise = samplers.original_and_noise_from_velocity(
                noisy, prediction, alpha)
        return {"noise": noise, "predicted_noise": predicted_noise, "target": target,
                "prediction": prediction, "loss_weight": self.loss_weight(alpha[:, 0, 0, 0])}

    def loss_weight(self, alpha_prod_t):
        """Per-image loss weights `(B,)` at `alpha_bar_t`: 1, or Min-SNR-gamma
        (Hang et al.): `min(SNR, gamma) / SNR` for the noise loss,
        `min(SNR, gamma) / (SNR + 1)` for the v loss, `SNR = a / (1 - a)`."""
        if self.loss_weighting == "none":
            return ops.ones_like(alpha_prod_t)
        snr = alpha_prod_t / ops.maximum(1.0 - alpha_prod_t, 1e-12)
        clipped = ops.minimum(snr, MIN_SNR_GAMMA)
        return clipped / (snr + 1.0) if self.prediction_type == "v" else clipped / snr

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """`mean(w (target - prediction)^2)` (DDPM's simple loss for the noise,
        `w = 1`), plus any layer losses.

        `keras.losses.Loss.__call__` averages over the local batch and
        scales for the replicas of a distribution strategy, as Keras'
        compiled loss would.
        """
        if y_pred is None:
            y_pred = self(x, training=training)
        scale = ops.sqrt(y_pred["loss_weight"])[:, None, None, None]
        loss = ops.cast(self.noise_loss(scale * y_pred["target"],
                                        scale * y_pred["prediction"], sample_weight), "float32")
        for extra in self.losses:
            loss = loss + ops.cast(self._aggregate_additional_loss(extra), "float32")
        return loss

    def fit(self, *args, **kwargs):
        history = super().fit(*args, **kwargs)
        if keras.backend.backend() == "jax" and getattr(self.optimizer, "use_ema", False):
            # Keras ends `fit` by assigning each EMA array to its weight: on JAX both
            # then share one buffer, which the next `fit` donates twice (an
            # INVALID_ARGUMENT error). Copies keep them apart.
            for variable in self.trainable_variables:
                variable.assign(ops.copy(variable.value))
        return history

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "image_shape", "vocabulary_size", "context_length", "hidden_dim",
            "channel_multipliers", "attention_levels", "num_heads", "num_groups",
            "text_hidden_dim", "text_num_layers", "num_train_timesteps", "beta_schedule",
            "prompt_dropout", "pad_token_id", "dropout", "seed", "pooled_text",
            "prediction_type", "loss_weighting")})
        config["text_encoder"] = None if self.owns_text_encoder else (
            keras.saving.serialize_keras_object(self.text_encoder))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("text_encoder"), dict):
            config["text_encoder"] = keras.saving.deserialize_keras_object(
                config["text_encoder"])
        return cls(**config)
