"""Trust on first use: the sha256 of files downloaded without a pin.

A registry source that is not pinned yet downloads only when the user opts
in (`from_preset(name, allow_unpinned=True)` or `KERASMM_ALLOW_UNPINNED=1`),
and an `hf://org/repo@<commit>` names no hashes. The first download of
each such file records its sha256 in the lock file,
`$KERASMM_HOME/unpinned.lock.json`; every later load checks the file
against it (`kerasmm.presets.download.fetch`), so a cached file that
changed, or a repo branch that moved, is refused instead of used. Deleting
an entry (or the file) trusts the next download again.
"""

import json
import os
import tempfile

from kerasmm import convert
from kerasmm.utils.checks import check_bool

LOCK_FILE = "unpinned.lock.json"
ALLOW_UNPINNED_ENV = "KERASMM_ALLOW_UNPINNED"


def unpinned_allowed(allow_unpinned=False):
    """True if the user allowed unpinned downloads: the argument, or the
    environment variable `KERASMM_ALLOW_UNPINNED` set to 1, true or yes."""
    check_bool("allow_unpinned", allow_unpinned)
    flag = os.environ.get(ALLOW_UNPINNED_ENV, "").strip().lower()
    return allow_unpinned or flag in ("1", "true", "yes")


class TrustLock:
    """The lock file: `{"org/repo@revision": {file name: sha256}}`.

    Args:
        path: the lock file (created on the first record).

    Example:
    >>> import tempfile
    >>> lock = TrustLock(os.path.join(tempfile.mkdtemp(), LOCK_FILE))
    >>> lock.expected("org/repo", None, "config.json") is None
    True
    >>> lock.record("org/repo", None, "config.json", "ab" * 32)
    >>> lock.expected("org/repo", None, "config.json") == "ab" * 32
    True
    """

    def __init__(self, path):
        self.path = path

    @staticmethod
    def key(repo_id, revision):
        """The entry of a repo at a revision (None: its default branch)."""
        return f"{repo_id}@{revision}" if revision else f"{repo_id}@<default branch>"

    def _read(self):
        if not os.path.exists(self.path):
            return {}
        return convert.read_json(self.path)

    def expected(self, repo_id, revision, filename):
        """The sha256 recorded for the file, or None."""
        entry = self._read().get(self.key(repo_id, revision), {})
        return entry.get(filename) if isinstance(entry, dict) else None

    def record(self, repo_id, revision, filename, digest):
        """Records the sha256 of a file downloaded for the first time."""
        content = self._read()
        content.setdefault(self.key(repo_id, revision), {})[filename] = digest
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, exist_ok=True)
        # Written whole, then renamed: a crash never leaves half a lock file.
        handle, scratch = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            json.dump(content, f, indent=1, sort_keys=True)
        os.replace(scratch, self.path)
