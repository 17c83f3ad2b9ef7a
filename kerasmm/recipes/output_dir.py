"""A recipe's output folder, checked before any work is done."""

import os

from kerasmm.utils.checks import check_bool


def prepare_output_dir(output_dir, overwrite=False):
    """Checks that `output_dir` can take a run's results, and creates it.

    Recipes call this before building or training anything, so a bad
    folder fails in a second, not after minutes of training. A folder that
    is missing or empty is fine. A folder that holds anything (earlier
    results, or other files) is refused unless `overwrite=True`; then the
    run writes its files there, replacing files of the same names and
    leaving every other file alone.

    Args:
        output_dir: str or path-like.
        overwrite: bool, accept a folder that is not empty.

    Returns:
        The absolute path of the (now existing) folder.

    Example:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> prepare_output_dir(folder) == os.path.abspath(folder)
    True
    >>> _ = open(os.path.join(folder, "model.keras"), "w").close()
    >>> prepare_output_dir(folder)
    Traceback (most recent call last):
    ...
    ValueError: output_dir must be a new or empty folder...
    >>> prepare_output_dir(folder, overwrite=True) == os.path.abspath(folder)
    True
    """
    overwrite = check_bool("overwrite", overwrite)
    if not isinstance(output_dir, (str, os.PathLike)) or not os.fspath(output_dir):
        raise ValueError(
            f"output_dir must be a non-empty path. Received: output_dir={output_dir!r}")
    path = os.path.abspath(os.fspath(output_dir))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(
            f"output_dir must be a folder, not a file. Received: output_dir={output_dir!r}")
    entries = sorted(os.listdir(path)) if os.path.isdir(path) else []
    if entries and not overwrite:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ValueError(
            f"output_dir must be a new or empty folder: it already holds {len(entries)} "
            f"entries ({shown}), e.g. results of an earlier run. Pass overwrite=True "
            "(`--overwrite`) to write over them, or choose another folder. "
            f"Received: output_dir={output_dir!r}")
    os.makedirs(path, exist_ok=True)
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(
            f"output_dir must be a folder you can write to. Received: output_dir={output_dir!r}")
    return path
