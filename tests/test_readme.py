"""The README's tour runs as written (python blocks, in order, in one namespace)."""

import ast
import contextlib
import io
import os
import re

import numpy as np
import pytest

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _python_blocks():
    with open(README) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def test_readme_has_two_commands_first():
    with open(README) as f:
        text = f.read()
    bash = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    assert "kerasmm demo" in bash[0]
    assert "pytest" in bash[1] and "[test]" in bash[1]


@pytest.mark.slow
def test_readme_tour_runs_and_prints_what_it_says():
    namespace, printed = {}, io.StringIO()
    blocks = _python_blocks()
    assert len(blocks) >= 5
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, README, "exec"), namespace)
    lines = printed.getvalue().splitlines()

    # Block 0: a trained CLIP's zero-shot evaluation, printed as a dict of
    # accuracies (the tour trains 4 steps: any value in [0, 1], top-5 >= top-1).
    accuracies = ast.literal_eval(next(line for line in lines if "top1_accuracy" in line))
    assert set(accuracies) == {"top1_accuracy", "top5_accuracy"}
    assert 0.0 <= accuracies["top1_accuracy"] <= accuracies["top5_accuracy"] <= 1.0
    # The same numbers as evaluating the classifier again.
    again = namespace["classifier"].evaluate(namespace["images"], namespace["labels"])
    assert again == pytest.approx(accuracies)

    # Block 1: the SigLIP-style model carries logit_bias -10 and t = 10.
    siglip = namespace["siglip"]
    assert float(siglip.logit_bias) == pytest.approx(-10.0)
    assert float(np.exp(siglip.logit_scale)) == pytest.approx(10.0, rel=1e-5)

    # Block 2: the Perceiver IO output shape printed as the comment says.
    assert "(2, 10)" in lines

    # Block 4: the shipped preset, fed by its own preprocessor, returns
    # unit-norm embeddings for the 30 raw images and prompts.
    outputs = namespace["tiny_outputs"]
    for key in ("image_embeddings", "text_embeddings"):
        norms = np.linalg.norm(np.asarray(outputs[key]), axis=-1)
        assert norms.shape == (30,)
        np.testing.assert_allclose(norms, 1.0, atol=1e-5)
