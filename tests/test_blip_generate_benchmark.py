"""Smoke test of benchmarks/blip_generate.py (no timing asserted): it runs tiny
with `--quick`, its compiled and eager paths agree (the script checks), and
the Hugging Face row is skipped with a reason when no torch is available."""

import json
import os
import subprocess
import sys

import pytest

from tests.test_benchmarks import REPO_ROOT, run_quick

SCRIPT = os.path.join(REPO_ROOT, "benchmarks", "blip_generate.py")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_blip_generate_quick_without_torch(dtype):
    out = run_quick("blip_generate.py", "--hf-python", "/nonexistent/python", "--repeats", "1",
                    "--dtype", dtype)
    assert f"random weights, {dtype}" in out
    assert "kerasmm compiled" in out and "(traces: 1)" in out
    assert "compiled vs eager speed-up:" in out
    assert "Hugging Face      skipped: no Python with torch" in out


def test_hf_mode_reports_a_missing_torch(tmp_path):
    # A `torch` package that fails to import stands in for a machine without
    # torch, so the path runs wherever the suite runs, torch installed or not.
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(
        "raise ImportError('No module named torch (hidden by the test)')\n")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, SCRIPT, "--hf", "--quick"], capture_output=True,
                          text=True, timeout=600, cwd=REPO_ROOT, env=environment)
    assert done.returncode == 0, done.stderr[-2000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    assert "torch or transformers is missing" in json.loads(line[len("RESULT "):])["skipped"]
