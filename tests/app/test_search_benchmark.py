"""Smoke test of benchmarks/search_index.py (the pattern of tests/test_benchmarks.py):
it runs with `--quick` on the current backend and prints its table; no timing is
asserted (the numbers depend on the machine and its load)."""

import os
import subprocess
import sys

import keras
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow  # A fresh Python process: TensorFlow import, preset load, 40 images.
def test_search_index_benchmark_quick():
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "benchmarks", "search_index.py"),
         "--quick", "--sizes", "40", "--queries", "3"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert f"backend={keras.backend.backend()}" in out
    assert "index and query times" in out
    (row,) = [line.split() for line in out.splitlines() if line.split()[:1] == ["40"]]
    # images, then (value, unit) pairs and the images/s and MiB cells.
    assert float(row[3]) > 0  # images/s
    units = [row[2]] + row[5::2]
    assert len(row) == 20 and len(units) == 9, row
    assert all(unit in ("s", "ms", "us", "MiB") for unit in units), row
