"""`CaptionDemoConfig`: every value of the captioning demo (`kerasmm demo caption`), once."""

import dataclasses

from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_int_tuple
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rate


@dataclasses.dataclass(frozen=True)
class CaptionDemoConfig:
    """The captioning demo's model, training, evaluation and output, in one place.

    A small `kerasmm.models.CoCa` (a convolutional token encoder and a tiny
    text decoder) learns the canonical captions of the shapes dataset
    (`kerasmm.datasets.shapes_caption_dataset`) with `fit` and
    `CoCaLoss`, then captions the test split's scenes, which include the
    colour x shape combinations held out of training. The defaults are the
    demo (minutes on two CPU cores); `CaptionDemoConfig.small()` is the same
    recipe in seconds, for tests (its numbers mean nothing). Change a value
    with `dataclasses.replace(config, epochs=2)`.

    Example:

    >>> config = CaptionDemoConfig.small(seed=3)
    >>> config.epochs, config.image_size, config.seed
    (1, 32, 3)
    """

    # === Model ===
    image_size: int = 32
    conv_widths: tuple = (16, 32, 64)  # image tokens: the last map, (32 / 4)^2 = 64
    color_width: int = 8
    hidden_dim: int = 64
    num_unimodal_layers: int = 1
    num_multimodal_layers: int = 2
    num_heads: int = 4
    output_dim: int = 64
    num_caption_queries: int = 16

    # === Training ===
    epochs: int = 6
    steps_per_epoch: int = 150
    batch_size: int = 64
    learning_rate: float = 2e-3  # peak, after a linear warmup; cosine decay
    warmup_fraction: float = 0.1
    caption_loss_weight: float = 2.0
    contrastive_loss_weight: float = 1.0
    seed: int = 0  # initial weights and shuffling

    # === Evaluation ===
    num_test: int = 1000  # test-split scenes captioned (about half single-shape)
    max_length: int = 15  # generated tokens, end token included
    num_beams: int = 4
    eval_batch_size: int = 250
    num_shown: int = 8  # example captions printed

    # === Output ===
    output_dir: str = "kerasmm_caption_demo"
    overwrite: bool = False  # write over earlier results in output_dir
    model_filename: str = "shapes_coca.keras"

    def __post_init__(self):
        for name in ("image_size", "color_width", "hidden_dim", "num_unimodal_layers",
                     "num_multimodal_layers", "num_heads", "output_dim",
                     "num_caption_queries", "epochs", "steps_per_epoch", "batch_size",
                     "num_test", "max_length", "num_beams", "eval_batch_size"):
            check_positive_int(name, getattr(self, name))
        check_int("num_shown", self.num_shown, minimum=0)
        check_int("seed", self.seed, minimum=0)
        check_number("learning_rate", self.learning_rate, minimum=0, exclusive_minimum=True)
        check_rate("warmup_fraction", self.warmup_fraction)
        for name in ("caption_loss_weight", "contrastive_loss_weight"):
            check_number(name, getattr(self, name), minimum=0)
        check_bool("overwrite", self.overwrite)
        for name in ("output_dir", "model_filename"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string. Received: {name}={value!r}")
        object.__setattr__(self, "conv_widths", check_int_tuple("conv_widths", self.conv_widths))

    @classmethod
    def small(cls, **overrides):
        """The demo in seconds (`kerasmm demo caption --small`): 3 steps of 16, 32 scenes."""
        values = {"epochs": 1, "steps_per_epoch": 3, "batch_size": 16, "num_test": 32,
                  "eval_batch_size": 16, "num_shown": 2, "max_length": 8}
        return cls(**{**values, **overrides})
