"""The package's shape is a tested contract (../shared/DESIGN.md, "A family is a folder").

- `.importlinter`: nothing imports from a floor above its own, and the
  sub-packages of a floor import each other without cycles;
- no file in `kerasmm/` passes 400 lines;
- no module imports a private (`_name`) helper of another module, and
  nothing inside the package imports the package root;
- no block of 6 or more code lines (docstrings aside) is copied verbatim
  between places in `kerasmm/`.
"""

import ast
import collections
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "kerasmm")
MAX_LINES = 400
MIN_COPIED_LINES = 6


def _python_files():
    for directory, _, names in os.walk(PACKAGE):
        for name in sorted(names):
            if name.endswith(".py"):
                yield os.path.join(directory, name)


def _relative(path):
    return os.path.relpath(path, ROOT)


def test_import_floors_and_no_cycles():
    run = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
         "lint_imports_command()", os.path.join(ROOT, ".importlinter")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "2 kept, 0 broken" in run.stdout, run.stdout[-2000:]


def test_no_file_passes_the_line_limit():
    long_files = {}
    for path in _python_files():
        with open(path, encoding="utf-8") as f:
            count = sum(1 for _ in f)
        if count > MAX_LINES:
            long_files[_relative(path)] = count
    assert not long_files, f"Files over {MAX_LINES} lines (split them by job): {long_files}"


def _imports(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None


def test_no_private_helper_imported_across_modules():
    offenders = []
    for path in _python_files():
        for module, names in _imports(path):
            if module.startswith("kerasmm") and names:
                offenders += [f"{_relative(path)}: from {module} import {name}"
                              for name in names if name.startswith("_")
                              and not name.startswith("__")]
    assert not offenders, "Private helpers imported across modules: " + "; ".join(offenders)


def test_nothing_inside_the_package_imports_the_root():
    offenders = []
    for path in _python_files():
        if os.path.basename(path) in ("__init__.py", "__main__.py") and \
                os.path.dirname(path) == PACKAGE:
            continue
        for module, names in _imports(path):
            # `from kerasmm import losses` names a sub-package (the floors
            # contract checks it); `import kerasmm` or `from kerasmm import
            # __version__` reach the root's namespace.
            not_submodules = [n for n in names or [] if not (
                os.path.isdir(os.path.join(PACKAGE, n))
                or os.path.isfile(os.path.join(PACKAGE, n + ".py")))]
            if module == "kerasmm" and (names is None or not_submodules):
                offenders.append(f"{_relative(path)}: imports kerasmm "
                                 f"({not_submodules or 'the root'})")
    assert not offenders, offenders


# Passed over: blank lines, comments, imports, lone brackets, and Keras'
# `get_config` preamble (an idiom every layer repeats, not a copy).
_SKIPPED = re.compile(
    r"^\s*($|#|import |from \S+ import |[\)\]\}],?$|\"\"\"$|'''$"
    r"|def get_config\(self\):$|config = super\(\)\.get_config\(\)$|config\.update\(\{$)")


def _docstring_lines(source):
    """Line numbers inside docstrings (documentation may repeat an Args list)."""
    numbers = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(getattr(body[0], "value", None), ast.Constant) and \
                isinstance(body[0].value.value, str):
            numbers.update(range(body[0].lineno, body[0].end_lineno + 1))
    return numbers


def _code_lines(path):
    """(line number, whitespace-folded text) of the lines that count."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    docstrings = _docstring_lines(source)
    for number, line in enumerate(source.splitlines(), start=1):
        if number not in docstrings and not _SKIPPED.match(line):
            yield number, " ".join(line.split())


def test_no_block_of_six_lines_is_copied():
    """Six consecutive counted lines (blank lines, comments, imports and lone
    brackets passed over) may stand in one place only."""
    places = collections.defaultdict(list)
    for path in _python_files():
        lines = list(_code_lines(path))
        for i in range(len(lines) - MIN_COPIED_LINES + 1):
            window = tuple(text for _, text in lines[i:i + MIN_COPIED_LINES])
            if sum(len(t) for t in window) < 120:  # thin boilerplate, e.g. `else:` runs
                continue
            places[window].append(f"{_relative(path)}:{lines[i][0]}")
    copied = {window: where for window, where in places.items() if len(where) > 1}
    report = [f"{' ~ '.join(where)}: {window[0][:60]!r}..." for window, where in copied.items()]
    assert not copied, f"{len(copied)} copied blocks:\n" + "\n".join(report[:20])


@pytest.mark.parametrize("contract_line", ["layers", "acyclic_siblings"])
def test_the_contract_file_declares_both_contracts(contract_line):
    with open(os.path.join(ROOT, ".importlinter"), encoding="utf-8") as f:
        assert f"type = {contract_line}" in f.read()
