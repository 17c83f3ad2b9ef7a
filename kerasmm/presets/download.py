"""Downloads from the Hugging Face Hub, verified, and the cache.

Everything that touches the network is here: `fetch` (one file, verified
against its sha256) and `fetch_sources` (the files of the first complete
source of a preset). Downloads go through `huggingface_hub.hf_hub_download`
only, into `$KERASMM_HOME/huggingface` (default `~/.cache/kerasmm`).

What a file is verified against, in order:

- a pinned registry source's `sha256` (its `revision` is a commit, and only
  the files it lists are fetched: `kerasmm.presets.pins`);
- the `manifest.json` of a kerasmm preset on the Hub;
- the lock file of files trusted on first use (`kerasmm.presets.lock`):
  unpinned registry sources, which download only when the user allows
  them, and `hf://org/repo@<commit>`.

`hf://org/repo` at a branch (or none, the default branch) is what the user
asked for as it is now: a kerasmm preset there is still checked against
its manifest, a checkpoint of another library is not verified.

A file whose sha256 differs is deleted from the cache and downloaded once
more; a second mismatch deletes it too and raises a ValueError naming the
file and both digests. A mismatching file is never used.
"""

import os

from kerasmm.convert.safetensors_io import safe_torch_version
from kerasmm.presets import preset_files
from kerasmm.presets.lock import LOCK_FILE
from kerasmm.presets.lock import TrustLock
from kerasmm.presets.lock import unpinned_allowed
from kerasmm.presets.manifest import MANIFEST_FILE
from kerasmm.presets.manifest import read_manifest
from kerasmm.presets.manifest import sha256_of
from kerasmm.presets.pins import is_commit

_TORCH_SUFFIXES = (".bin", ".pt", ".pth")


def kerasmm_home():
    """The cache root: `$KERASMM_HOME`, else `~/.cache/kerasmm`."""
    return os.path.expanduser(os.environ.get("KERASMM_HOME") or "~/.cache/kerasmm")


def trust_lock():
    """The lock file of files trusted on first use, under `kerasmm_home()`."""
    return TrustLock(os.path.join(kerasmm_home(), LOCK_FILE))


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


def _download(repo_id, filename, revision, force_download=False):
    """The local path of one file, or None if the repo has no such file."""
    try:
        return _hf_hub_download(repo_id=repo_id, filename=filename, revision=revision,
                                cache_dir=os.path.join(kerasmm_home(), "huggingface"),
                                force_download=force_download)
    except Exception as error:  # noqa: BLE001 (classified below)
        if _is_missing_file(error):
            return None
        raise ValueError(
            f"Could not download {filename!r} from the Hugging Face repo "
            f"{repo_id!r} (revision={revision!r}): {type(error).__name__}: {error}"
        ) from error


def _discard(path):
    """Deletes a cached file: the Hub cache's link and the blob it points to."""
    target = os.path.realpath(path)
    for name in {path, target}:
        if os.path.lexists(name):
            os.remove(name)


def fetch(repo_id, filename, revision=None, sha256=None, lock=None, origin="the registry pin"):
    """Downloads (or finds in the cache) one file of a Hub repo, verified.

    Args:
        repo_id, filename, revision: what to download (revision None: the
            default branch).
        sha256: the digest the file must have (a pin or a manifest entry).
        lock: a `TrustLock`: without `sha256`, the file must have the
            digest recorded there, which is recorded on first download.
        origin: where `sha256` comes from, for the error message.

    Returns:
        The local path, or None if the repo has no such file.
    """
    path = _download(repo_id, filename, revision)
    if path is None:
        return None
    expected = sha256
    if expected is None and lock is not None:
        expected = lock.expected(repo_id, revision, filename)
        origin = f"recorded on first use in {lock.path}"
        if expected is None:
            lock.record(repo_id, revision, filename, sha256_of(path))
            return path
    if expected is None:
        return path
    actual = sha256_of(path)
    if actual == expected:
        return path
    mismatch = (f"{filename!r} from the Hugging Face repo {repo_id!r} (revision={revision!r}) "
                f"has sha256 {actual}, expected {expected} ({origin}).")
    _discard(path)  # Never used: fetched once more from the Hub.
    try:
        path = _download(repo_id, filename, revision, force_download=True)
    except ValueError as error:
        raise ValueError(f"{mismatch} It was deleted from the cache, and downloading it "
                         f"again failed: {error}") from error
    actual = None if path is None else sha256_of(path)
    if actual != expected:
        if path is not None:
            _discard(path)
        raise ValueError(
            f"{filename!r} from the Hugging Face repo {repo_id!r} (revision={revision!r}) "
            f"has sha256 {actual}, expected {expected} ({origin}). It was deleted from "
            "the cache and downloaded again with the same result, so the file changed "
            "upstream or the download is corrupted; nothing was loaded."
        )
    return path


def _kerasmm_files(repo, revision, hashes, load_weights, lock):
    """Fetches a kerasmm preset uploaded to the Hub; returns its directory.
    Its manifest gives the sha256 of every other file (a pin, if any, too);
    a file it does not list is not fetched. A missing manifest, or a file it
    lists that is missing, is a ValueError."""
    manifest_path = fetch(repo, MANIFEST_FILE, revision, hashes.get(MANIFEST_FILE), lock)
    if manifest_path is None:
        raise ValueError(f"The kerasmm preset in the Hugging Face repo {repo!r} has no "
                         f"{MANIFEST_FILE} (the sha256 of its files), so it cannot be "
                         "verified: upload it with the files save_to_preset wrote")
    digests = {**read_manifest(os.path.dirname(manifest_path)), **hashes}

    def get(filename, required=True):
        if filename not in digests:
            if required:
                raise ValueError(f"The kerasmm preset in the Hugging Face repo {repo!r}: "
                                 f"its {MANIFEST_FILE} does not list {filename!r}, so it "
                                 "is not loaded")
            return None
        path = fetch(repo, filename, revision, digests[filename],
                     origin=f"{MANIFEST_FILE} or the registry pin")
        if path is None and required:
            raise ValueError(f"The kerasmm preset in the Hugging Face repo {repo!r} "
                             f"lists {filename!r}, which the repo does not have")
        return path

    directory = os.path.dirname(get(preset_files.CONFIG_FILE))
    if load_weights:
        get(preset_files.WEIGHTS_FILE)
    if get(preset_files.PREPROCESSOR_FILE, required=False) is not None:
        for asset in preset_files.read_preprocessor_config(directory)["assets"]:
            get(asset)
    return directory


def _source_lock(source):
    """The trust-on-first-use lock for a source that names no sha256 (an
    allowed unpinned source, or hf:// at a commit), else None."""
    if "sha256" in source:
        return None
    if source.get("unpinned") or is_commit(source.get("revision")):
        return trust_lock()
    return None


def _fetch_source(source, load_weights, allow_torch, converters):
    """Fetches one registry / hf:// source; returns its directory or None.
    A pinned source fetches only the files it pins, at its commit."""
    repo, revision = source["hf_repo"], source.get("revision")
    hashes = source.get("sha256", {})
    lock = _source_lock(source)
    if source["converter"] == preset_files.KERASMM_KIND:
        return _kerasmm_files(repo, revision, hashes, load_weights, lock)

    def allowed(filename):
        return "sha256" not in source or filename in hashes

    def get(filename):
        return fetch(repo, filename, revision, hashes.get(filename), lock)

    spec = converters[source["converter"]]
    if not allowed(spec.config_file):
        return None
    config_path = get(spec.config_file)
    if config_path is None:
        return None
    if load_weights:
        candidates = [f for f in spec.weight_files if allowed(f)
                      and (allow_torch or not f.endswith(_TORCH_SUFFIXES))]
        if not any(get(f) for f in candidates):
            return None
    for asset in spec.asset_files:
        if allowed(asset):
            get(asset)
    return os.path.dirname(config_path)


def _torch_available():
    """True if torch is installed at a version that loads pickles safely
    (`torch.load(weights_only=True)`, torch >= 2.6: CVE-2025-32434)."""
    try:
        import torch
    except ImportError:
        return False
    return safe_torch_version(torch.__version__)


def unpinned_error(name, sources):
    """The ValueError for a registry preset whose sources are not pinned."""
    repos = ", ".join(s["hf_repo"] for s in sources)
    return ValueError(
        f"The preset {name!r} is not pinned yet: its sources ({repos}) name no commit "
        "and no sha256 of their files, so kerasmm cannot verify what it would download "
        "(whatever the repos' default branch holds now). To download it anyway, pass "
        "allow_unpinned=True to from_preset (or set KERASMM_ALLOW_UNPINNED=1): the sha256 "
        f"of each file is then recorded in {trust_lock().path} on first use and checked "
        "on every later load (trust on first use). Maintainers pin presets with "
        "tools/pin_presets.py."
    )


def fetch_sources(sources, load_weights, name, converters, allow_unpinned=False):
    """`(directory, kind)` of the first source that has all its files.

    Safetensors weights from every source are tried before any PyTorch
    pickle, which is tried only when torch >= 2.6 is installed. Sources
    marked `"unpinned"` are skipped unless `allow_unpinned` (or
    `KERASMM_ALLOW_UNPINNED=1`); when that leaves none, nothing is
    downloaded and a ValueError says how to opt in.

    Args:
        sources: registry sources (see `kerasmm.presets.registry`) or the
            sources of an `hf://` preset.
        load_weights: fetch the weights too (else config and assets only).
        name: the preset, for error messages.
        converters: `{kind: Converter}` the sources' `converter` keys name.
        allow_unpinned: download unpinned registry sources (trust on first use).
    """
    unknown = [s["converter"] for s in sources
               if s["converter"] != preset_files.KERASMM_KIND and s["converter"] not in converters]
    if unknown:
        raise ValueError(f"Preset {name!r} names converters kerasmm does not know: "
                         f"{unknown}. Known: {sorted(converters)}")
    unpinned = [s for s in sources if s.get("unpinned")]
    if unpinned and not unpinned_allowed(allow_unpinned):
        sources = [s for s in sources if not s.get("unpinned")]
        if not sources:
            raise unpinned_error(name, unpinned)
    passes = [False, True] if load_weights and _torch_available() else [False]
    for allow_torch in passes:
        for source in sources:
            directory = _fetch_source(source, load_weights, allow_torch, converters)
            if directory is not None:
                return directory, source["converter"]
    tried = [f"{s['hf_repo']} ({s['converter']})" for s in sources]
    hint = "" if _torch_available() else (
        " Only PyTorch pickles may be there: reading them needs torch >= 2.6 "
        "(`pip install 'torch>=2.6'`).")
    if unpinned and not unpinned_allowed(allow_unpinned):
        hint += f" Unpinned sources were not tried: {[s['hf_repo'] for s in unpinned]}."
    raise ValueError(f"No complete checkpoint found for {name!r}. Tried: {tried}.{hint}")
