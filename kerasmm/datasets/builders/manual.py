"""What the manual-download builders share: their expected files and checks.

A builder lists the files and folders of the official release that the user
places in `manual_dir` (`MANUAL_FILES`); a missing one is a clear error
naming the file and where it was expected, before anything is built.
"""

import json
import os

import tensorflow_datasets as tfds


def missing_manual_files(manual_dir, manual_files):
    """The entries of `manual_files` (relative paths; a trailing `/` marks a
    folder) absent from `manual_dir`. An entry `"a.json|b.json"` is present
    when either is."""
    missing = []
    for entry in manual_files:
        options = entry.split("|")
        if not any(_exists(manual_dir, option) for option in options):
            missing.append(entry)
    return missing


def _exists(manual_dir, relative):
    path = os.path.join(manual_dir, relative.rstrip("/"))
    return os.path.isdir(path) if relative.endswith("/") else os.path.isfile(path)


def check_manual_files(name, manual_dir, manual_files):
    """Raises a ValueError naming the files of `manual_files` missing from
    `manual_dir` (or saying `manual_dir` is needed when it is None)."""
    expected = ", ".join(entry.replace("|", " or ") for entry in manual_files)
    if manual_dir is None:
        raise ValueError(
            f"Dataset {name!r} is not prepared and needs a manual download: place "
            f"the official files ({expected}) in a folder and pass it as "
            "manual_dir. Received: manual_dir=None")
    manual_dir = os.fspath(manual_dir)
    if not os.path.isdir(manual_dir):
        raise ValueError(f"manual_dir must be an existing folder holding {expected} "
                         f"(dataset {name!r}). Received: manual_dir={manual_dir!r}")
    missing = missing_manual_files(manual_dir, manual_files)
    if missing:
        paths = ", ".join(os.path.join(manual_dir, entry.split("|")[0]) for entry in missing)
        raise ValueError(
            f"Dataset {name!r}: expected file(s) missing from manual_dir: {paths} "
            f"(the official release's {', '.join(e.replace('|', ' or ') for e in missing)}; "
            "all expected: "
            f"{expected}). Received: manual_dir={manual_dir!r}")


def read_json(path):
    """The content of a JSON file, with an error naming the file when it is
    not JSON."""
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except ValueError as error:
            raise ValueError(f"{path!r} is not a valid JSON file: {error}") from None


def find_file(folders, name, what):
    """The first `folder/name` that exists, else a ValueError naming the
    folders searched."""
    for folder in folders:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise ValueError(f"The {what} file {name!r} is in none of {list(folders)} "
                     "(the official layout of the release)")


def manual_instructions(manual_files):
    """The text TFDS shows when the manual files are missing."""
    files = "\n".join(f"  {entry.replace('|', ' or ')}" for entry in manual_files)
    return f"Place the official release's files in manual_dir:\n{files}"


class ManualBuilder(tfds.core.GeneratorBasedBuilder):
    """A TFDS builder reading an official release the user placed in
    `manual_dir`. Subclasses set `MANUAL_FILES` (relative paths, folders
    ending in `/`, alternatives joined by `|`), `MANUAL_DOWNLOAD_INSTRUCTIONS
    = manual_instructions(MANUAL_FILES)`, and implement `_info`,
    `_split_generators(dl_manager)` (starting with
    `self.manual_dir(dl_manager)`) and `_generate_examples`."""

    MANUAL_FILES = ()

    def manual_dir(self, dl_manager):
        """`dl_manager.manual_dir` once every file of `MANUAL_FILES` is there."""
        try:
            manual_dir = os.fspath(dl_manager.manual_dir)
        except AssertionError:  # TFDS' way of saying it is missing or empty.
            manual_dir = None
        check_manual_files(self.name, manual_dir, self.MANUAL_FILES)
        return manual_dir
