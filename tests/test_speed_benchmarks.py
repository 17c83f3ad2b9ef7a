"""Smoke tests of the speed benchmarks added for issues 11 and 12 (no timing
asserted): `clip_throughput.py --family siglip` builds the same-sized kerasmm
and keras-hub SigLIPs and prints both ratios; `vilt_inference.py` converts
Hugging Face's random ViLT with kerasmm's converter, checks the logits agree
before timing, and prints the ratios (or says why the torch side is skipped)."""

import os
import re

import keras
import pytest

from tests.test_benchmarks import run_quick
from tests.test_benchmarks import table_rows

TORCH_PYTHON = os.environ.get("KERASMM_TORCH_PYTHON", "/work/torchvenv/bin/python")


@pytest.mark.slow
def test_siglip_throughput_quick():
    # Keras' default compilation (the CLIP smoke test covers XLA): on a
    # TensorFlow machine without an accelerator a graph without XLA, on JAX jax.jit.
    out = run_quick("clip_throughput.py", "--family", "siglip", "--jit-compile", "auto")
    assert "siglip config" in out and "trainable parameter counts match" in out
    jit = "True" if keras.backend.backend() == "jax" else "False"
    assert f"jit_compile: kerasmm {jit}, keras-hub {jit}" in out, out
    rows = table_rows(out, "inference") + table_rows(out, "train")
    samples = [r for r in rows if len(r) == 11]
    assert {(r[0], r[1]) for r in samples} == {
        (mode, model) for mode in ("inference", "train") for model in ("kerasmm", "keras-hub")}
    ratios = [r for r in rows if len(r) == 5]
    assert [r[4] for r in ratios] == ["1.00x", "1.10x"], out  # SigLIP's targets


@pytest.mark.slow
def test_vilt_inference_quick():
    out = run_quick("vilt_inference.py", "--hf-python", TORCH_PYTHON)
    if not os.path.exists(TORCH_PYTHON):
        assert "Hugging Face skipped: no Python with torch" in out
        return
    differences = re.findall(r"logits \(8, 10\): max \|diff\| (\S+)", out)
    assert len(differences) in (1, 2) and all(float(d) <= 1e-4 for d in differences), out
    hf = [line for line in out.splitlines() if line.strip().startswith("Hugging Face ")]
    assert len(hf) == 1 and float(hf[0].split()[-3]) > 0, out  # images/s
    assert re.search(r"kerasmm XLA .* \d+\.\d\dx +\d+\.\d\dx$", out, re.M), out


def test_vilt_inference_skips_without_torch():
    out = run_quick("vilt_inference.py", "--hf-python", "/nonexistent/python")
    assert "Hugging Face skipped: no Python with torch" in out
