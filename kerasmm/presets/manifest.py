"""The manifest of a kerasmm preset directory: the sha256 of its files.

`save_to_preset` writes `manifest.json` last,

    {"kerasmm_version": "...", "sha256": {"config.json": "<64 hex>", ...}}

with the digest of every file it wrote (`config.json`, `model.safetensors`,
`preprocessor.json` and the preprocessor's assets). `from_preset` of a
directory (local, shipped with kerasmm, or a kerasmm preset on the Hub)
checks each file it reads against it first, and refuses a directory
without one, or a file that is missing from it or whose bytes changed,
naming the file. A manifest detects corrupted, truncated and edited files;
it is not a signature (whoever can rewrite the files can rewrite it too):
pin a preset you publish (`kerasmm.presets.pins`) to protect it from that.
"""

import hashlib
import json
import os

from kerasmm import convert
from kerasmm.presets import preset_files
from kerasmm.presets.pins import check_file_name
from kerasmm.presets.pins import check_sha256
from kerasmm.version import __version__

MANIFEST_FILE = "manifest.json"


def sha256_of(path):
    """The hex sha256 digest of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory):
    """`{file name: sha256}` of the preset in `directory`; a ValueError
    naming the manifest when it is missing or malformed."""
    path = os.path.join(directory, MANIFEST_FILE)
    if not os.path.isfile(path):
        raise ValueError(
            f"The kerasmm preset {directory!r} has no {MANIFEST_FILE} (the sha256 of its "
            "files, written by save_to_preset since kerasmm 0.2), so its files cannot be "
            "verified. If you trust them as they are, record their digests once with "
            f"`kerasmm.presets.write_manifest({directory!r})`, or save the model again "
            "with save_to_preset."
        )
    digests = convert.read_json(path).get("sha256")
    if not isinstance(digests, dict):
        raise ValueError(f"{path}: 'sha256' must map file names to digests. "
                         f"Received: sha256={digests!r:.200}")
    for name, digest in digests.items():
        check_file_name(f"{path}: file name", name)
        check_sha256(f"{path}: sha256 of {name}", digest)
    return digests


def update_manifest(directory, names):
    """Records the sha256 of the files `names` in `directory`'s manifest,
    keeping the entries of other files that are still there."""
    digests = {}
    if os.path.isfile(os.path.join(directory, MANIFEST_FILE)):
        digests = {name: digest for name, digest in read_manifest(directory).items()
                   if os.path.isfile(os.path.join(directory, name))}
    for name in names:
        check_file_name("file name", name)
        digests[name] = sha256_of(os.path.join(directory, name))
    with open(os.path.join(directory, MANIFEST_FILE), "w", encoding="utf-8") as f:
        json.dump({"kerasmm_version": __version__, "sha256": dict(sorted(digests.items()))},
                  f, indent=1)


def _preset_file_names(directory):
    """The files of the kerasmm preset in `directory` that `from_preset`
    reads: config, weights, preprocessor config and its assets."""
    names = [name for name in (preset_files.CONFIG_FILE, preset_files.WEIGHTS_FILE,
                               preset_files.PREPROCESSOR_FILE)
             if os.path.isfile(os.path.join(directory, name))]
    if preset_files.PREPROCESSOR_FILE in names:
        names += preset_files.read_preprocessor_config(directory)["assets"]
    return names


def write_manifest(directory):
    """Writes the manifest of a kerasmm preset directory you trust as it is
    (one saved before kerasmm wrote manifests, or edited by hand).

    Example:
    >>> import tempfile
    >>> from kerasmm.presets import save_to_preset
    >>> encoder = kerasmm.models.TextTransformer(
    ...     vocabulary_size=64, context_length=8, hidden_dim=16, num_layers=1,
    ...     num_heads=2, output_dim=8)
    >>> directory = tempfile.mkdtemp()
    >>> save_to_preset(encoder, directory)
    >>> os.remove(os.path.join(directory, MANIFEST_FILE))
    >>> write_manifest(directory)
    >>> sorted(read_manifest(directory))
    ['config.json', 'model.safetensors']
    """
    if not preset_files.is_kerasmm_preset(directory):
        raise ValueError(f"{directory!r} holds no kerasmm preset (config.json or "
                         "preprocessor.json written by save_to_preset)")
    update_manifest(directory, _preset_file_names(directory))


def _check_file(directory, name, digests):
    path = os.path.join(directory, name)
    manifest = os.path.join(directory, MANIFEST_FILE)
    if name not in digests:
        raise ValueError(f"{path} is not listed in {manifest}: it was not written by "
                         "save_to_preset (or the manifest is older), so it is not loaded")
    if not os.path.isfile(path):
        raise ValueError(f"{path} is listed in {manifest} but missing")
    actual = sha256_of(path)
    if actual != digests[name]:
        raise ValueError(
            f"{path} changed since it was saved: its sha256 is {actual}, {manifest} "
            f"records {digests[name]}. The file is corrupted, truncated or was edited; "
            "save the preset again (or, if you edited it on purpose, "
            "kerasmm.presets.write_manifest)."
        )


def verify_preset(directory, load_weights=True):
    """Checks the files `from_preset` reads from a kerasmm preset directory
    against its manifest (the weights only when `load_weights`); a
    ValueError names the first file that is missing, unlisted or changed."""
    digests = read_manifest(directory)
    present = [name for name in (preset_files.CONFIG_FILE, preset_files.PREPROCESSOR_FILE)
               if os.path.isfile(os.path.join(directory, name))]
    for name in present:  # Checked before reading the asset names in one.
        _check_file(directory, name, digests)
    if preset_files.PREPROCESSOR_FILE in present:
        for name in preset_files.read_preprocessor_config(directory)["assets"]:
            _check_file(directory, name, digests)
    if load_weights and preset_files.CONFIG_FILE in present:
        _check_file(directory, preset_files.WEIGHTS_FILE, digests)
