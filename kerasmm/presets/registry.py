"""Preset entries: their format, their checks, and joining families.

A family keeps its presets as plain data in its folder
(`kerasmm/models/clip/clip_presets.py`: `{name: entry}`) and its classes
carry them as the class attribute `family_presets`; nothing registers
itself on import. `kerasmm.models.presets.PRESETS` joins every family's
with `merge_presets`, explicitly.

Each entry:

- `class_name`: the model class (`Model.presets` lists the entries of that
  class; `Model.from_preset(name)` builds it).
- `description`: one line.
- Where the files are, exactly one of:
  - `sources`: Hugging Face Hub repos, tried in order until one has the
    files: `{"converter": a key of the class's converters (by default
    kerasmm.convert.CONVERTERS), "hf_repo": "org/name", "revision": a
    40-hex commit, "sha256": {file name: hex digest}}`, pinned: only the
    files in `sha256` are fetched (the converter's config file, its weights
    file and assets such as the tokenizer vocabulary and merges), at that
    commit, each checked (`kerasmm.presets.download`). Safetensors weights
    from every source are tried before any PyTorch pickle (which needs
    torch >= 2.6). A source not pinned yet is `{"converter", "hf_repo",
    "unpinned": True}`: `from_preset` downloads it only when the user
    allows it (trust on first use, `kerasmm.presets.lock`). A family's
    data module builds its sources with `kerasmm.presets.pins.hub_source`
    from its pins file.
  - `package_data`: a directory shipped in the package under
    `kerasmm/weights/` (written by `save_to_preset`).
  - `directory`: a local directory (absolute path), read as
    `from_preset(directory)` reads one.
- `preprocessing`: optional, the constants the model expects (image size,
  pixel mean/std, resize interpolation, text context length, ...); without
  it they are read from the preset's files.
- `params` (open_clip's count), `download_size` (approximate size of the
  weights file), `metrics`: documentation (see `weights/README.md`);
  `metrics` values are published numbers with their source.
"""

from kerasmm import convert
from kerasmm.presets import preset_files
from kerasmm.presets.manifest import MANIFEST_FILE
from kerasmm.presets.pins import check_file_name
from kerasmm.presets.pins import check_pin
from kerasmm.presets.pins import check_repo_id

_LOCATIONS = ("sources", "package_data", "directory")
_SOURCE_KEYS = {"converter", "hf_repo", "revision", "sha256", "unpinned"}


def _required_files(converter):
    """Groups of files a pinned source of `converter` must pin (one of each
    group): its config file and a weights file. None for a converter this
    check does not know (a family's own)."""
    if converter == preset_files.KERASMM_KIND:  # A kerasmm preset on the Hub.
        return [[preset_files.CONFIG_FILE], [MANIFEST_FILE]]
    spec = convert.CONVERTERS.get(converter)
    return None if spec is None else [[spec.config_file], list(spec.weight_files)]


def check_source(name, source):
    """A ValueError naming the preset unless `source` is a pinned source
    (a commit and the sha256 of its config and weights files, at least) or
    one marked `"unpinned": True` (with neither)."""
    if not isinstance(source, dict) or not {"converter", "hf_repo"} <= set(source):
        raise ValueError(f"Preset {name!r}: each source needs 'converter' and "
                         f"'hf_repo'. Received: {source!r}")
    unknown = sorted(set(source) - _SOURCE_KEYS)
    if unknown:
        raise ValueError(f"Preset {name!r}: unknown keys {unknown} in a source. "
                         f"Valid: {sorted(_SOURCE_KEYS)}")
    check_repo_id(f"Preset {name!r}: hf_repo", source["hf_repo"])
    where = f"Preset {name!r}, source {source['hf_repo']}"
    if source.get("unpinned") is True:
        if "revision" in source or "sha256" in source:
            raise ValueError(f"{where}: an unpinned source names neither a revision nor "
                             "sha256 (drop 'unpinned' once it is pinned)")
        return
    if "revision" not in source or "sha256" not in source:
        raise ValueError(
            f"{where} must be pinned: 'revision' (a 40-hex commit) and 'sha256' (the "
            "digest of each file it fetches), written by tools/pin_presets.py; or marked "
            "'unpinned': True, which from_preset downloads only when the user allows it. "
            f"Received keys: {sorted(source)}")
    check_pin(where, {"revision": source["revision"], "sha256": source["sha256"]})
    for group in _required_files(source["converter"]) or []:
        if not any(filename in source["sha256"] for filename in group):
            raise ValueError(f"{where}: sha256 must pin one of {group} (the source "
                             f"fetches it). Received: {sorted(source['sha256'])}")


def check_preset_entry(name, entry):
    """A ValueError naming the preset unless `entry` has the format above
    (each remote source pinned, or marked unpinned: `check_source`)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"A preset name must be a non-empty str. Received: name={name!r}")
    if not isinstance(entry, dict):
        raise ValueError(f"Preset {name!r}: an entry must be a dict. Received: {entry!r}")
    for key in ("class_name", "description"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ValueError(f"Preset {name!r}: {key} must be a non-empty str. "
                             f"Received: {key}={entry.get(key)!r}")
    locations = [key for key in _LOCATIONS if key in entry]
    if len(locations) != 1:
        raise ValueError(f"Preset {name!r} must give exactly one of {list(_LOCATIONS)}. "
                         f"Received: {locations}")
    if "sources" in entry:
        if not isinstance(entry["sources"], (list, tuple)) or not entry["sources"]:
            raise ValueError(f"Preset {name!r}: sources must be a non-empty list. "
                             f"Received: {entry['sources']!r}")
        for source in entry["sources"]:
            check_source(name, source)
    if "package_data" in entry:
        check_file_name(f"Preset {name!r}: package_data", entry["package_data"])
    if "preprocessing" in entry and not isinstance(entry["preprocessing"], dict):
        raise ValueError(f"Preset {name!r}: preprocessing must be a dict. "
                         f"Received: {entry['preprocessing']!r}")


def unpinned_hub_entry(class_name, description, converter, hf_repo):
    """A preset entry of one Hub repository not pinned yet (`"unpinned": True`).

    `from_preset` downloads it only with `allow_unpinned=True`;
    `tools/pin_presets.py` (online) pins it.

    Example:
    >>> unpinned_hub_entry("Toy", "A toy.", "hf_toy", "org/toy")["sources"]
    [{'converter': 'hf_toy', 'hf_repo': 'org/toy', 'unpinned': True}]
    """
    return {
        "class_name": class_name,
        "description": description,
        "sources": [{"converter": converter, "hf_repo": hf_repo, "unpinned": True}],
    }


def merge_presets(*families):
    """One `{name: entry}` dict from several families' entries.

    Checks every entry and refuses a name two families use.

    Example:
    >>> toy = {"toy_tiny": {"class_name": "Toy", "description": "A toy.",
    ...                     "directory": "/tmp/toy"}}
    >>> sorted(merge_presets(toy, {}))
    ['toy_tiny']
    """
    merged = {}
    for family in families:
        for name, entry in family.items():
            check_preset_entry(name, entry)
            if name in merged:
                raise ValueError(f"Two families define the preset {name!r}")
            merged[name] = entry
    return merged


def presets_of_class(presets, class_name):
    """The entries of `presets` whose class is `class_name` (copies)."""
    return {name: dict(entry) for name, entry in presets.items()
            if entry["class_name"] == class_name}
