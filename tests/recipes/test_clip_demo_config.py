"""`ClipDemoConfig`: the demo's values in one frozen dataclass; `format_config`."""

import dataclasses
import math

import pytest

from kerasmm.recipes import ClipDemoConfig
from kerasmm.recipes import format_config


def test_defaults_are_the_demo():
    config = ClipDemoConfig()
    assert (config.image_size, config.epochs, config.steps_per_epoch, config.batch_size) == (
        32, 4, 156, 128)
    assert config.logit_scale_init == pytest.approx(math.log(30.0))
    assert config.output_dir == "kerasmm_demo" and config.overwrite is False


def test_small_changes_only_the_run_length_and_takes_overrides():
    full, small = ClipDemoConfig(), ClipDemoConfig.small()
    changed = {f.name for f in dataclasses.fields(full)
               if getattr(full, f.name) != getattr(small, f.name)}
    assert changed == {"epochs", "steps_per_epoch", "batch_size", "num_per_class", "num_test"}
    assert small.steps_per_epoch * small.batch_size < full.steps_per_epoch * full.batch_size
    assert ClipDemoConfig.small(epochs=3, seed=5).epochs == 3


def test_frozen_and_sequences_normalised():
    config = ClipDemoConfig(conv_widths=[8, 16], retrieval_queries=["a red circle"])
    assert config.conv_widths == (8, 16) and config.retrieval_queries == ("a red circle",)
    assert config == ClipDemoConfig(conv_widths=(8, 16), retrieval_queries=("a red circle",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 2


@pytest.mark.parametrize("changes, name", [
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 1.5}, "batch_size"),
    ({"seed": -1}, "seed"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"warmup_fraction": 1.0}, "warmup_fraction"),
    ({"conv_widths": (16, 0)}, "conv_widths"),
    ({"retrieval_queries": ()}, "retrieval_queries"),
    ({"output_dir": ""}, "output_dir"),
    ({"overwrite": "yes"}, "overwrite"),
])
def test_bad_values_name_the_field(changes, name):
    with pytest.raises(ValueError, match=f"{name}"):
        ClipDemoConfig(**changes)


def test_format_config_prints_every_field_once():
    config = ClipDemoConfig.small(seed=7)
    lines = format_config(config).splitlines()
    assert len(lines) == len(dataclasses.fields(config))
    assert "  seed = 7" in lines and "  epochs = 1" in lines
    assert f"  conv_widths = {config.conv_widths!r}" in lines
