"""Linear warmup then cosine decay (open_clip's `cosine_lr`)."""

import math

import keras
from keras import ops

from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasmm")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to a peak, then a half cosine down to a final rate.

    At optimizer step `s` (0-based, Keras' `optimizer.iterations`), with
    `W = warmup_steps` and `D = decay_steps`:

        s < W:      peak * (s + 1) / W
        s >= W:     final + (peak - final) * (1 + cos(pi * min(s - W, D) / D)) / 2

    and `final` after `W + D` steps. With `final_learning_rate=0` and
    `D = total_steps - W` this is open_clip's `cosine_lr` step for step
    (its warmup reaches `peak / W` at step 0, not 0, so no step is wasted).
    Keras' `CosineDecay(warmup_steps=...)` differs: its warmup starts at
    `initial_learning_rate` (0 for a warmup from nothing), one step later.

    Args:
        peak_learning_rate: float > 0, the rate at the end of warmup.
        warmup_steps: int >= 0, steps of linear warmup (0: none).
        decay_steps: int > 0, steps of cosine decay after the warmup.
        final_learning_rate: float in [0, peak_learning_rate], the rate
            the decay ends at and stays at.
        name: optional name of the schedule.

    Example:

    >>> schedule = WarmupCosineDecay(1e-3, warmup_steps=2, decay_steps=4,
    ...                              final_learning_rate=1e-4)
    >>> [round(float(schedule(step)), 6) for step in range(8)]
    [0.0005, 0.001, 0.001, 0.000868, 0.00055, 0.000232, 0.0001, 0.0001]
    """

    def __init__(self, peak_learning_rate, warmup_steps, decay_steps,
                 final_learning_rate=0.0, name="warmup_cosine_decay"):
        super().__init__()
        self.peak_learning_rate = check_number(
            "peak_learning_rate", peak_learning_rate, minimum=0,
            exclusive_minimum=True)
        self.warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
        self.decay_steps = check_positive_int("decay_steps", decay_steps)
        self.final_learning_rate = check_number(
            "final_learning_rate", final_learning_rate, minimum=0)
        if self.final_learning_rate > self.peak_learning_rate:
            raise ValueError(
                "final_learning_rate must be <= peak_learning_rate. Received: "
                f"final_learning_rate={final_learning_rate}, "
                f"peak_learning_rate={peak_learning_rate}"
            )
        self.name = name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak, final = self.peak_learning_rate, self.final_learning_rate
        progress = ops.clip((step - self.warmup_steps) / self.decay_steps, 0.0, 1.0)
        decayed = final + (peak - final) * 0.5 * (1.0 + ops.cos(math.pi * progress))
        if not self.warmup_steps:
            return decayed
        warmup = peak * (step + 1.0) / self.warmup_steps
        return ops.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "final_learning_rate": self.final_learning_rate,
            "name": self.name,
        }
