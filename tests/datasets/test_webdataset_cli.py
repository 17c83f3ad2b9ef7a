"""`kerasmm shards write` / `check`, and the input benchmark's quick run."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasmm import cli

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.tf_only


def _photos(folder, count):
    images = np.random.default_rng(0).integers(0, 256, (count, 5, 6, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        (folder / f"p{i}.png").write_bytes(tf.io.encode_png(image).numpy())
        if i:  # p0 has no caption
            (folder / f"p{i}.txt").write_text(f"photo {i}")
    return images


def test_write_then_check(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    _photos(photos, 6)
    pattern = str(tmp_path / "out" / "s-%03d.tar")
    assert cli.main(["shards", "write", str(photos), pattern, "--samples-per-shard", "2",
                     "--json"]) == 0
    out = capsys.readouterr().out
    assert "wrote 5 samples into 3 shards" in out and "left out p0.png" in out
    written = json.loads(out.strip().splitlines()[-1])
    assert written["pattern"] == str(tmp_path / "out" / "s-{000..002}.tar")
    assert [os.path.basename(p) for p in written["paths"]] == [
        "s-000.tar", "s-001.tar", "s-002.tar"]

    # A cut shard: check counts what it lost.
    data = open(written["paths"][2], "rb").read()
    open(written["paths"][2], "wb").write(data[:600])
    assert cli.main(["shards", "check", written["pattern"], "--json"]) == 0
    checked = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert checked == {"num_samples": 4, "num_skipped": 1,
                       "skipped": {"truncated tar member": 1}}

    assert cli.main(["shards", "write", str(photos), pattern]) == 2
    assert "overwrite=True" in capsys.readouterr().err
    assert cli.main(["shards", "write", str(tmp_path / "none"), pattern]) == 2
    assert "source must be" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["shards", "write", str(photos), pattern, "--samples-per-shard", "0"])


def test_write_from_tfds(tmp_path, capsys):
    import tensorflow_datasets as tfds

    data_dir = str(tmp_path / "tfds")
    assert cli.main(["shards", "write", "tfds:kerasmm_shapes/tiny", str(tmp_path / "x-%d.tar"),
                     "--data-dir", data_dir]) == 2
    assert "is not prepared" in capsys.readouterr().err
    tfds.builder("kerasmm_shapes/tiny", data_dir=data_dir).download_and_prepare()
    assert cli.main(["shards", "write", "tfds:kerasmm_shapes/tiny", str(tmp_path / "x-%d.tar"),
                     "--data-dir", data_dir, "--split", "validation", "--image-format",
                     "png", "--samples-per-shard", "1000", "--json"]) == 0
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expected = tfds.load("kerasmm_shapes/tiny", split="validation", data_dir=data_dir)
    expected = {(ex["caption"].decode(), ex["image"].tobytes())
                for ex in tfds.as_numpy(expected)}
    from kerasmm.datasets import webdataset_dataset

    found = {(s["caption"].numpy().decode(), s["image"].numpy().tobytes())
             for s in webdataset_dataset(written["pattern"], shuffle=False)}
    assert written["num_samples"] == len(expected) and found == expected


@pytest.mark.slow
def test_input_benchmark_quick():
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "benchmarks", "webdataset_input.py"),
         "--quick"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = {tuple(line.split()[:2]): line.split()
            for line in done.stdout.splitlines() if line.split()}
    assert "wrote 64 32x32 JPEGs into 4 shards" in done.stdout
    for stage in ("serial", "parallel"):
        row = rows[("input,", stage)]
        assert float(row[2]) > 0 and row[3:6] == ["64", "images", "in"], row
    assert float(rows[("train", "step,")][4]) > 0
    ratios = [line.split() for line in done.stdout.splitlines()
              if line.split()[:1] in (["input/train"], ["parallel/serial"])]
    assert len(ratios) == 2 and all(r[1].endswith("x") for r in ratios), ratios
