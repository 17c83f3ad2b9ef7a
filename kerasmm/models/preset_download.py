"""Where a preset's files are: registry names, `hf://` repos, local folders.

`resolve(preset)` returns a local directory holding the preset's files and
the kind of checkpoint in it (`"kerasmm"` for a folder written by
`save_to_preset`, else a key of `kerasmm.convert.CONVERTERS`). Downloads go
through `huggingface_hub.hf_hub_download` only, into
`$KERASMM_HOME/huggingface` (default `~/.cache/kerasmm`); a file with a
known sha256 is checked, and fetched again when the cached copy is corrupt.
Nothing touches the network unless a remote preset is asked for.
"""

import collections
import difflib
import hashlib
import json
import os

from kerasmm import convert
from kerasmm.models.presets import PRESETS

KERASMM_KIND = "kerasmm"
KERASMM_CONFIG = "config.json"
KERASMM_WEIGHTS = "model.safetensors"
TOKENIZER_ASSETS = ("vocab.json", "merges.txt")
_TORCH_SUFFIXES = (".bin", ".pt", ".pth")
PACKAGE_WEIGHTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "weights")

Resolved = collections.namedtuple("Resolved", ["directory", "kind", "entry"])


def kerasmm_home():
    """The cache root: `$KERASMM_HOME`, else `~/.cache/kerasmm`."""
    return os.path.expanduser(os.environ.get("KERASMM_HOME") or "~/.cache/kerasmm")


def is_kerasmm_preset(directory):
    """True if `directory` was written by `save_to_preset`."""
    path = os.path.join(directory, KERASMM_CONFIG)
    return os.path.isfile(path) and "kerasmm_version" in convert.read_json(path)


# === Downloads ===


def _hf_hub_download(**kwargs):
    """The one function that touches the network (tests replace it)."""
    try:
        import huggingface_hub
    except ImportError:
        raise ImportError(
            "Downloading a preset needs huggingface_hub: `pip install huggingface_hub`"
        ) from None
    return huggingface_hub.hf_hub_download(**kwargs)


def _is_missing_file(error):
    """True if the Hub answered that the file (or repo, or revision) is not
    there: the next candidate may have it."""
    try:
        from huggingface_hub.errors import EntryNotFoundError
        from huggingface_hub.errors import LocalEntryNotFoundError
        from huggingface_hub.errors import RepositoryNotFoundError
        from huggingface_hub.errors import RevisionNotFoundError
    except ImportError:  # pragma: no cover
        return isinstance(error, FileNotFoundError)
    if isinstance(error, LocalEntryNotFoundError):
        return False  # Offline and not cached: not a reason to try elsewhere.
    return isinstance(error, (EntryNotFoundError, RepositoryNotFoundError,
                              RevisionNotFoundError, FileNotFoundError))


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(repo_id, filename, revision=None, sha256=None):
    """Downloads (or finds in the cache) one file of a Hub repo.

    Returns its local path, or None if the repo has no such file. With a
    known `sha256`, a cached file whose hash differs is fetched again; a
    download that still differs raises.
    """
    kwargs = dict(repo_id=repo_id, filename=filename, revision=revision,
                  cache_dir=os.path.join(kerasmm_home(), "huggingface"))
    try:
        path = _hf_hub_download(**kwargs)
    except Exception as error:  # noqa: BLE001 (classified below)
        if _is_missing_file(error):
            return None
        raise ValueError(
            f"Could not download {filename!r} from the Hugging Face repo "
            f"{repo_id!r} (revision={revision!r}): {type(error).__name__}: {error}"
        ) from error
    if sha256 is not None and sha256_of(path) != sha256.lower():
        path = _hf_hub_download(force_download=True, **kwargs)
        actual = sha256_of(path)
        if actual != sha256.lower():
            raise ValueError(
                f"{filename!r} from {repo_id!r} has sha256 {actual}, expected "
                f"{sha256}. The download is corrupt or the file changed upstream."
            )
    return path


def _fetch_source(source, load_weights, allow_torch):
    """Fetches one registry/hf:// source; returns its directory or None."""
    repo, revision = source["hf_repo"], source.get("revision")
    hashes = source.get("sha256", {})
    kind = source["converter"]
    if kind == KERASMM_KIND:
        config_file, weight_files, assets = KERASMM_CONFIG, (KERASMM_WEIGHTS,), TOKENIZER_ASSETS
    else:
        spec = convert.CONVERTERS[kind]
        config_file, weight_files, assets = spec.config_file, spec.weight_files, spec.asset_files
    config_path = fetch(repo, config_file, revision, hashes.get(config_file))
    if config_path is None:
        return None
    if load_weights:
        candidates = [f for f in weight_files if allow_torch or not f.endswith(_TORCH_SUFFIXES)]
        if not any(fetch(repo, f, revision, hashes.get(f)) for f in candidates):
            return None
    for asset in assets:
        fetch(repo, asset, revision, hashes.get(asset))
    return os.path.dirname(config_path)


def _torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def fetch_sources(sources, load_weights, name):
    """The directory of the first source that has all its files.

    Safetensors weights from every source are tried before any PyTorch
    pickle, which is tried only when torch is installed.
    """
    passes = [False, True] if load_weights and _torch_available() else [False]
    for allow_torch in passes:
        for source in sources:
            directory = _fetch_source(source, load_weights, allow_torch)
            if directory is not None:
                return Resolved(directory, source["converter"], None)
    tried = [f"{s['hf_repo']} ({s['converter']})" for s in sources]
    hint = "" if _torch_available() else (
        " Only PyTorch pickles may be there: `pip install torch` to read them.")
    raise ValueError(f"No complete checkpoint found for {name!r}. Tried: {tried}.{hint}")


# === Resolution ===


def _detect_hf_repo(repo, revision):
    """Sources to try for `hf://repo`: one per checkpoint kind whose config
    file the repo has."""
    sources = []
    path = fetch(repo, KERASMM_CONFIG, revision)
    if path is not None:
        config = convert.read_json(path)
        if "kerasmm_version" in config:
            return [{"converter": KERASMM_KIND, "hf_repo": repo, "revision": revision}]
    for kind, spec in convert.CONVERTERS.items():
        if spec.config_file == KERASMM_CONFIG:
            matched = path is not None and spec.matches(convert.read_json(path))
        else:
            other = fetch(repo, spec.config_file, revision)
            matched = other is not None and spec.matches(convert.read_json(other))
        if matched:
            sources.append({"converter": kind, "hf_repo": repo, "revision": revision})
    if not sources:
        raise ValueError(
            f"The Hugging Face repo {repo!r} holds no checkpoint kerasmm knows: "
            "expected a kerasmm preset (config.json with kerasmm_version), or "
            + ", ".join(f"{s.config_file} for {k}" for k, s in convert.CONVERTERS.items())
        )
    return sources


def unknown_preset_error(preset):
    close = difflib.get_close_matches(str(preset), PRESETS, n=5, cutoff=0.4)
    return ValueError(
        f"Unknown preset {preset!r}: not a registered name, an existing local "
        "directory, or 'hf://org/repo'. "
        + (f"Close names: {close}. " if close else "")
        + f"Known presets: {sorted(PRESETS)}"
    )


def resolve(preset, load_weights=True):
    """`Resolved(directory, kind, entry)` for a preset name, `hf://` repo or
    local directory; downloads what is needed."""
    if not isinstance(preset, (str, os.PathLike)):
        raise TypeError(f"preset must be a name, a directory or 'hf://org/repo'. "
                        f"Received: preset of type {type(preset).__name__}")
    preset = os.fspath(preset)
    if preset in PRESETS:
        entry = PRESETS[preset]
        if "package_data" in entry:
            directory = os.path.join(PACKAGE_WEIGHTS, entry["package_data"])
            if not is_kerasmm_preset(directory):
                raise ValueError(
                    f"The preset {preset!r} ships with kerasmm, but its files are "
                    f"missing from {directory}. Recreate them with "
                    "weights/train_shapes_clip_tiny.py (or reinstall kerasmm)."
                )
            return Resolved(directory, KERASMM_KIND, entry)
        resolved = fetch_sources(entry["sources"], load_weights, preset)
        return resolved._replace(entry=entry)
    if preset.startswith("hf://"):
        repo, _, revision = preset[len("hf://"):].partition("@")
        if repo.count("/") != 1:
            raise ValueError(f"Expected 'hf://org/repo' (optionally '@revision'). "
                             f"Received: preset={preset!r}")
        return fetch_sources(_detect_hf_repo(repo, revision or None), load_weights, preset)
    if os.path.isdir(preset):
        if is_kerasmm_preset(preset):
            return Resolved(preset, KERASMM_KIND, None)
        kind = convert.detect(preset)
        if kind is None:
            raise ValueError(
                f"The directory {preset!r} holds no preset kerasmm knows: expected "
                "config.json written by save_to_preset, or "
                + ", ".join(f"{s.config_file} ({k})" for k, s in convert.CONVERTERS.items())
                + f". Found: {sorted(os.listdir(preset))}"
            )
        return Resolved(preset, kind, None)
    raise unknown_preset_error(preset)


def read_kerasmm_config(directory):
    with open(os.path.join(directory, KERASMM_CONFIG), encoding="utf-8") as f:
        return json.load(f)
