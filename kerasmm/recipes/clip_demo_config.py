"""`ClipDemoConfig`: every value of the CLIP demo (`kerasmm demo`), once."""

import dataclasses
import math

from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_int_tuple
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rate
from kerasmm.utils.checks import check_strings


@dataclasses.dataclass(frozen=True)
class ClipDemoConfig:
    """The CLIP demo's model, training, evaluation and output, in one place.

    A small CLIP (`kerasmm.models.build_conv_encoder` and a tiny
    `TextTransformer`) learns the embedded shapes dataset. The defaults are
    the demo (`kerasmm demo`, about 600 steps, minutes on two CPU cores) and
    the shipped `shapes_clip_tiny` weights; `ClipDemoConfig.small()` is the
    same recipe in seconds, for tests (its numbers mean nothing). Change a
    value with `dataclasses.replace(config, epochs=2)`.

    Example:

    >>> config = ClipDemoConfig.small(seed=3)
    >>> config.epochs, config.image_size, config.seed
    (1, 32, 3)
    """

    # === Model ===
    image_size: int = 32
    conv_widths: tuple = (16, 32, 64)
    color_width: int = 8
    embedding_dim: int = 64
    text_hidden_dim: int = 64
    text_num_layers: int = 2
    text_num_heads: int = 4
    # Sharper than CLIP's 1 / 0.07: a short run has no time to learn it.
    logit_scale_init: float = math.log(30.0)

    # === Training: 4 passes over the 20k train examples ===
    epochs: int = 4
    steps_per_epoch: int = 156
    batch_size: int = 128
    learning_rate: float = 4e-3  # peak, after a linear warmup; cosine decay
    warmup_fraction: float = 0.1
    seed: int = 0  # initial weights and shuffling

    # === Evaluation ===
    num_per_class: int = 20  # zero-shot images per colour x shape class
    num_test: int = 2000  # test examples for retrieval and the PNG
    eval_batch_size: int = 256
    retrieval_queries: tuple = (
        "a red triangle",  # held out of training
        "a purple diamond",  # held out of training
        "a green square",
        "a big white circle",
        "a blue cross above a yellow circle",
    )
    retrieval_k: int = 6  # images per query in the PNG

    # === Output ===
    output_dir: str = "kerasmm_demo"
    overwrite: bool = False  # write over earlier results in output_dir
    model_filename: str = "shapes_clip.keras"
    png_filename: str = "retrievals.png"

    def __post_init__(self):
        for name in ("image_size", "color_width", "embedding_dim", "text_hidden_dim",
                     "text_num_layers", "text_num_heads", "epochs", "steps_per_epoch",
                     "batch_size", "num_per_class", "num_test", "eval_batch_size",
                     "retrieval_k"):
            check_positive_int(name, getattr(self, name))
        check_int("seed", self.seed, minimum=0)
        check_number("logit_scale_init", self.logit_scale_init)
        check_number("learning_rate", self.learning_rate, minimum=0, exclusive_minimum=True)
        check_rate("warmup_fraction", self.warmup_fraction)
        check_bool("overwrite", self.overwrite)
        for name in ("output_dir", "model_filename", "png_filename"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string. Received: {name}={value!r}")
        # Frozen: normalise the sequences with object.__setattr__ (lists become tuples).
        object.__setattr__(self, "conv_widths", check_int_tuple("conv_widths", self.conv_widths))
        object.__setattr__(self, "retrieval_queries",
                           tuple(check_strings("retrieval_queries", self.retrieval_queries)))

    @classmethod
    def small(cls, **overrides):
        """The demo in seconds (`kerasmm demo --small`): 3 steps of 16, small evaluation."""
        values = {"epochs": 1, "steps_per_epoch": 3, "batch_size": 16,
                  "num_per_class": 2, "num_test": 64}
        return cls(**{**values, **overrides})
