"""notebooks/04_distributed_training.ipynb runs in small mode.

Small mode (`KERASMM_NOTEBOOK_SMALL=1`): 4 simulated CPU devices, a tiny
CLIP, a few steps. The notebook asserts its own claims (distributed loss and
weights equal to one device); this test executes it top to bottom.
"""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "notebooks", "04_distributed_training.ipynb")


def test_notebook_is_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None
                        for cell in code)


@pytest.mark.slow  # a fresh kernel, TF start-up and 3 small fits: ~40 s
@pytest.mark.tf_only
def test_notebook_runs_on_four_simulated_devices(monkeypatch):
    import nbclient
    import nbformat

    monkeypatch.setenv("KERASMM_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep
                       + os.environ.get("PYTHONPATH", ""))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": ROOT}})
    client.execute()
    text = "\n".join(
        output.get("text", "") for cell in notebook.cells
        if cell.cell_type == "code" for output in cell.outputs)
    assert "MirroredStrategy with 4 replicas" in text, text
    assert "largest weight difference after 2 steps" in text, text
