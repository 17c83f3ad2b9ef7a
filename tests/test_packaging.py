"""The sdist and wheel ship what kerasmm needs, and the installed wheel works.

The sdist, and the wheel built from it, are made once per session the way a
release makes them (`python -m build`), offline (`--no-isolation`: this
environment's setuptools), from a copy of the checkout. The wheel is installed
into fresh virtual environments and used from outside the checkout. A fresh
environment reuses this one's dependencies (TensorFlow and the rest) read-only,
through a `.pth` file naming a folder of links to them from which kerasmm
itself is left out: nothing is downloaded (`PIP_NO_INDEX`), and only the wheel
can provide `kerasmm`.
"""

import configparser
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile

import nbformat
import numpy as np
import pytest

from kerasmm.version import __version__

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "kerasmm")
NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "notebooks", "*.ipynb")))
SOURCE_LINE = 'KERASMM_SOURCE = "kerasmm"'
# Not part of a source tree: version control, environments, build and run outputs.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info",
                                    "__pycache__", "*.py[cod]", ".pytest_cache", "*.keras",
                                    "kerasmm_demo", "demo_output")


def _package_data():
    """Paths (relative to kerasmm/) of the files in the package that are not code."""
    found = []
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if not name.endswith((".py", ".pyc")):
                found.append(os.path.relpath(os.path.join(folder, name), PACKAGE))
    return sorted(path.replace(os.sep, "/") for path in found)


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _run(command, cwd, check=True):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    if check:
        assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
    return result


def test_declared_minimums_are_the_tested_constraints():
    config = configparser.ConfigParser(interpolation=None)
    config.read(os.path.join(REPO, "setup.cfg"))
    declared = dict(line.split(">=") for line in
                    config["options"]["install_requires"].split() if line)
    with open(os.path.join(REPO, "constraints", "minimum.txt")) as f:
        pinned = dict(line.split("#")[0].split("==") for line in f
                      if line.split("#")[0].strip())
    pinned = {name.strip(): version.strip() for name, version in pinned.items()}
    # Every dependency has a minimum, and it is the version the tests ran against.
    assert declared == {name: pinned.get(name) for name in declared}, (declared, pinned)


@pytest.fixture(scope="session")
def dists(tmp_path_factory):
    """(sdist path, wheel path), the wheel built from the sdist."""
    root = tmp_path_factory.mktemp("build")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE, symlinks=True)
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(root / "dist"),
          str(source)], cwd=root)
    (sdist,) = glob.glob(str(root / "dist" / "*.tar.gz"))
    (wheel,) = glob.glob(str(root / "dist" / "*.whl"))
    return sdist, wheel


@pytest.fixture(scope="session")
def dependencies(tmp_path_factory):
    """A folder of links to this environment's installed packages, kerasmm left out."""
    site_packages = os.path.dirname(os.path.dirname(np.__file__))
    folder = tmp_path_factory.mktemp("dependencies")
    for name in os.listdir(site_packages):
        lower = name.lower()
        if not (lower.startswith(("kerasmm", "__editable__")) or lower.endswith(".pth")):
            os.symlink(os.path.join(site_packages, name), folder / name)
    return folder


@pytest.fixture
def make_venv(tmp_path, dependencies):
    """Returns a function making a fresh venv that sees `dependencies`; returns its python."""

    def make(name="venv"):
        root = tmp_path / name
        venv.create(root, with_pip=False)  # pip comes from `dependencies`
        (site_packages,) = glob.glob(str(root / "lib" / "python*" / "site-packages"))
        with open(os.path.join(site_packages, "_test_dependencies.pth"), "w") as f:
            f.write(f"{dependencies}\n")
        return root / "bin" / "python"

    return make


@pytest.mark.slow  # a build, or fresh interpreters importing TensorFlow
def test_wheel_and_sdist_ship_the_package_data(dists):
    sdist, wheel = dists
    data = _package_data()
    # Not vacuous: the shipped preset and the shapes vocabulary are among them.
    assert any(p.endswith("shapes_clip_tiny/model.safetensors") for p in data), data
    assert any(p.endswith("shapes_vocab.json") for p in data), data
    top = f"kerasmm-{__version__}/"
    with zipfile.ZipFile(wheel) as whl, tarfile.open(sdist) as tar:
        in_sdist = set(tar.getnames())
        for path in data:
            with open(os.path.join(PACKAGE, path), "rb") as f:
                expected = _sha256(f.read())
            assert _sha256(whl.read(f"kerasmm/{path}")) == expected, path
            assert f"{top}kerasmm/{path}" in in_sdist, path
        assert not [n for n in whl.namelist() if "__pycache__" in n or n.endswith(".pyc")]
    # The sdist is enough to run the tests and the notebooks.
    for path in ["tests/conftest.py", "MANIFEST.in", "README.md"] + [
            os.path.relpath(p, REPO) for p in NOTEBOOKS]:
        assert top + path in in_sdist, path


@pytest.mark.slow  # a build, or fresh interpreters importing TensorFlow
def test_wheel_metadata(dists):
    _, wheel = dists
    assert os.path.basename(wheel) == f"kerasmm-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as whl:
        info = f"kerasmm-{__version__}.dist-info/"
        metadata = whl.read(info + "METADATA").decode()
        entry_points = whl.read(info + "entry_points.txt").decode()
    assert f"Version: {__version__}\n" in metadata
    assert "Requires-Dist: tensorflow>=" in metadata and "Requires-Dist: keras>=" in metadata
    assert "kerasmm = kerasmm.cli:main" in entry_points


@pytest.mark.slow  # a build, or fresh interpreters importing TensorFlow
def test_installed_wheel_runs_outside_the_checkout(dists, make_venv, tmp_path):
    _, wheel = dists
    python = make_venv()
    _run([str(python), "-m", "pip", "install", "--no-deps", wheel], cwd=tmp_path)

    result = _run([str(python.parent / "kerasmm"), "demo", "--help"], cwd=tmp_path)
    assert "usage: kerasmm demo" in result.stdout and "--small" in result.stdout

    script = (
        "import json, sys\n"
        "import numpy as np\n"
        "import kerasmm\n"
        "model = kerasmm.models.CLIP.from_preset('shapes_clip_tiny')\n"
        "np.savez(sys.argv[1], *[w.numpy() for w in model.weights])\n"
        "print(json.dumps({'file': kerasmm.__file__, 'prefix': sys.prefix}))\n")
    weights_file = tmp_path / "weights.npz"
    result = _run([str(python), "-c", script, str(weights_file)], cwd=tmp_path)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["prefix"] == str(tmp_path / "venv"), found
    assert found["file"].startswith(os.path.join(found["prefix"], "lib", "")), found

    # The installed preset holds exactly the checkout's weights.
    import kerasmm

    expected = kerasmm.models.CLIP.from_preset("shapes_clip_tiny").weights
    with np.load(weights_file) as loaded:
        assert len(loaded.files) == len(expected) > 0
        for i, weight in enumerate(expected):
            np.testing.assert_array_equal(loaded[f"arr_{i}"], weight.numpy())


def _install_cell(path, source):
    """The notebook's install cell with `KERASMM_SOURCE` set to `source`."""
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code").source
    assert cell.count(SOURCE_LINE) == 1, cell
    return cell.replace(SOURCE_LINE, f"KERASMM_SOURCE = {str(source)!r}")


@pytest.fixture(scope="session")
def install_cell_runs():
    """Cell text -> (result, folder) of running it in a fresh venv, once per distinct
    cell: notebooks sharing a byte-identical install cell share its run."""
    return {}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_install_cell_installs_a_wheel(path, dists, make_venv, tmp_path,
                                                install_cell_runs):
    _, wheel = dists
    cell = _install_cell(path, wheel)
    if cell not in install_cell_runs:
        python = make_venv()
        install_cell_runs[cell] = (_run([str(python), "-c", cell], cwd=tmp_path), tmp_path)
    result, folder = install_cell_runs[cell]
    assert f"installing kerasmm from {wheel}" in result.stdout
    installed = result.stdout.strip().splitlines()[-1]
    assert installed.startswith("kerasmm: " + str(folder / "venv" / "lib")), result.stdout
    assert glob.glob(str(folder / "venv" / "lib" / "*" / "site-packages"
                         / f"kerasmm-{__version__}.dist-info"))


def test_notebook_install_cell_says_what_to_set_when_the_source_fails(make_venv, tmp_path):
    missing = tmp_path / "kerasmm-0.0.0-py3-none-any.whl"
    python = make_venv()
    result = _run([str(python), "-c", _install_cell(NOTEBOOKS[0], missing)], cwd=tmp_path,
                  check=False)
    assert result.returncode != 0
    assert f"could not install kerasmm from KERASMM_SOURCE = {str(missing)!r}" in result.stderr
    assert "Set KERASMM_SOURCE at the top of this cell" in result.stderr
    assert "does not exist" in result.stderr  # pip's own reason is passed on
