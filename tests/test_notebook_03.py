"""notebooks/03_perceiver_io.ipynb runs in small mode.

Small mode (`KERASMM_NOTEBOOK_SMALL=1`): the three Perceiver IO recipes in
their small configurations, with every plot drawn headless. This test
executes the notebook top to bottom and checks that each job reported.
"""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "notebooks", "03_perceiver_io.ipynb")


def test_notebook_is_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None
                        for cell in code)


@pytest.mark.slow  # a fresh kernel and three small fits: ~1-3 minutes
def test_notebook_runs_in_small_mode(monkeypatch):
    import nbclient
    import nbformat

    monkeypatch.setenv("KERASMM_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep
                       + os.environ.get("PYTHONPATH", ""))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=900, kernel_name="python3",
        resources={"metadata": {"path": ROOT}})
    client.execute()
    text = "\n".join(
        output.get("text", "") for cell in notebook.cells
        if cell.cell_type == "code" for output in cell.outputs)
    assert "small mode: True" in text, text
    assert "held-out accuracy" in text, text
    assert "held-out masked loss" in text, text
    assert "held-out video MSE" in text, text
