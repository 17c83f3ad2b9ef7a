"""Where a preset's files are: registry names, `hf://` repos, local folders.

`resolve(preset)` returns a local directory holding the preset's files and
the kind of checkpoint in it (`"kerasmm"` for a folder written by
`save_to_preset`, else a key of the converters in use). Registry names are
looked up in the `presets` passed in (a family's `family_presets`), never in
a global table. Nothing touches the network unless a remote preset is asked
for (`kerasmm.presets.download`), and nothing before the names in it are
checked. A kerasmm preset directory is checked against its manifest
(`kerasmm.presets.manifest`) before anything in it is read.
"""

import collections
import difflib
import os

from kerasmm import convert
from kerasmm.presets import download
from kerasmm.presets import preset_files
from kerasmm.presets.manifest import verify_preset
from kerasmm.presets.pins import check_repo_id
from kerasmm.presets.pins import check_revision
from kerasmm.presets.registry import check_preset_entry
from kerasmm.utils.checks import check_bool

PACKAGE_WEIGHTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "weights")

Resolved = collections.namedtuple("Resolved", ["directory", "kind", "entry"])


def default_converters(converters=None):
    """`converters`, or `kerasmm.convert.CONVERTERS` when None."""
    return convert.CONVERTERS if converters is None else converters


def detect_kind(directory, converters=None):
    """The kind of checkpoint in `directory`: `"kerasmm"`, a key of
    `converters` whose config file is there and matches, or None."""
    if preset_files.is_kerasmm_preset(directory):
        return preset_files.KERASMM_KIND
    return convert.detect(directory, default_converters(converters))


def _expected_files(converters):
    return ", ".join(f"{s.config_file} ({k})" for k, s in converters.items())


def _resolve_directory(directory, converters, load_weights):
    kind = detect_kind(directory, converters)
    if kind is None:
        raise ValueError(
            f"The directory {directory!r} holds no preset kerasmm knows: expected "
            f"a {preset_files.CONFIG_FILE} or {preset_files.PREPROCESSOR_FILE} "
            f"written by save_to_preset, or {_expected_files(converters)}. "
            f"Found: {sorted(os.listdir(directory))}"
        )
    if kind == preset_files.KERASMM_KIND:
        verify_preset(directory, load_weights)
    return Resolved(directory, kind, None)


def _hf_sources(repo, revision, converters):
    """Sources to try for `hf://repo`: one per checkpoint kind whose config
    file the repo has."""
    kerasmm_config = download.fetch(repo, preset_files.CONFIG_FILE, revision)
    if kerasmm_config is not None and "kerasmm_version" in convert.read_json(kerasmm_config):
        return [{"converter": preset_files.KERASMM_KIND, "hf_repo": repo,
                 "revision": revision}]
    sources = []
    for kind, spec in converters.items():
        if spec.config_file == preset_files.CONFIG_FILE:
            path = kerasmm_config
        else:
            path = download.fetch(repo, spec.config_file, revision)
        if path is not None and spec.matches(convert.read_json(path)):
            sources.append({"converter": kind, "hf_repo": repo, "revision": revision})
    if not sources:
        raise ValueError(
            f"The Hugging Face repo {repo!r} holds no checkpoint kerasmm knows: expected "
            f"a kerasmm preset ({preset_files.CONFIG_FILE} with kerasmm_version), or "
            f"{_expected_files(converters)}"
        )
    return sources


def unknown_preset_error(preset, presets):
    """The ValueError for a name that is nothing known, with close names."""
    close = difflib.get_close_matches(str(preset), presets, n=5, cutoff=0.4)
    return ValueError(
        f"Unknown preset {preset!r}: not a registered name, an existing local "
        "directory, or 'hf://org/repo'. "
        + (f"Close names: {close}. " if close else "")
        + f"Known presets: {sorted(presets)}"
    )


def parse_hf_preset(preset):
    """`(repo, revision)` of `"hf://org/repo[@revision]"` (revision None when
    absent), both checked; a ValueError before any network call.

    Example:
    >>> parse_hf_preset("hf://org/repo@v1.0")
    ('org/repo', 'v1.0')
    """
    repo, at, revision = preset[len("hf://"):].partition("@")
    try:
        check_repo_id("repo", repo)
        if at:
            check_revision("revision", revision)
    except ValueError as error:
        raise ValueError(f"Expected 'hf://org/repo' (optionally '@revision'): {error}. "
                         f"Received: preset={preset!r:.300}") from None
    return repo, revision or None


def resolve(preset, load_weights=True, presets=None, converters=None, allow_unpinned=False):
    """`Resolved(directory, kind, entry)` for a preset; downloads what is needed.

    Args:
        preset: a name in `presets`, `"hf://org/repo"` (optionally
            `"@revision"`), or a local directory.
        load_weights: fetch weight files too (else config and assets only).
        presets: `{name: entry}` to look names up in (e.g. a model class's
            `family_presets`); None: names are not accepted.
        converters: `{kind: Converter}`; None: `kerasmm.convert.CONVERTERS`.
        allow_unpinned: download a registry preset that is not pinned yet
            (trust on first use; see `kerasmm.presets.lock`).
    """
    check_bool("allow_unpinned", allow_unpinned)
    presets = presets or {}
    converters = default_converters(converters)
    if not isinstance(preset, (str, os.PathLike)):
        raise TypeError(f"preset must be a name, a directory or 'hf://org/repo'. "
                        f"Received: preset of type {type(preset).__name__}")
    preset = os.fspath(preset)
    if preset in presets:
        entry = presets[preset]
        check_preset_entry(preset, entry)
        if "package_data" in entry:
            directory = os.path.join(PACKAGE_WEIGHTS, entry["package_data"])
            if not preset_files.is_kerasmm_preset(directory):
                raise ValueError(
                    f"The preset {preset!r} ships with kerasmm, but its files are "
                    f"missing from {directory}. Recreate them with "
                    f"weights/train_{preset}.py (or reinstall kerasmm)."
                )
            verify_preset(directory, load_weights)
            return Resolved(directory, preset_files.KERASMM_KIND, entry)
        if "directory" in entry:
            if not os.path.isdir(entry["directory"]):
                raise ValueError(f"The preset {preset!r} points to the directory "
                                 f"{entry['directory']!r}, which does not exist")
            return _resolve_directory(entry["directory"], converters,
                                      load_weights)._replace(entry=entry)
        directory, kind = download.fetch_sources(entry["sources"], load_weights, preset,
                                                 converters, allow_unpinned)
        return Resolved(directory, kind, entry)
    if preset.startswith("hf://"):
        repo, revision = parse_hf_preset(preset)
        sources = _hf_sources(repo, revision, converters)
        directory, kind = download.fetch_sources(sources, load_weights, preset, converters)
        return Resolved(directory, kind, None)
    if os.path.isdir(preset):
        return _resolve_directory(preset, converters, load_weights)
    raise unknown_preset_error(preset, presets)
