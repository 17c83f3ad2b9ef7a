"""The Colab notebooks run top to bottom (in their small mode) and ship clean.

Add a notebook by listing it in `NOTEBOOKS` with the text its run must
print, and in `MINIMUMS` with the numbers it prints that must reach a floor.
Each notebook reads `KERASMM_NOTEBOOK_SMALL=1` to shrink its work to
seconds, and must run offline: its first code cell is the shared install cell
(it installs kerasmm from `KERASMM_SOURCE` only when the import fails or another
source is named; tests/test_packaging.py runs it against a built wheel), and
the kernel gets this checkout on `PYTHONPATH`.
"""

import os
import re

import nbclient  # nbclient and nbformat are in the test extra
import nbformat
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK_DIR = os.path.join(REPO, "notebooks")

# Notebook file name -> strings its outputs must contain.
NOTEBOOKS = {
    "01_quickstart_clip.ipynb": ("zero-shot accuracy", "i2t_recall@1",
                                 "largest embedding difference after reload"),
    "02_pretrained_zero_shot.ipynb": ("preset: shapes_clip_tiny", "zero-shot top-1 accuracy",
                                      "i2t_recall@5", "text 'a red triangle' -> images",
                                      "SigLIP preset: tiny offline checkpoint",
                                      "SigLIP's best match"),
    "03_perceiver_io.ipynb": ("small mode: True", "held-out accuracy", "held-out masked loss",
                              "held-out video MSE"),
    "04_distributed_training.ipynb": ("with 4 replicas",
                                      "largest weight difference after 2 steps"),
    "05_vqa_and_matching.ipynb": ("small mode: True", "held-out accuracy", "text-only",
                                  "image-only", "soft scores", "the ViLT cell is skipped"),
    "06_captioning.ipynb": ("small mode: True", "compiled decoding loops: 2", "cider_d",
                            "exact match, single shape", "the BLIP cell is skipped"),
    "07_text_to_image.ipynb": ("small mode: True", "shapes_diffusion_tiny:",
                               "reader: colour and shape", "per-pixel diversity",
                               "grid written to"),
    "08_audio_video.ipynb": ("small mode: True", "sound zero-shot accuracy",
                             "VideoCLIP from shapes_clip_tiny",
                             "text 'a red circle moves left' -> clips", "i2t_recall@1",
                             "t2i_recall@1", "the AST cell is skipped"),
    "09_alignment_objectives.ipynb": ("small mode: True", "linear CCA of the raw views",
                                      "discriminator accuracy"),
}

# Notebook file name -> {regex with one number group: smallest value accepted}.
MINIMUMS = {
    # The shipped shapes_clip_tiny preset scores 0.96 on the 600 images of the
    # zero-shot set (30 classes, chance 0.033): 0.8 is ~20 standard errors
    # below that and far above chance. Recall@5 over 500 test images is
    # ~0.85 both ways (chance 5 / 500 = 0.01).
    "02_pretrained_zero_shot.ipynb": {
        r"zero-shot top-1 accuracy: ([0-9.]+) on 600 images, 30 classes": 0.8,
        r"i2t_recall@5 +([0-9.]+) +\(chance 0\.010\)": 0.6,
        r"t2i_recall@5 +([0-9.]+) +\(chance 0\.010\)": 0.6,
    },
    # Measured: Deep CCA 0.96 (linear CCA 0.17 on the same views); task
    # accuracy 0.99 with and without gradient reversal (chance 0.25).
    "09_alignment_objectives.ipynb": {
        r"Deep CCA canonical correlation after training: ([0-9.]+)": 0.8,
        r"with gradient reversal: task accuracy ([0-9.]+)": 0.9,
    },
}


# The first code cell of every notebook, up to an optional trailing `import kerasmm`.
INSTALL_CELL_START = "# Install kerasmm. KERASMM_SOURCE says where from"
SOURCE_LINE = 'KERASMM_SOURCE = "kerasmm"'


def _read(name):
    return nbformat.read(os.path.join(NOTEBOOK_DIR, name), as_version=4)


def _output_text(notebook):
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_is_committed_without_outputs(name):
    notebook = _read(name)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


def _install_cell(notebook):
    cell = next(c for c in notebook.cells if c.cell_type == "code").source
    return cell.removesuffix("\n\nimport kerasmm")


def test_every_notebook_is_listed():
    on_disk = {n for n in os.listdir(NOTEBOOK_DIR) if n.endswith(".ipynb")}
    assert on_disk == set(NOTEBOOKS)


def test_notebooks_share_one_install_cell():
    cells = {name: _install_cell(_read(name)) for name in NOTEBOOKS}
    first = cells[min(cells)]
    assert first.startswith(INSTALL_CELL_START) and first.count(SOURCE_LINE) == 1, first
    assert "%pip" not in first  # plain Python: tests run it outside IPython
    for name, cell in cells.items():
        assert cell == first, name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs_in_small_mode(name, tmp_path, monkeypatch):
    monkeypatch.setenv("KERASMM_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [REPO] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("MPLBACKEND", "Agg")  # no display needed on a test machine
    notebook = _read(name)
    client = nbclient.NotebookClient(
        notebook, timeout=900, kernel_name="python3",
        # Files the notebook writes land in tmp_path, not in notebooks/.
        resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # Raises CellExecutionError, with the cell, on any error.
    text = _output_text(notebook)
    for expected in NOTEBOOKS[name]:
        assert expected in text, expected
    for pattern, minimum in MINIMUMS.get(name, {}).items():
        match = re.search(pattern, text)
        assert match, f"no output matches {pattern!r}"
        assert float(match.group(1)) >= minimum, match.group(0)
