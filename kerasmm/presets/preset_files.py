"""The files of a kerasmm preset directory (what `save_to_preset` writes).

- `config.json`: the model's class name, constructor config, build config
  and the kerasmm version that wrote it.
- `model.safetensors`: `{weight path: array}` (see `kerasmm.presets.weights`).
- `preprocessor.json`: the preprocessor's class name, its preprocessing
  constants (the vocabulary of the registry's `preprocessing` entries) and
  the names of its asset files.
- the assets, e.g. a BPE tokenizer's `vocab.json` and `merges.txt`.
- `manifest.json`: the sha256 of each of those files, written last
  (`kerasmm.presets.manifest`).

A directory may hold a model, a preprocessor, or both.
"""

import os

from kerasmm import convert
from kerasmm.presets.pins import check_file_name

KERASMM_KIND = "kerasmm"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
PREPROCESSOR_FILE = "preprocessor.json"


def _kerasmm_json(path):
    """The content of `path` if it is a kerasmm file, else None."""
    if not os.path.isfile(path):
        return None
    content = convert.read_json(path)
    return content if isinstance(content, dict) and "kerasmm_version" in content else None


def is_kerasmm_preset(directory):
    """True if `directory` was written by a `save_to_preset`."""
    return any(_kerasmm_json(os.path.join(directory, name)) is not None
               for name in (CONFIG_FILE, PREPROCESSOR_FILE))


def _checked(path, saved, fields):
    """`saved` with each `(key, kind, default)` of `fields` checked; a
    ValueError names the file and the key."""
    try:
        for key, kind, *default in fields:
            convert.field(saved, key, kind, *default)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return saved


def read_model_config(directory):
    """`config.json` of a kerasmm preset (checked: `class_name`, `config`,
    `build_config`), or a ValueError naming the file and the key."""
    path = os.path.join(directory, CONFIG_FILE)
    saved = _kerasmm_json(path)
    if saved is None:
        raise ValueError(
            f"The kerasmm preset {directory!r} holds no model: {CONFIG_FILE} written by "
            f"save_to_preset is missing. Found: {sorted(os.listdir(directory))}"
        )
    return _checked(path, saved, [("class_name", str), ("config", dict),
                                  ("build_config", dict, None)])


def read_preprocessor_config(directory):
    """`preprocessor.json` of a kerasmm preset (checked: `class_name`,
    `preprocessing`, `assets`: plain file names), or a ValueError naming
    the file and the key."""
    path = os.path.join(directory, PREPROCESSOR_FILE)
    saved = _kerasmm_json(path)
    if saved is None:
        raise ValueError(
            f"The kerasmm preset {directory!r} holds no preprocessor: "
            f"{PREPROCESSOR_FILE} is missing (save one with "
            "`model.save_to_preset(directory, preprocessor=...)`). "
            f"Found: {sorted(os.listdir(directory))}"
        )
    _checked(path, saved, [("class_name", str), ("preprocessing", dict), ("assets", list)])
    for asset in saved["assets"]:
        # Asset names become paths: nothing outside the preset's directory.
        check_file_name(f"{path}: assets", asset)
    return saved
