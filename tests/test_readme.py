"""The README's tour runs as written (python blocks, in order, in one namespace)."""

import os
import re

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
def test_readme_tour_runs():
    namespace = {}
    blocks = _python_blocks()
    assert len(blocks) >= 4
    for block in blocks:
        exec(compile(block, README, "exec"), namespace)
    assert "classifier" in namespace and "model" in namespace
