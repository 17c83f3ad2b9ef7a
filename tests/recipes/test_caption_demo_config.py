"""`CaptionDemoConfig`: the captioning demo's values in one frozen dataclass."""

import dataclasses
import pytest

from kerasmm.recipes.caption_demo_config import CaptionDemoConfig


def test_small_changes_only_the_run_length():
    full, small = CaptionDemoConfig(), CaptionDemoConfig.small()
    changed = {f.name for f in dataclasses.fields(full)
               if getattr(full, f.name) != getattr(small, f.name)}
    assert changed <= {"epochs", "steps_per_epoch", "batch_size", "num_test",
                       "eval_batch_size", "num_shown", "max_length"}
    assert small.steps_per_epoch * small.batch_size < full.steps_per_epoch * full.batch_size
    assert CaptionDemoConfig.small(epochs=3).epochs == 3
    # Generated captions fit the decoder's positions (context 16 - start).
    assert full.max_length <= 15


@pytest.mark.parametrize("changes, name", [
    ({"epochs": 0}, "epochs"),
    ({"seed": -1}, "seed"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"warmup_fraction": 1.0}, "warmup_fraction"),
    ({"conv_widths": (16, 0)}, "conv_widths"),
    ({"caption_loss_weight": -1.0}, "caption_loss_weight"),
    ({"num_shown": -1}, "num_shown"),
    ({"output_dir": ""}, "output_dir"),
    ({"overwrite": "yes"}, "overwrite"),
])
def test_bad_values_name_the_field(changes, name):
    with pytest.raises(ValueError, match=name):
        CaptionDemoConfig(**changes)
