"""A Hugging Face Hub made of local folders, and the `offline` fixture.

No test touches the network: `offline` makes every download fail and gives
each test its own cache; `fake_hub` serves `{repo_id: directory}` instead,
through the one download function kerasmm calls, and records every call.
"""

import collections
import os
import shutil

import pytest

from kerasmm.presets import download

# One call of the download function: what was asked, and whether the file
# was already in the cache when it was asked for.
Call = collections.namedtuple("Call", ["repo_id", "filename", "force_download", "revision",
                                       "cached"])
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # A made-up pinned commit.


class FakeHub:
    """`hf_hub_download` over local folders: {repo_id: directory}."""

    def __init__(self, repos):
        self.repos = repos
        self.calls = []

    def __call__(self, repo_id, filename, revision=None, cache_dir=None,
                 force_download=False):
        source = os.path.join(self.repos.get(repo_id, "/nonexistent"), filename)
        target = os.path.join(cache_dir, repo_id.replace("/", "--"), str(revision), filename)
        self.calls.append(Call(repo_id, filename, force_download, revision,
                               os.path.isfile(target)))
        if not os.path.isfile(source):
            raise FileNotFoundError(f"{repo_id} has no {filename}")
        if force_download or not os.path.isfile(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(source, target)
        return target

    def fetched(self, filename):
        return [call for call in self.calls if call.filename == filename]


def pinned(converter, repo_id, directory, files, revision=COMMIT):
    """A registry source pinning `files` of `directory` (served as `repo_id`)."""
    return {"converter": converter, "hf_repo": repo_id, "revision": revision,
            "sha256": {f: download.sha256_of(os.path.join(directory, f)) for f in files}}


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Any download not faked by a test fails; the cache is per test."""
    def no_network(**kwargs):
        raise AssertionError(f"network access in a test: {kwargs}")

    monkeypatch.setattr(download, "_hf_hub_download", no_network)
    monkeypatch.setenv("KERASMM_HOME", os.path.join(tmp_path, "home"))
    monkeypatch.delenv("KERASMM_ALLOW_UNPINNED", raising=False)


def fake_hub(monkeypatch, repos):
    hub = FakeHub(repos)
    monkeypatch.setattr(download, "_hf_hub_download", hub)
    return hub
