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
import numpy as np
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


def reference_losses(batch_size, dim):
    """CLIP and SigLIP losses of the benchmark's inputs, float64 numpy."""
    sys.path.insert(0, os.path.join(REPO_ROOT, "benchmarks"))
    from contrastive_memory import make_inputs

    images, texts = (x.astype("float64") for x in make_inputs(batch_size, dim))
    dots = images @ texts.T
    clip = dots / 0.07  # exp(log(1 / 0.07)), below CLIP's clamp at 100

    def cross_entropy(logits):
        top = logits.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        return lse - np.diag(logits)

    clip_loss = np.mean((cross_entropy(clip) + cross_entropy(clip.T)) / 2)
    siglip = 10.0 * dots - 10.0  # SigLIP's initial scale and bias
    labels = 2 * np.eye(batch_size) - 1
    siglip_loss = np.mean(np.sum(np.logaddexp(0, -labels * siglip), axis=1))
    return {"clip": clip_loss, "siglip": siglip_loss}


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
    reference = reference_losses(256, 32)  # quick mode: B=256, dim 32
    for row in rows:
        expected = reference[row[0]]
        for printed in (row[2], row[3]):  # unchunked, chunked
            assert abs(float(printed) - expected) <= 1e-5 * expected, (row, expected)
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
    ratios = [r for r in rows if len(r) == 5]  # mode, 2 ratios, ">=", target
    assert len(ratios) == 2 and all(r[1].endswith("x") for r in ratios)


@pytest.mark.slow
def test_perceiver_scaling_quick():
    out = run_quick("perceiver_scaling.py")
    assert "Train step" in out and "log-log slopes" in out
    assert "OOM-predicted/skipped" in out  # the Transformer at the longer input
    slopes = [r for r in table_rows(out, "perceiver_io") if r[1] == "time"]
    assert len(slopes) == 1 and re.fullmatch(r"-?\d+\.\d\d", slopes[0][2]), out


@pytest.mark.slow
def test_remat_memory_quick():
    out = run_quick("remat_memory.py")
    assert "Train step" in out and "Remat vs plain" in out
    # stack, remat, params, time (2 cells), step mem (2), peak RSS (2),
    # XLA temp (2 cells, or "-" on TF), device peak ("-" on CPU), status.
    runs = [r for r in table_rows(out, "vit") + table_rows(out, "text")
            if r[1] in ("False", "True")]
    assert {(r[0], r[1]) for r in runs} == {
        (stack, remat) for stack in ("vit", "text") for remat in ("False", "True")}
    for row in runs:
        assert row[-1] == "ok", row
        assert float(row[7]) > 0 and row[8] in ("MiB", "GiB"), row  # peak RSS
        if keras.backend.backend() == "jax":
            assert float(row[9]) >= 0 and row[10] in ("MiB", "GiB"), row
    params = {stack: {r[2] for r in runs if r[0] == stack} for stack in ("vit", "text")}
    assert all(len(p) == 1 for p in params.values())  # same model either way
    checks = [r for r in table_rows(out, "vit") + table_rows(out, "text") if len(r) == 6]
    assert len(checks) == 2, out
    for row in checks:
        assert float(row[1]) > 0, row  # the gradients are not all zero
        assert float(row[2]) <= 1e-5 * max(1.0, float(row[1])), row  # remat == plain
        assert row[3].endswith("x") and row[5].endswith("x"), row  # ratios


@pytest.mark.slow
def test_cli_startup_quick():
    out = run_quick("cli_startup.py")
    rows = {name: float(seconds) for name, seconds in re.findall(
        r"^  (\S.*?)\s{2,}(\d+\.\d\d) s$", out, re.MULTILINE)}
    assert set(rows) == {"kerasmm --help", "python -m kerasmm --help",
                         "eager: import kerasmm + --help"}, out
    assert all(seconds > 0 for seconds in rows.values())
    assert re.search(r"kerasmm --help is \d+\.\dx faster than with eager imports", out)


@pytest.mark.slow
def test_accumulation_memory_quick():
    out = run_quick("accumulation_memory.py", "--steps", "1", "4")
    assert "Train step by accumulation_steps" in out and "Against k=1" in out
    families = ("clip", "siglip")
    runs = [r for f in families for r in table_rows(out, f) if len(r) > 9]
    assert {(r[0], r[1]) for r in runs} == {(f, k) for f in families for k in ("1", "4")}
    scale = {m.group(1): float(m.group(2))
             for m in re.finditer(r"(\w+): max \|dW\(k=1\)\| = ([0-9.e+-]+)", out)}
    assert set(scale) == set(families) and all(v > 0 for v in scale.values()), out
    for row in runs:
        assert row[-1] == "ok", row
        # GradCache changes the memory, not the update: k=4's first step is k=1's.
        assert float(row[-2]) <= 1e-5 * max(1.0, scale[row[0]]), row
    ratios = [r for f in families for r in table_rows(out, f) if len(r) == 7]
    assert {(r[0], r[1]) for r in ratios} == {(f, "4") for f in families}
    for row in ratios:
        # 1st step, step mem, time
        assert row[2].endswith("x") and row[3].endswith("x") and row[6].endswith("x"), row
        if keras.backend.backend() == "jax":
            assert row[4].endswith("x"), row  # XLA temp


@pytest.mark.slow
def test_text_padding_quick():
    out = run_quick("text_padding.py", "--lengths", "8", "13", "77")
    rows = {length: table_rows(out, length) for length in ("8", "13", "77")}
    assert all(len(found) == 1 for found in rows.values()), out
    rows = {length: found[0] for length, found in rows.items()}
    # Columns kept: up to the longest prompt, rounded up to 8; all of them at 77.
    assert [rows[length][1] for length in ("8", "13", "77")] == ["8", "16", "77"]
    # The trimmed rows give the whole rows' features.
    assert all(float(row[-1]) <= 1e-5 for row in rows.values())


@pytest.mark.slow
def test_clip_caption_padding_quick():
    out = run_quick("clip_caption_padding.py", "--lengths", "3", "--multiple", "2")
    rows = table_rows(out, "3")
    assert len(rows) == 2, out  # both tables
    # Columns kept: the longest caption rounded up to 2 (of the tiny config's 8).
    assert rows[0][1] == "4"
    # The cut rows give the whole rows' text embeddings.
    assert float(rows[0][-1]) <= 1e-5
    assert len(rows[1]) == 4 and all(cell.endswith("x") for cell in rows[1][1:]), rows


def _train_step_floor():
    sys.path.insert(0, os.path.join(REPO_ROOT, "benchmarks"))
    import train_step_floor

    return train_step_floor


@pytest.mark.parametrize("family", ["clip", "siglip"])
@pytest.mark.parametrize("quick", [False, True])
@pytest.mark.parametrize("batch", [1, 8])
def test_train_step_floor_products_count_the_analytic_flops(family, quick, batch):
    # The floor's list of products is written apart from clip_throughput's
    # analytic count (per-layer formulas): both must give the same flops.
    floor = _train_step_floor()
    config = floor.clip_throughput.FAMILIES[family]["configs"][int(quick)]
    products = floor.train_products(family, config, batch)
    assert floor.product_flops(products) == floor.analytic_train_flops(family, config, batch)
    # Every forward product has its weight gradient, and all but the patch
    # embedding (whose input is the images) its input gradient.
    forward = floor.forward_products(family, config, batch)
    assert len(products) == 3 * len(forward) - 1
    labels = [p[0] for p in products]
    assert "vision patch embedding (grad in)" not in labels
    assert "vision patch embedding (grad weight)" in labels


def test_train_step_floor_vit_b32_counts():
    # ViT-B/32 CLIP at batch 8, counted by hand: vision 11 full blocks on 50
    # tokens (width 768) and a pooled one, text 11 on 77 (width 512) and a
    # pooled one; the patch convolution has no input gradient.
    floor = _train_step_floor()
    full = lambda t, w: 24 * t * w ** 2 + 4 * t ** 2 * w  # noqa: E731
    pooled = lambda t, w: 4 * t * w ** 2 + 20 * w ** 2 + 4 * t * w  # noqa: E731
    conv = 2 * 49 * 3072 * 768
    forward = (conv + 11 * full(50, 768) + pooled(50, 768) + 768 * 512 * 2
               + 11 * full(77, 512) + pooled(77, 512) + 512 * 512 * 2 + 2 * 512 * 8)
    expected = 8 * (3 * forward - conv)
    products = floor.train_products("clip", floor.clip_throughput.VIT_B32, 8)
    assert floor.product_flops(products) == expected
    assert abs(expected / 1e9 - 328.898) < 1e-3  # as the benchmark printed


@pytest.mark.slow
def test_train_step_floor_quick():
    out = run_quick("train_step_floor.py")
    assert "relative difference 0.0e+00" in out, out
    assert "kerasmm's train-step products, each timed alone" in out
    # The parts table: a label, then seconds.
    parts = {m.group(1): float(m.group(2)) for m in
             (re.match(r"^\s*(.+?)\s+(\d+\.\d+)$", line) for line in out.splitlines()) if m}
    products, adam = parts["kerasmm's products alone"], parts["Adam alone (kerasmm's weights)"]
    # Tiny in quick mode (printed to the millisecond), never negative.
    assert products >= 0 and adam >= 0, parts
    assert parts["kerasmm train step"] > 0 and parts["keras-hub train step"] > 0, parts
    # Medians of sums: at least each part's median, less the printed rounding.
    assert parts["floor: products + Adam"] >= max(products, adam) - 1e-3, parts
    assert re.search(r"highest ratio at the floor .*: \d+\.\d\dx", out), out
    assert "target >= 1.25x" in out
