"""The `kerasmm` command: `python -m kerasmm demo` end to end, its help
(read from `ClipDemoConfig`), its output-folder check, its errors, and its
start-up: help without TensorFlow, commands without TensorFlow's logs."""

import configparser
import dataclasses
import inspect
import json
import logging
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasmm import cli
from kerasmm.recipes import ClipDemoConfig
from kerasmm.recipes import clip_demo
from kerasmm.recipes import evaluate_clip
from kerasmm.recipes import format_config
from kerasmm.utils import quiet
from kerasmm.utils.quiet import is_startup_noise
from kerasmm.utils.quiet import quiet_backend_logs

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
    assert results["model_path"] == str(output_dir / ClipDemoConfig().model_filename)
    with open(results["png_path"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_demo_small_json(tmp_path):
    output_dir = tmp_path / "out"
    run = _run("demo", "--small", "--json", "--output-dir", str(output_dir), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    results = _last_json_line(run.stdout)
    _check_results(results, output_dir)
    small = ClipDemoConfig.small()
    assert results["epochs"] == small.epochs and results["batch_size"] == small.batch_size
    assert results["backend"] == keras.backend.backend()
    assert "zero-shot accuracy" in run.stdout  # the table came first

    # The saved model reproduces the reported numbers: its embeddings are
    # the ones the command evaluated (JSON values are rounded to 1e-4).
    clip = keras.saving.load_model(results["model_path"])
    again = evaluate_clip(clip, small)
    for key in REQUIRED_KEYS[:5] + ("zero_shot_accuracy_held_out",):
        assert again[key] == pytest.approx(results[key], abs=1e-4), key
    # A second run into the same folder is refused, and leaves the results be.
    model_bytes = open(results["model_path"], "rb").read()
    again_run = _run("demo", "--small", "--output-dir", str(output_dir), cwd=tmp_path,
                     timeout=300)
    assert again_run.returncode == 2 and "--overwrite" in again_run.stderr
    assert "Training" not in again_run.stdout
    assert open(results["model_path"], "rb").read() == model_bytes

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


def _demo_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_help_lists_the_options(capsys):
    out = _demo_help(capsys)
    for option in ("--epochs", "--steps-per-epoch", "--batch-size", "--seed",
                   "--output-dir", "--overwrite", "--small", "--json"):
        assert option in out


def test_help_prints_the_config_fields_and_defaults(capsys):
    full, small = ClipDemoConfig(), ClipDemoConfig.small()
    out = _demo_help(capsys)
    assert format_config(full) in out  # every field, one `name = default` line each
    for field in dataclasses.fields(full):
        assert f"  {field.name} = {getattr(full, field.name)!r}\n" in out + "\n"
    words = " ".join(out.split())  # argparse wraps the option help
    assert f"default {full.epochs}; {small.epochs} with --small" in words
    assert f"(default ./{full.output_dir})" in words
    assert f"epochs={small.epochs}, steps_per_epoch={small.steps_per_epoch}" in words


@pytest.mark.parametrize("argv, expected", [
    (["demo"], ClipDemoConfig()),
    (["demo", "clip", "--small"], ClipDemoConfig.small()),
    (["demo", "--small", "--epochs", "2", "--seed", "5", "--output-dir", "x",
      "--overwrite"], ClipDemoConfig.small(epochs=2, seed=5, output_dir="x", overwrite=True)),
    (["demo", "--steps-per-epoch", "7", "--batch-size", "9"],
     ClipDemoConfig(steps_per_epoch=7, batch_size=9)),
])
def test_options_make_the_config(argv, expected):
    assert cli.demo_config(cli.build_parser().parse_args(argv)) == expected


def test_unknown_demo_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "no-such-demo"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def _fake_results(config):
    return {key: 0.5 for key in cli.JSON_KEYS} | {
        "model_path": os.path.join(config.output_dir, config.model_filename),
        "epochs": config.epochs, "seed": config.seed}


def test_non_empty_output_dir_is_refused_before_training(tmp_path, monkeypatch, capsys):
    def must_not_run(*args, **kwargs):
        raise AssertionError("trained before checking the output folder")

    monkeypatch.setattr(clip_demo, "run_clip_demo", must_not_run)
    monkeypatch.setattr(clip_demo, "train_clip", must_not_run)
    (tmp_path / "shapes_clip.keras").write_bytes(b"earlier")
    assert cli.main(["demo", "--small", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "kerasmm demo: error: output_dir must be a new or empty folder" in err
    assert "--overwrite" in err and str(tmp_path) in err
    assert (tmp_path / "shapes_clip.keras").read_bytes() == b"earlier"


def test_overwrite_runs_the_demo_into_the_folder(tmp_path, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(clip_demo, "run_clip_demo",
                        lambda config, verbose, log: seen.append(config) or _fake_results(config))
    (tmp_path / "shapes_clip.keras").write_bytes(b"earlier")
    assert cli.main(["demo", "--small", "--json", "--overwrite",
                     "--output-dir", str(tmp_path)]) == 0
    assert seen == [ClipDemoConfig.small(output_dir=str(tmp_path), overwrite=True)]
    results = _last_json_line(capsys.readouterr().out)
    assert set(results) == set(cli.JSON_KEYS) and results["epochs"] == seen[0].epochs


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
    assert results["epochs"] == ClipDemoConfig().epochs
    assert results["zero_shot_accuracy"] >= 0.9, results


# === kerasmm eval (tests/recipes/test_eval_*.py run the evaluations) ===


@pytest.mark.parametrize("task, class_name", [("zero-shot", "ZeroShotEvalConfig"),
                                              ("retrieval", "RetrievalEvalConfig")])
def test_eval_help_prints_the_config_and_its_defaults(task, class_name, capsys):
    from kerasmm.recipes import evaluation

    config = getattr(evaluation, class_name)()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["eval", task, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert format_config(config) in out
    words = " ".join(out.split())
    assert f"(default {config.preset})" in words and f"(default {config.dataset})" in words
    assert f"(default {config.batch_size})" in words
    for option in ("--preset", "--model", "--dataset", "--split", "--data-dir",
                   "--download", "--num-examples", "--batch-size", "--output", "--json"):
        assert option in out


@pytest.mark.parametrize("argv, expected", [
    (["eval", "zero-shot"], {}),
    (["eval", "zero-shot", "--dataset", "tfds:imagenet_v2", "--split", "test[:10]",
      "--data-dir", "/data", "--download", "--batch-size", "8", "--num-per-class", "3"],
     {"dataset": "tfds:imagenet_v2", "split": "test[:10]", "data_dir": "/data",
      "download": True, "batch_size": 8, "num_per_class": 3}),
    (["eval", "retrieval", "--recall-k", "1", "5", "--num-examples", "10", "--output",
      "r.json", "--preset", "clip_vit_b32_openai"],
     {"recall_k": (1, 5), "num_examples": 10, "output_path": "r.json",
      "preset": "clip_vit_b32_openai"}),
])
def test_eval_options_make_the_config(argv, expected):
    from kerasmm.recipes import evaluation

    config_class = (evaluation.ZeroShotEvalConfig if argv[1] == "zero-shot"
                    else evaluation.RetrievalEvalConfig)
    assert cli.eval_config(cli.build_parser().parse_args(argv)) == config_class(**expected)


@pytest.mark.parametrize("argv, option, words", [
    (["zero-shot", "--dataset", "/no/such/folder"], "--dataset", "existing directory"),
    (["zero-shot", "--dataset", "tfds:no_such_dataset_here"], "--dataset",
     "TFDS has no dataset"),
    (["retrieval", "--dataset", "/no/such/captions.json"], "--dataset", "existing file"),
    (["retrieval", "--model", "/no/such/model.keras"], "--model", "existing .keras file"),
    (["zero-shot", "--preset", "no_such_preset"], "--preset", "Unknown preset"),
])
def test_eval_errors_name_the_option(argv, option, words, capsys):
    assert cli.main(["eval", *argv]) == 2
    err = capsys.readouterr().err
    assert f"kerasmm eval {argv[0]}: error: argument {option}: " in err
    assert words in err


@pytest.mark.parametrize("argv, words", [
    (["eval"], "task"),
    (["eval", "zero-shot", "--batch-size", "0"], "--batch-size"),
    (["eval", "retrieval", "--recall-k"], "--recall-k"),
    (["eval", "zero-shot", "--recall-k", "1"], "--recall-k"),  # a retrieval option
])
def test_bad_eval_arguments_exit_with_2(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert words in capsys.readouterr().err


# === Start-up: help without TensorFlow, quiet commands ===

BACKEND_MODULES = ("tensorflow", "keras", "jax", "tensorflow_datasets")


def _console_script(folder):
    """A file named `kerasmm` holding what pip writes for setup.cfg's entry point."""
    config = configparser.ConfigParser()
    config.read(os.path.join(REPO, "setup.cfg"))
    entry = config["options.entry_points"]["console_scripts"].strip()
    name, target = (part.strip() for part in entry.split("="))
    module, function = target.split(":")
    script = folder / name
    script.write_text(f"import sys\nfrom {module} import {function}\n"
                      f"if __name__ == '__main__':\n    sys.exit({function}())\n")
    return str(script)


def _run_command(argv, folder, *python_options, env_changes=None, timeout=600):
    """`kerasmm *argv` through its console script, this checkout on the path, in a
    shell-like environment: no TF_CPP_MIN_LOG_LEVEL."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([REPO] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(env_changes or {})
    return subprocess.run([sys.executable, *python_options, _console_script(folder), *argv],
                          cwd=folder, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _imports_and_other_stderr(stderr):
    """`(modules imported, the other stderr lines)` of a `python -X importtime` run."""
    modules, other = set(), []
    for line in stderr.splitlines():
        if line.startswith("import time:"):
            modules.add(line.split("|")[-1].strip())
        else:
            other.append(line)
    return modules, other


HELP_ARGVS = [["--help"], ["eval", "zero-shot", "--help"], ["eval", "retrieval", "--help"]] + [
    [command, "--help"] for command in
    next(a for a in cli.build_parser()._actions if a.dest == "command").choices]


@pytest.mark.parametrize("argv", HELP_ARGVS, ids=" ".join)
def test_help_imports_no_backend_and_writes_no_stderr(argv, tmp_path):
    run = _run_command(argv, tmp_path, "-X", "importtime")
    assert run.returncode == 0 and run.stdout.startswith("usage: kerasmm"), run.stderr[-2000:]
    modules, other = _imports_and_other_stderr(run.stderr)
    assert "kerasmm.cli" in modules  # the parse above really listed imports
    heavy = sorted(m for m in modules if m.split(".")[0] in BACKEND_MODULES)
    assert heavy == [] and other == []


def test_python_m_kerasmm_help_imports_no_backend(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO)
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "kerasmm", "--help"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "usage: kerasmm" in run.stdout
    modules, other = _imports_and_other_stderr(run.stderr)
    assert "kerasmm.cli" in modules and not modules & set(BACKEND_MODULES) and other == []


def test_import_kerasmm_registers_every_sub_package_outside_the_command():
    import kerasmm

    assert all(f"kerasmm.{name}" in sys.modules for name in kerasmm.SUBPACKAGES)
    assert keras.saving.get_registered_object("kerasmm>CLIP") is kerasmm.models.CLIP
    # A command registers the same sub-packages before it runs (its process
    # skipped the eager imports).
    imported = re.findall(r"^    from kerasmm import (\w+)  # noqa",
                          inspect.getsource(cli._run_command), re.MULTILINE)
    assert sorted(imported) == sorted(kerasmm.SUBPACKAGES)


@pytest.mark.slow
def test_import_kerasmm_imports_no_tfds_yet_registers_everything(tmp_path):
    code = ("import json, sys, keras, kerasmm\n"
            "print(json.dumps([[n for n in kerasmm.SUBPACKAGES if 'kerasmm.' + n not in "
            "sys.modules], 'tensorflow_datasets' in sys.modules, "
            "keras.saving.get_registered_object('kerasmm>CLIP') is not None]))")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600,
                         env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.splitlines()[-1]) == [[], False, True]


@pytest.mark.slow
@pytest.mark.parametrize("verbose", [False, True])
def test_command_stderr_has_no_startup_logs_unless_verbose(verbose, tmp_path):
    """A command that imports TensorFlow, then fails on its argument."""
    argv = ["eval", "zero-shot", "--preset", "no_such_preset"]
    run = _run_command(["--verbose", *argv] if verbose else argv, tmp_path)
    assert run.returncode == 2
    lines = run.stderr.encode().splitlines()
    assert "kerasmm eval zero-shot: error: argument --preset: " in run.stderr
    assert "Unknown preset" in run.stderr  # errors still show
    noise = [line for line in lines if is_startup_noise(line)]
    if verbose:
        assert noise, run.stderr  # TensorFlow's start-up logs, shown as asked
    else:
        assert noise == [] and "absl" not in run.stderr and "oneDNN" not in run.stderr, lines


def test_quiet_backend_logs_drops_only_startup_lines(capfd):
    levels = {name: logging.getLogger(name).level for name in quiet.LOGGERS}
    try:
        with quiet_backend_logs():
            for line in (b"WARNING: All log messages before absl::InitializeLog() is called"
                         b" are written to STDERR\n",
                         b"I0000 00:00:1796004014.708282   23180 port.cc:153] oneDNN on.\n",
                         b"W0000 00:00:1796004014.708282   23180 x.cc:1] a warning\n",
                         b"E0000 00:00:1796004187.377392   27616 cuda_platform.cc:52] failed "
                         b"call to cuInit: INTERNAL\n",
                         b"E0000 00:00:1796004187.377392   27616 foo.cc:52] a real error\n"):
                os.write(2, line)
            os.write(2, b"Traceback (most recent call last):\n")
            os.write(2, b"progress 50%\rprogress 100%\r\n")
            assert logging.getLogger("tensorflow").level == logging.ERROR
        err = capfd.readouterr().err
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    assert err == ("E0000 00:00:1796004187.377392   27616 foo.cc:52] a real error\n"
                   "Traceback (most recent call last):\nprogress 50%\rprogress 100%\r\n")
