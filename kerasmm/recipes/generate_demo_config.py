"""`GenerateDemoConfig`: every value of the text-to-image demo (`kerasmm demo generate`)."""

import dataclasses

from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_int_tuple
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rate
from kerasmm.utils.constants import DIFFUSION_LOSS_WEIGHTINGS
from kerasmm.utils.constants import DIFFUSION_PREDICTION_TYPES
from kerasmm.utils.constants import DIFFUSION_SAMPLERS


@dataclasses.dataclass(frozen=True)
class GenerateDemoConfig:
    """The text-to-image demo's model, training, sampling and scoring, in one place.

    A small `kerasmm.models.TextToImageDiffusion` learns the single-shape
    scenes of the shapes train split (32x32x3, their captions as prompts:
    "a red circle", "a photo of a small blue square on the left", ...) with
    `fit`; the `HELD_OUT_COMBOS` never appear in training. It then draws
    `num_samples` images for each of the 30 prompts "a {colour} {shape}"
    and one image for each of `num_test` single-shape captions of the test
    split, and scores them with the shapes reader and the shipped
    `shapes_clip_tiny` CLIP (`kerasmm.recipes.shapes_scoring`). The
    defaults are the demo; `GenerateDemoConfig.small()` runs in seconds
    for tests (its numbers mean nothing); `weights/train_shapes_diffusion_tiny.py`
    trains the shipped preset with `GenerateDemoConfig.shipped()`.

    Example:

    >>> config = GenerateDemoConfig.small(seed=3)
    >>> config.image_size, config.seed
    (32, 3)
    """

    # === Model ===
    image_size: int = 32
    hidden_dim: int = 16  # U-Net width at full resolution
    channel_multipliers: tuple = (1, 2, 4)  # 32, 16, 8 pixels
    attention_levels: tuple = (2,)  # self- and cross-attention at 8x8 only
    num_heads: int = 4
    num_groups: int = 8
    text_hidden_dim: int = 32
    text_num_layers: int = 1
    prompt_dropout: float = 0.1  # classifier-free guidance
    pooled_text: bool = True  # the mean text token also joins the timestep embedding
    prediction_type: str = "epsilon"  # or "v" (velocity)
    loss_weighting: str = "none"  # or "min_snr"

    # === Training ===
    num_train_scenes: int = 20000  # train-split scenes drawn; about half single-shape
    epochs: int = 4
    steps_per_epoch: int = 200
    batch_size: int = 32
    learning_rate: float = 2e-3  # peak; cosine decay to 5% of it
    warmup_fraction: float = 0.05  # of the steps, linear warmup from 10% of the peak
    ema_momentum: float = 0.995  # EMA of the weights used for sampling
    run_eagerly: bool = False  # small(): a few steps cost less eagerly than traced
    seed: int = 0

    # === Sampling and scoring ===
    num_steps: int = 50
    guidance_scale: float = 3.0
    sampler: str = "ddim"
    num_samples: int = 8  # per combination prompt
    num_test: int = 100  # single-shape test captions, one image each

    # === Output ===
    output_dir: str = "kerasmm_generate_demo"
    overwrite: bool = False
    png_filename: str = "samples.png"

    def __post_init__(self):
        for name in ("image_size", "hidden_dim", "num_heads", "num_groups", "text_hidden_dim",
                     "text_num_layers", "num_train_scenes",
                     "epochs", "steps_per_epoch", "batch_size", "num_steps", "num_samples"):
            check_positive_int(name, getattr(self, name))
        check_int("num_test", self.num_test, minimum=0)
        check_int("seed", self.seed, minimum=0)
        check_rate("prompt_dropout", self.prompt_dropout)
        check_rate("warmup_fraction", self.warmup_fraction)
        check_rate("ema_momentum", self.ema_momentum)
        check_bool("pooled_text", self.pooled_text)
        check_bool("run_eagerly", self.run_eagerly)
        check_number("learning_rate", self.learning_rate, minimum=0, exclusive_minimum=True)
        check_number("guidance_scale", self.guidance_scale, minimum=0)
        check_choice("sampler", self.sampler, DIFFUSION_SAMPLERS)
        check_choice("prediction_type", self.prediction_type, DIFFUSION_PREDICTION_TYPES)
        check_choice("loss_weighting", self.loss_weighting, DIFFUSION_LOSS_WEIGHTINGS)
        check_bool("overwrite", self.overwrite)
        for name in ("output_dir", "png_filename"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string. Received: {name}={value!r}")
        object.__setattr__(self, "attention_levels",
                           check_int_tuple("attention_levels", self.attention_levels))
        object.__setattr__(self, "channel_multipliers",
                           check_int_tuple("channel_multipliers", self.channel_multipliers))

    @classmethod
    def shipped(cls, **overrides):
        """The recipe of the shipped `shapes_diffusion_tiny` preset: a wider U-Net
        (width 32, attention at 16x16 and 8x8) predicting v with min-SNR loss
        weights, 8,000 steps, EMA 0.999, scored with 25 DDIM steps."""
        values = {"hidden_dim": 32, "channel_multipliers": (1, 2, 2),
                  "attention_levels": (1, 2), "prediction_type": "v",
                  "loss_weighting": "min_snr", "epochs": 16, "steps_per_epoch": 500,
                  "ema_momentum": 0.999, "num_steps": 25}
        return cls(**{**values, **overrides})

    @classmethod
    def small(cls, **overrides):
        """The demo in seconds (`kerasmm demo generate --small`)."""
        values = {"hidden_dim": 8, "channel_multipliers": (1, 2), "attention_levels": (1,),
                  "num_heads": 2,
                  "num_groups": 4, "text_hidden_dim": 8, "num_train_scenes": 64, "epochs": 1,
                  "steps_per_epoch": 2, "batch_size": 8, "num_steps": 2, "num_samples": 2,
                  "num_test": 4, "run_eagerly": True}
        return cls(**{**values, **overrides})
