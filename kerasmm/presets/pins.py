"""Pins: the exact commit and file hashes a remote preset source downloads.

A registry source (see `kerasmm.presets.registry`) is pinned when it names
`revision`, a 40-hex commit of its Hugging Face repo, and `sha256`,
`{file name: hex digest}` of every file it may fetch; `from_preset`
fetches only those files, at that commit, and refuses any whose bytes
differ. A family keeps its pins as package data beside its presets,
`kerasmm/models/<family>/<family>_pins.json`:

    {"org/repo": {"revision": "<40 hex>", "sha256": {"config.json": "<64 hex>"}}}

written by `tools/pin_presets.py` (run online; it reads the commit and the
hashes from the Hub). `hub_source` joins a source with its pin; a repo the
file does not pin yet gives a source marked `"unpinned": True`.

Names that reach the Hub or the file system are checked here first, before
any network call: repo ids, revisions and file names.
"""

import re

from kerasmm import convert

_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# A branch or tag name (or a commit): no path separators, whitespace or
# control characters; `..` is refused separately.
_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Each half of "org/name", as the Hub allows them (ASCII only here).
_REPO_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}")


def is_commit(revision):
    """True if `revision` is a full commit hash (40 lowercase hex digits)."""
    return isinstance(revision, str) and _COMMIT.fullmatch(revision) is not None


def check_revision(name, value):
    """A ValueError unless `value` is a branch or tag name or a commit hash.

    Example:
    >>> check_revision("revision", "v1.0")
    >>> check_revision("revision", "../main")
    Traceback (most recent call last):
    ...
    ValueError: revision must be a branch or tag name or a 40-hex commit ...
    """
    if (not isinstance(value, str) or _REVISION.fullmatch(value) is None
            or ".." in value):
        raise ValueError(
            f"{name} must be a branch or tag name or a 40-hex commit (letters, digits, "
            "'.', '_' and '-', at most 128 characters; no path separators, '..', "
            f"whitespace or control characters). Received: {name}={value!r:.200}"
        )


def check_repo_id(name, value):
    """A ValueError unless `value` is a Hugging Face repo id, `"org/name"`."""
    parts = value.split("/") if isinstance(value, str) else []
    if (len(parts) != 2 or any(_REPO_PART.fullmatch(p) is None for p in parts)
            or ".." in value or "--" in value or value.endswith(".git")):
        raise ValueError(
            f"{name} must be a Hugging Face repo id 'org/name' (letters, digits, "
            "'.', '_' and '-'; no '..' or '--'). "
            f"Received: {name}={value!r:.200}"
        )


def check_file_name(name, value):
    """A ValueError unless `value` is a plain file name (no directories)."""
    if not isinstance(value, str) or _FILE_NAME.fullmatch(value) is None or ".." in value:
        raise ValueError(
            f"{name} must be a plain file name (letters, digits, '.', '_' and '-'; no "
            f"path separators or '..'). Received: {name}={value!r:.200}"
        )


def check_sha256(name, value):
    """A ValueError unless `value` is a sha256 hex digest (64 lowercase hex)."""
    if not isinstance(value, str) or _SHA256.fullmatch(value) is None:
        raise ValueError(f"{name} must be a sha256 digest (64 lowercase hex digits). "
                         f"Received: {name}={value!r:.200}")


def check_pin(where, pin):
    """A ValueError naming `where` unless `pin` is `{"revision", "sha256"}`
    with a commit and a non-empty map of file names to digests."""
    if not isinstance(pin, dict) or set(pin) != {"revision", "sha256"}:
        raise ValueError(f"{where}: a pin must be a dict with exactly the keys "
                         f"'revision' and 'sha256'. Received: {pin!r:.200}")
    if not is_commit(pin["revision"]):
        raise ValueError(f"{where}: revision must be a 40-hex commit (a branch or tag "
                         f"moves). Received: revision={pin['revision']!r:.200}")
    if not isinstance(pin["sha256"], dict) or not pin["sha256"]:
        raise ValueError(f"{where}: sha256 must map each file the source fetches to "
                         f"its digest. Received: sha256={pin['sha256']!r:.200}")
    for filename, digest in pin["sha256"].items():
        check_file_name(f"{where}: file name", filename)
        check_sha256(f"{where}: sha256 of {filename}", digest)


def read_pins(path):
    """`{hf_repo: pin}` from a family's pins file, each pin checked; a
    ValueError names the file."""
    pins = convert.read_json(path)
    for repo, pin in pins.items():
        check_repo_id(f"{path}: repo", repo)
        check_pin(f"{path}: {repo}", pin)
    return pins


def hub_source(converter, hf_repo, pins):
    """A registry source for `hf_repo`: with its pin from `pins` when there
    is one, else marked `"unpinned": True`.

    Example:
    >>> hub_source("hf_clip", "org/repo", {})
    {'converter': 'hf_clip', 'hf_repo': 'org/repo', 'unpinned': True}
    """
    check_repo_id("hf_repo", hf_repo)
    if hf_repo not in pins:
        return {"converter": converter, "hf_repo": hf_repo, "unpinned": True}
    pin = pins[hf_repo]
    return {"converter": converter, "hf_repo": hf_repo, "revision": pin["revision"],
            "sha256": dict(pin["sha256"])}
