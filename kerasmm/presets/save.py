"""Saving a model (and its preprocessor) as a preset directory.

The files are those of `kerasmm.presets.preset_files`; `from_preset` of
the model and of the preprocessor read them back. The manifest (the sha256
of every file written, `kerasmm.presets.manifest`) is written last.
"""

import json
import os

import keras

from kerasmm import convert
from kerasmm.presets import preset_files
from kerasmm.presets.manifest import update_manifest
from kerasmm.presets.pins import check_file_name
from kerasmm.presets.weights import model_weights
from kerasmm.version import __version__


def _check_free(directory, names, overwrite):
    taken = [name for name in names if os.path.exists(os.path.join(directory, name))]
    if taken and not overwrite:
        raise ValueError(
            f"The directory already holds a preset ({', '.join(taken)}): pass "
            f"overwrite=True to replace it. Received: directory={directory!r}"
        )


def _write_json(directory, name, content):
    with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
        json.dump(content, f, indent=1)


def _write_preprocessor(preprocessor, directory):
    """Writes `preprocessor.json` and the assets; returns the names written."""
    assets = list(preprocessor.save_assets(directory))
    for asset in assets:
        check_file_name("asset", asset)
    _write_json(directory, preset_files.PREPROCESSOR_FILE, {
        "kerasmm_version": __version__,
        "class_name": type(preprocessor).__name__,
        "preprocessing": preprocessor.preset_preprocessing(),
        "assets": assets,
    })
    return [preset_files.PREPROCESSOR_FILE, *assets]


def save_preprocessor(preprocessor, directory, overwrite=False):
    """Writes `preprocessor.json` and the preprocessor's asset files.

    `preprocessor` provides `preset_preprocessing()` (the constants) and
    `save_assets(directory)` (writes its files, returns their names), as
    `kerasmm.presets.Preprocessor` subclasses do. Their sha256 go into the
    directory's manifest.
    """
    _check_free(directory, [preset_files.PREPROCESSOR_FILE], overwrite)
    os.makedirs(directory, exist_ok=True)
    update_manifest(directory, _write_preprocessor(preprocessor, directory))


def save_to_preset(model, directory, preprocessor=None, overwrite=False):
    """Writes `model` (and optionally its preprocessor) as a preset directory.

    Files: `config.json` (class, constructor config, build config, kerasmm
    version), `model.safetensors` (weight path -> array), with a
    preprocessor `preprocessor.json` and its assets (e.g. `vocab.json`,
    `merges.txt`), and last `manifest.json`, the sha256 of each file
    (`from_preset` refuses a file whose bytes changed). `from_preset(directory)`
    loads it back.

    Args:
        model: a kerasmm model.
        directory: output directory (created if needed).
        preprocessor: optional preprocessor of the model's family, e.g. a
            `kerasmm.models.CLIPPreprocessor`.
        overwrite: replace the files of a preset already in `directory`
            (else a ValueError).
    """
    names = [preset_files.CONFIG_FILE, preset_files.WEIGHTS_FILE]
    _check_free(directory, names, overwrite)
    if preprocessor is not None:
        _check_free(directory, [preset_files.PREPROCESSOR_FILE], overwrite)
    os.makedirs(directory, exist_ok=True)
    if preprocessor is not None:
        names += _write_preprocessor(preprocessor, directory)
    _write_json(directory, preset_files.CONFIG_FILE, {
        "kerasmm_version": __version__,
        "class_name": type(model).__name__,
        "config": model.get_config(),
        "build_config": model.get_build_config(),
    })
    weights = {path: keras.ops.convert_to_numpy(v) for path, v in model_weights(model).items()}
    convert.save_tensors(os.path.join(directory, preset_files.WEIGHTS_FILE), weights,
                         metadata={"format": "kerasmm"})
    update_manifest(directory, names)
