"""The `kerasmm` command: `python -m kerasmm demo` end to end, and its errors."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasmm import cli
from kerasmm import demo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIRED_KEYS = ("zero_shot_accuracy", "i2t_recall@1", "i2t_recall@5", "t2i_recall@1",
                 "t2i_recall@5", "train_seconds", "model_path")


def _run(*args, cwd, timeout=900):
    """`python -m kerasmm *args` with this checkout first on the path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [REPO] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return subprocess.run([sys.executable, "-m", "kerasmm", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _last_json_line(stdout):
    lines = [line for line in stdout.splitlines() if line.strip()]
    results = json.loads(lines[-1])
    assert isinstance(results, dict)
    return results


def _check_results(results, output_dir):
    for key in REQUIRED_KEYS + ("zero_shot_accuracy_held_out", "png_path"):
        assert key in results, key
    for key in REQUIRED_KEYS[:5] + ("zero_shot_accuracy_held_out",):
        assert 0.0 <= results[key] <= 1.0, (key, results[key])
    assert results["train_seconds"] > 0
    assert results["model_path"] == str(output_dir / demo.MODEL_FILENAME)
    with open(results["png_path"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_demo_small_json(tmp_path):
    output_dir = tmp_path / "out"
    run = _run("demo", "--small", "--json", "--output-dir", str(output_dir), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    results = _last_json_line(run.stdout)
    _check_results(results, output_dir)
    assert results["epochs"] == demo.SMALL_TRAINING["epochs"]
    assert results["backend"] == keras.backend.backend()
    assert "zero-shot accuracy" in run.stdout  # the table came first

    # The saved model reproduces the reported numbers: its embeddings are
    # the ones the command evaluated (JSON values are rounded to 1e-4).
    clip = keras.saving.load_model(results["model_path"])
    again = demo.evaluate_clip(clip, image_size=demo.DEMO_MODEL["image_size"],
                               num_per_class=demo.SMALL_TRAINING["num_per_class"],
                               num_test=demo.SMALL_TRAINING["num_test"])
    for key in REQUIRED_KEYS[:5] + ("zero_shot_accuracy_held_out",):
        assert again[key] == pytest.approx(results[key], abs=1e-4), key
    # And a second save/load round trip keeps the embeddings to 1e-6.
    path = str(tmp_path / "again.keras")
    clip.save(path)
    reloaded = keras.saving.load_model(path)
    images = np.random.default_rng(0).normal(size=(3, 32, 32, 3)).astype("float32")
    token_ids = np.tile(np.arange(1, 17, dtype="int32"), (3, 1))
    for method in ("encode_image", "encode_text"):
        inputs = images if method == "encode_image" else token_ids
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(getattr(reloaded, method)(inputs)),
            keras.ops.convert_to_numpy(getattr(clip, method)(inputs)), atol=1e-6)


@pytest.mark.parametrize("args, name", [
    (["--epochs", "-1"], "--epochs"),
    (["--epochs", "0"], "--epochs"),
    (["--steps-per-epoch", "-3"], "--steps-per-epoch"),
    (["--batch-size", "many"], "--batch-size"),
    (["--seed", "-2"], "--seed"),
    (["--unknown"], "--unknown"),
])
def test_bad_arguments_name_the_argument(args, name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", *args])
    assert exit_info.value.code == 2
    assert name in capsys.readouterr().err


def test_no_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert "command" in capsys.readouterr().err


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--epochs", "--steps-per-epoch", "--batch-size", "--seed",
                   "--output-dir", "--small", "--json"):
        assert option in out


@pytest.mark.slow
def test_bad_argument_exits_nonzero_from_the_command_line(tmp_path):
    run = _run("demo", "--epochs", "-1", cwd=tmp_path, timeout=300)
    assert run.returncode == 2
    assert "--epochs" in run.stderr and "positive integer" in run.stderr


@pytest.mark.slow
def test_full_demo_reaches_its_target(tmp_path):
    """The real `kerasmm demo`: zero-shot accuracy >= 0.9 (a few minutes)."""
    output_dir = tmp_path / "full"
    run = _run("demo", "--json", "--output-dir", str(output_dir), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    results = _last_json_line(run.stdout)
    _check_results(results, output_dir)
    assert results["epochs"] == demo.DEMO_TRAINING["epochs"]
    assert results["zero_shot_accuracy"] >= 0.9, results
