"""The shipped weights' recipe, and the script in weights/ that runs it.

The weights script, the `kerasmm demo` command and the recipe read one
`ClipDemoConfig`; these tests fail if any of them copies a value instead.
"""

import dataclasses
import importlib.util
import json
import os

import keras
import numpy as np
import pytest

from kerasmm import cli
from kerasmm.models import CLIP
from kerasmm.recipes import ClipDemoConfig
from kerasmm.recipes import ShapesClipTinyConfig
from kerasmm.recipes import build_demo_clip
from kerasmm.recipes import format_config
from kerasmm.recipes import shapes_clip_tiny
from kerasmm.recipes import train_shapes_clip_tiny

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "weights", "train_shapes_clip_tiny.py")


@pytest.fixture
def script():
    spec = importlib.util.spec_from_file_location("train_shapes_clip_tiny", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_weights_script_defaults_are_the_recipe_config(script):
    config = script.config_from_args(script.build_parser().parse_args([]))
    assert config == ShapesClipTinyConfig()
    assert config.demo == ClipDemoConfig()
    assert config.output_dir == shapes_clip_tiny.SHIPPED_PRESET_DIR
    assert os.path.isfile(os.path.join(config.output_dir, "config.json"))  # the shipped preset


def test_weights_script_passes_its_options_to_the_recipe(script, monkeypatch, tmp_path,
                                                         capsys):
    seen = []
    monkeypatch.setattr(script, "train_shapes_clip_tiny",
                        lambda config: seen.append(config) or {"zero_shot_accuracy": 0.5})
    script.main(["--seed", "3", "--output-dir", str(tmp_path), "--overwrite"])
    assert seen == [ShapesClipTinyConfig(demo=ClipDemoConfig(seed=3),
                                         output_dir=str(tmp_path), overwrite=True)]
    assert json.loads(capsys.readouterr().out) == {"zero_shot_accuracy": 0.5}


def test_cli_and_weights_script_read_the_same_config(script, capsys):
    default = ClipDemoConfig()
    args = cli.build_parser().parse_args(["demo"])
    assert cli.demo_config(args) == default == script.config_from_args(
        script.build_parser().parse_args([])).demo
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    help_text = capsys.readouterr().out
    assert f"  image_size = {default.image_size}\n" in help_text
    assert format_config(default) in help_text


def _fake_demo(calls):
    """A stand-in for `run_clip_demo`: an untrained demo CLIP, saved as the demo saves it."""

    def run(config, verbose, log):
        calls.append(config)
        clip = build_demo_clip(config)
        path = os.path.join(config.output_dir, config.model_filename)
        clip.save(path)
        calls.append(clip)
        return {key: 0.123456 for key in shapes_clip_tiny.METRIC_KEYS} | {"model_path": path}

    return run


def test_recipe_writes_a_loadable_preset_and_metrics(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(shapes_clip_tiny, "run_clip_demo", _fake_demo(calls))
    config = ShapesClipTinyConfig(demo=ClipDemoConfig.small(seed=2),
                                  output_dir=str(tmp_path / "preset"))
    metrics = train_shapes_clip_tiny(config, log=lambda line: None)
    demo_config, clip = calls
    # The demo ran the config's recipe, in a scratch folder (not the preset's).
    assert demo_config == dataclasses.replace(config.demo, output_dir=demo_config.output_dir)
    assert demo_config.output_dir != config.output_dir
    assert metrics == {key: 0.1235 for key in shapes_clip_tiny.METRIC_KEYS}
    with open(os.path.join(config.output_dir, shapes_clip_tiny.METRICS_FILENAME)) as f:
        assert json.load(f) == {"seed": 2, **metrics}
    loaded = CLIP.from_preset(config.output_dir)
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.encode_image(images)),
                               keras.ops.convert_to_numpy(clip.encode_image(images)),
                               atol=1e-6)


def test_recipe_refuses_a_non_empty_preset_folder_before_training(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(shapes_clip_tiny, "run_clip_demo", _fake_demo(calls))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="output_dir must be a new or empty folder"):
        train_shapes_clip_tiny(ShapesClipTinyConfig(output_dir=str(tmp_path)))
    assert calls == []
