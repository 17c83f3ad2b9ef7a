import math

import keras
import numpy as np
import pytest

from kerasmm.optim import WarmupCosineDecay


def closed_form(step, peak, warmup, decay, final):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(step - warmup, decay) / decay
    return final + (peak - final) * 0.5 * (1 + math.cos(math.pi * progress))


def open_clip_cosine_lr(step, base_lr, warmup_length, steps):
    """open_clip_train/scheduler.py: cosine_lr's _lr_adjuster, transcribed."""
    if step < warmup_length:
        return base_lr * (step + 1) / warmup_length
    e = step - warmup_length
    es = steps - warmup_length
    return 0.5 * (1 + math.cos(math.pi * e / es)) * base_lr


@pytest.mark.parametrize("peak, warmup, decay, final", [
    (1e-3, 10, 90, 0.0), (5e-4, 0, 50, 1e-5), (2.0, 3, 1, 0.5), (1.0, 1, 7, 1.0)])
def test_matches_the_closed_form(peak, warmup, decay, final):
    schedule = WarmupCosineDecay(peak, warmup, decay, final_learning_rate=final)
    steps = [0, 1, warmup - 1, warmup, warmup + 1, warmup + decay // 2,
             warmup + decay - 1, warmup + decay, warmup + decay + 5, 10 * (warmup + decay)]
    for step in sorted({s for s in steps if s >= 0}):
        np.testing.assert_allclose(float(schedule(step)),
                                   closed_form(step, peak, warmup, decay, final),
                                   rtol=1e-6, atol=1e-9, err_msg=f"step {step}")


def test_equals_open_clip_cosine_lr():
    total, warmup = 100, 10
    schedule = WarmupCosineDecay(3e-4, warmup, total - warmup)
    expected = [open_clip_cosine_lr(s, 3e-4, warmup, total) for s in range(total)]
    got = [float(schedule(s)) for s in range(total)]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-10)
    assert got[0] > 0 and max(got) == pytest.approx(3e-4)


def test_drives_an_optimizer_and_serializes():
    schedule = WarmupCosineDecay(1e-2, 2, 8, final_learning_rate=1e-3)
    variable = keras.Variable(np.zeros(2, "float32"))
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    for step in range(4):
        np.testing.assert_allclose(float(keras.ops.convert_to_numpy(optimizer.learning_rate)),
                                   closed_form(step, 1e-2, 2, 8, 1e-3), rtol=1e-6)
        optimizer.apply([keras.ops.ones(2)], [variable])
    # A fresh optimizer from the config: back at step 0 of the same schedule.
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert restored.get_config()["learning_rate"]["class_name"] == "WarmupCosineDecay"
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(restored.learning_rate)),
                               5e-3, rtol=1e-6)
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert again.get_config() == schedule.get_config()


@pytest.mark.parametrize("kwargs, match", [
    ({"peak_learning_rate": 0.0}, "peak_learning_rate"),
    ({"warmup_steps": -1}, "warmup_steps"),
    ({"warmup_steps": 1.5}, "warmup_steps"),
    ({"decay_steps": 0}, "decay_steps"),
    ({"final_learning_rate": -1.0}, "final_learning_rate"),
    ({"final_learning_rate": 2.0}, "final_learning_rate must be <="),
])
def test_bad_arguments(kwargs, match):
    arguments = {"peak_learning_rate": 1.0, "warmup_steps": 2, "decay_steps": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        WarmupCosineDecay(**arguments)
