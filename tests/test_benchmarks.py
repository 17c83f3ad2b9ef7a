"""Smoke tests of the benchmark scripts: each runs with `--quick` and prints its tables.

No timing is asserted (the numbers depend on the machine and its load);
the tests check that each script runs end to end on the current backend
(`KERAS_BACKEND`), prints its tables and ratios, takes its OOM-predicted
skip path, and that the numerical checks the scripts print hold.
"""

import os
import re
import subprocess
import sys

import keras
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each script starts fresh Python processes (TF/JAX import + XLA compile);
# generous, as a loaded machine can be slow.
TIMEOUT = 1800


def run_quick(script, *extra):
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(),
               TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "benchmarks", script), "--quick",
         *extra],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"backend={keras.backend.backend()}" in done.stdout
    return done.stdout


def table_rows(output, first_cell):
    """The whitespace-split rows of printed tables whose first cell matches."""
    return [line.split() for line in output.splitlines()
            if line.split()[:1] == [first_cell]]


@pytest.mark.slow
def test_contrastive_memory_quick():
    out = run_quick("contrastive_memory.py")
    assert "Loss + gradient" in out and "Chunked vs unchunked" in out
    # Quick mode's threshold makes the unchunked B=1024 rows take the skip path
    # while the chunked ones run.
    assert out.count("OOM-predicted/skipped") >= 2
    rows = [r for r in table_rows(out, "clip") + table_rows(out, "siglip")
            if len(r) == 8 and r[1] == "256"]
    assert len(rows) == 2, out
    for row in rows:
        unchunked, chunked = float(row[2]), float(row[3])
        # The chunked loss against the full-matrix loss of another process.
        assert abs(unchunked - chunked) <= 1e-5 * max(1.0, abs(unchunked)), row
        assert float(row[5]) < 1e-5, row  # max |diff| of the gradients
        assert row[6].endswith("x") and row[7].endswith("x")  # ratios


@pytest.mark.slow
def test_clip_throughput_quick():
    out = run_quick("clip_throughput.py")
    assert "trainable parameter counts match" in out
    assert "GEMM peak" in out
    rows = table_rows(out, "inference") + table_rows(out, "train")
    # Per-model rows: mode, model, 3 times ("0.5 s"), samples/s, GFLOP/s, MFU.
    samples = [r for r in rows if len(r) == 11]
    assert {(r[0], r[1]) for r in samples} == {
        (mode, model) for mode in ("inference", "train")
        for model in ("kerasmm", "keras-hub")}
    for row in samples:
        assert float(row[8]) > 0 and row[10].endswith("%")  # samples/s, MFU
    ratios = [r for r in rows if len(r) == 4]  # mode, ratio, ">=", target
    assert len(ratios) == 2 and all(r[1].endswith("x") for r in ratios)


@pytest.mark.slow
def test_perceiver_scaling_quick():
    out = run_quick("perceiver_scaling.py")
    assert "Train step" in out and "log-log slopes" in out
    assert "OOM-predicted/skipped" in out  # the Transformer at the longer input
    slopes = [r for r in table_rows(out, "perceiver_io") if r[1] == "time"]
    assert len(slopes) == 1 and re.fullmatch(r"-?\d+\.\d\d", slopes[0][2]), out
