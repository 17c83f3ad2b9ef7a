"""A Perceiver IO fills in masked bytes of the shapes captions.

Masked byte modelling on `masked_bytes_dataset`; the loss counts masked
bytes only (the dataset's sample weights).
"""

import dataclasses

import keras

from kerasmm.datasets import masked_bytes_dataset
from kerasmm.layers import MaskedLMDecoder
from kerasmm.layers import TextAdapter
from kerasmm.models import PerceiverIO
from kerasmm.recipes.clock import Clock
from kerasmm.utils.checks import check_divisible
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int


@dataclasses.dataclass(frozen=True)
class PerceiverMaskedBytesConfig:
    """The masked byte modelling job; `small()` is a smoke run of it.

    Example:

    >>> PerceiverMaskedBytesConfig.small().steps
    30
    """

    # === Data ===
    sequence_length: int = 64  # bytes per text
    num_examples: int = 2048  # training texts
    num_heldout_batches: int = 4  # drawn with seed + 1

    # === Model (tied embeddings) ===
    embedding_dim: int = 64
    num_latents: int = 32
    latent_dim: int = 64
    num_self_attends_per_block: int = 2
    num_heads: int = 4

    # === Training ===
    steps: int = 100
    log_every: int = 10  # steps per `fit` epoch: one logged loss each
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0  # Keras, the corpus and the masking

    def __post_init__(self):
        for name in ("sequence_length", "num_examples", "num_heldout_batches",
                     "embedding_dim", "num_latents", "latent_dim",
                     "num_self_attends_per_block", "num_heads", "steps", "log_every",
                     "batch_size"):
            check_positive_int(name, getattr(self, name))
        check_divisible("steps", self.steps, "log_every", self.log_every)
        check_number("learning_rate", self.learning_rate, minimum=0, exclusive_minimum=True)
        check_int("seed", self.seed, minimum=0)

    @classmethod
    def small(cls, **overrides):
        """30 steps on 512 texts of 32 bytes."""
        values = {"sequence_length": 32, "num_examples": 512, "steps": 30}
        return cls(**{**values, **overrides})


def build_masked_byte_model(config):
    """A small `PerceiverIO(TextAdapter, MaskedLMDecoder)` with tied embeddings."""
    return PerceiverIO(
        TextAdapter(max_sequence_length=config.sequence_length,
                    embedding_dim=config.embedding_dim),
        MaskedLMDecoder(max_sequence_length=config.sequence_length,
                        num_heads=config.num_heads),
        num_latents=config.num_latents, latent_dim=config.latent_dim, num_blocks=1,
        num_self_attends_per_block=config.num_self_attends_per_block,
        num_cross_attention_heads=config.num_heads,
        num_self_attention_heads=config.num_heads)


def train_masked_bytes(config=None, verbose=0):
    """Masked byte modelling of the shapes captions for `config.steps` steps.

    The loss is the cross-entropy over masked bytes only (the dataset's
    sample weights), with Keras's default reduction: summed over masked
    bytes and divided by all `batch_size * sequence_length` positions (so
    it is several times smaller than the per-masked-byte cross-entropy).
    `masked_accuracy` is the fraction of masked bytes predicted exactly
    (chance about 1/262).

    Args:
        config: a `PerceiverMaskedBytesConfig` (default: the full job).
        verbose: passed to `fit`.

    Returns:
        dict: `losses` (mean training loss of each block of `log_every`
        steps), `first_loss` / `last_loss` (first and last of them),
        `masked_accuracy` (last block), `heldout_loss_before` /
        `heldout_loss_after` and `heldout_masked_accuracy` (on captions and
        masks drawn with another seed), `steps`, timings and `model`.
    """
    config = config or PerceiverMaskedBytesConfig()
    keras.utils.set_random_seed(config.seed)
    ds = masked_bytes_dataset(batch_size=config.batch_size,
                              sequence_length=config.sequence_length,
                              num_examples=config.num_examples, seed=config.seed)
    heldout = masked_bytes_dataset(batch_size=config.batch_size,
                                   sequence_length=config.sequence_length,
                                   num_examples=config.num_heldout_batches * config.batch_size,
                                   shuffle=False, seed=config.seed + 1)
    model = build_masked_byte_model(config)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(
                      name="masked_accuracy")])
    before = model.evaluate(heldout, verbose=0, return_dict=True)
    with Clock() as clock:
        history = model.fit(ds.repeat(), steps_per_epoch=config.log_every,
                            epochs=config.steps // config.log_every, verbose=verbose,
                            shuffle=False)  # the dataset shuffles itself
    after = model.evaluate(heldout, verbose=0, return_dict=True)
    losses = history.history["loss"]
    return {"losses": losses, "first_loss": losses[0], "last_loss": losses[-1],
            "masked_accuracy": history.history["masked_accuracy"][-1],
            "heldout_loss_before": before["loss"], "heldout_loss_after": after["loss"],
            "heldout_masked_accuracy": after["masked_accuracy"], "steps": config.steps,
            **clock.timings(), "model": model}
