"""Every `Example:` in kerasmm's docstrings runs and prints what it says."""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest

import kerasmm


def _modules():
    names = []
    for info in pkgutil.walk_packages(kerasmm.__path__, prefix="kerasmm."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs = {"keras": keras, "np": np, "kerasmm": kerasmm, **vars(module)}
    for test in finder.find(module, module_name, globs=globs):
        if test.examples:
            keras.utils.set_random_seed(0)
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
