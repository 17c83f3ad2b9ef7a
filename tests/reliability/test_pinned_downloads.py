"""Issue 16, item 1: remote presets are pinned to a commit and verified by sha256.

Failed before the fix (run against the tree before it: 54 of 61 cases, and
test_tampered_cache_offline_is_refused_not_used, added later): registry
sources named no revision and no sha256; `hf://org/repo@../x`, `@a/b`, `@ma in`,
`@main\\n`, `@`, `hf://../repo` and `hf://org/re po` reached the download function;
an unpinned preset downloaded whatever the default branch held; a corrupt cached
file was re-fetched over, not deleted, and a file failing twice stayed in the cache;
a pinned source fetched files it did not pin, at any revision; `.bin` pickles were
read with any torch version; there was no lock file. Passed before, kept as guards:
test_valid_revisions_are_passed_on, the `hf://org/repo/extra` and `hf://org` cases
(the old check counted slashes) and the registry case of the shipped preset.

All offline: `tests/presets/fake_hub.py` serves local folders through the one
download function kerasmm calls and records each call.
"""

import os
import shutil
import sys
import types

import pytest

from kerasmm import convert
from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.models.presets import PRESETS
from kerasmm.presets import check_preset_entry
from kerasmm.presets import download
from kerasmm.presets import lock
from kerasmm.presets import registered_class
from kerasmm.presets.pins import is_commit
from tests.convert.parity import assert_clip_parity
from tests.convert.parity import fixture
from tests.convert.parity import reference
from tests.presets.fake_hub import COMMIT
from tests.presets.fake_hub import fake_hub
from tests.presets.fake_hub import offline  # noqa: F401 (the fixture)
from tests.presets.fake_hub import pinned

pytestmark = pytest.mark.usefixtures("offline")

HF = fixture("hf_clip_argmax")
HF_FILES = ["config.json", "model.safetensors"]


def register(monkeypatch, *sources, name="test_tiny"):
    monkeypatch.setitem(CLIP.family_presets, name, {
        "class_name": "CLIP", "description": "test", "sources": list(sources)})


def cached_path(filename, repo="org--clip", revision=COMMIT):
    return os.path.join(os.environ["KERASMM_HOME"], "huggingface", repo, str(revision),
                        filename)


# === The registry ===


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_registry_source_is_pinned_or_marked_unpinned(name):
    """Each remote source names a 40-hex commit and the sha256 of its config
    and weights files, or is explicitly marked unpinned (refused below)."""
    entry = PRESETS[name]
    check_preset_entry(name, entry)
    for source in entry.get("sources", []):
        if source.get("unpinned") is True:
            assert "revision" not in source and "sha256" not in source
            continue
        assert is_commit(source["revision"]), source
        spec = convert.CONVERTERS[source["converter"]]
        assert spec.config_file in source["sha256"]
        assert set(spec.weight_files) & set(source["sha256"])


@pytest.mark.parametrize("source, message", [
    ({"converter": "hf_clip", "hf_repo": "org/a"}, "must be pinned"),
    ({"converter": "hf_clip", "hf_repo": "org/a", "revision": "main",
      "sha256": {"config.json": "a" * 64, "model.safetensors": "b" * 64}},
     "revision must be a 40-hex commit"),
    ({"converter": "hf_clip", "hf_repo": "org/a", "revision": COMMIT,
      "sha256": {"config.json": "a" * 64}}, r"must pin one of \['model.safetensors'"),
    ({"converter": "hf_clip", "hf_repo": "org/a", "revision": COMMIT,
      "sha256": {"config.json": "A" * 64, "model.safetensors": "b" * 64}},
     "64 lowercase hex"),
    ({"converter": "hf_clip", "hf_repo": "org/a", "revision": COMMIT,
      "sha256": {"../config.json": "a" * 64, "model.safetensors": "b" * 64}},
     "plain file name"),
    ({"converter": "hf_clip", "hf_repo": "org/a", "unpinned": True, "revision": COMMIT},
     "an unpinned source names neither"),
    ({"converter": "hf_clip", "hf_repo": "org/a", "sha265": {}}, r"unknown keys \['sha265'\]"),
    ({"converter": "hf_clip", "hf_repo": "org/../a", "unpinned": True}, "repo id"),
])
def test_the_registry_check_refuses_unpinned_or_malformed_sources(source, message):
    with pytest.raises(ValueError, match=message):
        check_preset_entry("p", {"class_name": "CLIP", "description": "d",
                                 "sources": [source]})


# === Pinned sources ===


def test_pinned_revision_is_what_is_downloaded_and_only_pinned_files(monkeypatch, tmp_path):
    repo = str(tmp_path / "repo")
    shutil.copytree(fixture("hf_clip_eos"), repo)
    hub = fake_hub(monkeypatch, {"org/clip": repo})
    # The repo also has merges.txt and vocab.json: not pinned, never fetched.
    register(monkeypatch, pinned("hf_clip", "org/clip", repo, HF_FILES))
    assert_clip_parity(CLIP.from_preset("test_tiny"), reference("hf_clip_eos"))
    assert {call.revision for call in hub.calls} == {COMMIT}
    assert sorted({call.filename for call in hub.calls}) == HF_FILES


def test_tampered_cache_is_refused_deleted_and_fetched_again(monkeypatch):
    hub = fake_hub(monkeypatch, {"org/clip": HF})
    register(monkeypatch, pinned("hf_clip", "org/clip", HF, HF_FILES))
    CLIP.from_preset("test_tiny")
    path = cached_path("model.safetensors")
    with open(path, "r+b") as f:  # Same size, other bytes: safetensors would load it.
        f.seek(os.path.getsize(path) - 16)
        f.write(b"\x7f" * 16)
    assert_clip_parity(CLIP.from_preset("test_tiny"), reference("hf_clip_argmax"))
    again = hub.fetched("model.safetensors")[-1]
    assert again.force_download and not again.cached  # Deleted before the re-fetch.
    assert download.sha256_of(path) == download.sha256_of(os.path.join(HF, "model.safetensors"))


def test_tampered_cache_offline_is_refused_not_used(monkeypatch):
    from huggingface_hub.errors import LocalEntryNotFoundError

    hub = fake_hub(monkeypatch, {"org/clip": HF})
    register(monkeypatch, pinned("hf_clip", "org/clip", HF, HF_FILES))
    CLIP.from_preset("test_tiny")
    with open(cached_path("model.safetensors"), "r+b") as f:
        f.seek(300)
        f.write(b"\x04" * 8)

    def offline_hub(**kwargs):
        if kwargs["force_download"]:
            raise LocalEntryNotFoundError("no connection")
        return hub(**kwargs)

    monkeypatch.setattr(download, "_hf_hub_download", offline_hub)
    with pytest.raises(ValueError, match=r"'model.safetensors' .* has sha256 .*, expected .* "
                                         r"deleted from the cache, and downloading it again "
                                         r"failed: .*no connection"):
        CLIP.from_preset("test_tiny")
    assert not os.path.exists(cached_path("model.safetensors"))


def test_tampered_upstream_file_is_refused_naming_it_and_both_hashes(monkeypatch, tmp_path):
    repo = str(tmp_path / "repo")
    shutil.copytree(HF, repo)
    source = pinned("hf_clip", "org/clip", repo, HF_FILES)
    with open(os.path.join(repo, "model.safetensors"), "r+b") as f:  # Changed upstream.
        f.seek(200)
        f.write(b"\x01" * 8)
    actual = download.sha256_of(os.path.join(repo, "model.safetensors"))
    hub = fake_hub(monkeypatch, {"org/clip": repo})
    register(monkeypatch, source)
    expected = source["sha256"]["model.safetensors"]
    with pytest.raises(ValueError, match=rf"'model.safetensors' from the Hugging Face repo "
                                         rf"'org/clip' .* has sha256 {actual}, expected "
                                         rf"{expected} \(the registry pin\)"):
        CLIP.from_preset("test_tiny")
    assert len(hub.fetched("model.safetensors")) == 2  # Fetched once more, exactly.
    assert not os.path.exists(cached_path("model.safetensors"))  # Never left to be used.


def test_a_pinned_kerasmm_preset_on_the_hub(monkeypatch, tmp_path):
    """A registry source in kerasmm's own format pins config.json and
    manifest.json; the manifest vouches for the rest."""
    from tests.presets.tiny import batch
    from tests.presets.tiny import tiny_clip
    from tests.test_case import assert_trees_close

    model, directory = tiny_clip(), str(tmp_path / "uploaded")
    model.save_to_preset(directory)
    source = pinned("kerasmm", "me/tiny", directory, ["config.json", "manifest.json"])
    hub = fake_hub(monkeypatch, {"me/tiny": directory})
    register(monkeypatch, source)
    assert_trees_close(CLIP.from_preset("test_tiny")(batch()), model(batch()), atol=1e-6)
    assert {call.revision for call in hub.calls} == {COMMIT}
    tiny_clip().save_to_preset(directory, overwrite=True)  # Another upload: the pin fails.
    shutil.rmtree(os.path.join(os.environ["KERASMM_HOME"], "huggingface"))
    with pytest.raises(ValueError, match=r"'manifest.json' from the Hugging Face repo "
                                         r"'me/tiny' .* \(the registry pin\)"):
        CLIP.from_preset("test_tiny")


def test_discard_removes_the_hub_cache_link_and_its_blob(tmp_path):
    blob = tmp_path / "blobs" / "abc"
    blob.parent.mkdir()
    blob.write_bytes(b"bad")
    link = tmp_path / "snapshots" / COMMIT / "model.safetensors"
    link.parent.mkdir(parents=True)
    os.symlink(blob, link)
    download._discard(str(link))
    assert not os.path.lexists(link) and not os.path.exists(blob)


# === hf:// names are checked before any network call ===


@pytest.mark.parametrize("preset", [
    "hf://org/repo@../../etc", "hf://org/repo@refs/pr/1", "hf://org/repo@ma in",
    "hf://org/repo@main\n", "hf://org/repo@main\x00", "hf://org/repo@" + "a" * 200,
    "hf://org/repo@", "hf://org/repo@-rf", "hf://org/repo@a..b", "hf://../repo",
    "hf://org/re po", "hf://org/repo/extra", "hf://org", "hf://org/répo", "hf://org--x/repo",
])
def test_hf_revision_and_repo_are_checked_before_any_network_call(monkeypatch, preset):
    hub = fake_hub(monkeypatch, {})
    with pytest.raises(ValueError, match=r"Expected 'hf://org/repo' \(optionally '@revision'\)"):
        CLIP.from_preset(preset)
    with pytest.raises(ValueError, match="Expected 'hf://org/repo'"):
        CLIPPreprocessor.from_preset(preset)
    assert hub.calls == []


@pytest.mark.parametrize("revision", ["main", "v1.0", "release_2", COMMIT])
def test_valid_revisions_are_passed_on(monkeypatch, revision):
    hub = fake_hub(monkeypatch, {"org/clip": HF})
    CLIP.from_preset(f"hf://org/clip@{revision}")
    assert {call.revision for call in hub.calls} == {revision}


def test_hf_commit_is_locked_on_first_use(monkeypatch):
    """`hf://org/repo@<commit>` names no hashes: they are recorded on first
    use, and a cached file that changes afterwards is refused and re-fetched."""
    hub = fake_hub(monkeypatch, {"org/clip": HF})
    CLIP.from_preset(f"hf://org/clip@{COMMIT}")
    recorded = download.trust_lock().expected("org/clip", COMMIT, "model.safetensors")
    assert recorded == download.sha256_of(os.path.join(HF, "model.safetensors"))
    with open(cached_path("model.safetensors"), "r+b") as f:
        f.seek(300)
        f.write(b"\x02" * 8)
    CLIP.from_preset(f"hf://org/clip@{COMMIT}")
    assert hub.fetched("model.safetensors")[-1].force_download


# === Unpinned registry presets: refused unless allowed, then trusted on first use ===


def test_unpinned_preset_is_refused_without_a_network_call(monkeypatch):
    hub = fake_hub(monkeypatch, {"org/clip": HF})
    register(monkeypatch, {"converter": "hf_clip", "hf_repo": "org/clip", "unpinned": True})
    for load in (lambda: CLIP.from_preset("test_tiny"),
                 lambda: CLIP.from_preset("test_tiny", load_weights=False),
                 lambda: CLIPPreprocessor.from_preset("test_tiny")):
        with pytest.raises(ValueError, match=r"'test_tiny' is not pinned yet.*"
                                             r"allow_unpinned=True.*KERASMM_ALLOW_UNPINNED=1"):
            load()
    assert hub.calls == []


@pytest.mark.parametrize("name", sorted(n for n, e in PRESETS.items() if "sources" in e))
def test_registry_presets_download_only_what_is_pinned(monkeypatch, name):
    """A preset whose sources are all unpinned is refused with no download;
    one with pinned sources asks the Hub for their commits only."""
    hub = fake_hub(monkeypatch, {})  # Holds nothing: nothing can load.
    sources = PRESETS[name]["sources"]
    model_class = registered_class(PRESETS[name]["class_name"])
    pins = {s["hf_repo"]: s["revision"] for s in sources if not s.get("unpinned")}
    with pytest.raises(ValueError, match="is not pinned yet" if not pins
                       else "No complete checkpoint"):
        model_class.from_preset(name)
    assert all(pins.get(call.repo_id) == call.revision for call in hub.calls)
    assert bool(hub.calls) == bool(pins)


def test_allowed_unpinned_preset_is_trusted_on_first_use(monkeypatch, tmp_path):
    repo = str(tmp_path / "repo")
    shutil.copytree(HF, repo)
    hub = fake_hub(monkeypatch, {"org/clip": repo})
    register(monkeypatch, {"converter": "hf_clip", "hf_repo": "org/clip", "unpinned": True})
    assert_clip_parity(CLIP.from_preset("test_tiny", allow_unpinned=True),
                       reference("hf_clip_argmax"))
    trust = download.trust_lock()
    assert trust.path == os.path.join(os.environ["KERASMM_HOME"], lock.LOCK_FILE)
    for filename in HF_FILES:
        assert trust.expected("org/clip", None, filename) == download.sha256_of(
            os.path.join(repo, filename))
    # The repo's branch moves on: the new file is refused, naming the lock file.
    with open(os.path.join(repo, "model.safetensors"), "r+b") as f:
        f.seek(200)
        f.write(b"\x03" * 8)
    os.remove(cached_path("model.safetensors", revision=None))
    monkeypatch.setenv("KERASMM_ALLOW_UNPINNED", "1")  # The environment opts in too.
    with pytest.raises(ValueError, match=r"'model.safetensors' .* has sha256 .* "
                                         r"\(recorded on first use in .*unpinned.lock.json\)"):
        CLIP.from_preset("test_tiny")
    assert {call.revision for call in hub.calls} == {None}


def test_lock_file_write_is_atomic_json(tmp_path):
    trust = lock.TrustLock(str(tmp_path / "sub" / lock.LOCK_FILE))
    trust.record("org/a", None, "config.json", "a" * 64)
    trust.record("org/a", COMMIT, "config.json", "b" * 64)
    assert convert.read_json(trust.path) == {
        "org/a@<default branch>": {"config.json": "a" * 64},
        f"org/a@{COMMIT}": {"config.json": "b" * 64}}
    assert os.listdir(tmp_path / "sub") == [lock.LOCK_FILE]  # No scratch file left.


def test_allow_unpinned_must_be_a_bool(monkeypatch):
    register(monkeypatch, {"converter": "hf_clip", "hf_repo": "org/clip", "unpinned": True})
    with pytest.raises(ValueError, match="allow_unpinned must be a bool"):
        CLIP.from_preset("test_tiny", allow_unpinned="yes")


# === PyTorch pickles: torch >= 2.6 only (torch.load(weights_only=True), CVE-2025-32434) ===


def fake_torch(monkeypatch, version):
    def load(*args, **kwargs):
        raise AssertionError("torch.load called")

    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(__version__=version,
                                                                    load=load))


def test_pickles_are_refused_with_torch_older_than_2_6(monkeypatch, tmp_path):
    fake_torch(monkeypatch, "2.5.1+cpu")
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(b"not read")
    with pytest.raises(ValueError, match=r"only with torch >= 2.6.*CVE-2025-32434.*"
                                         r"Received: torch 2.5.1\+cpu"):
        convert.load_tensors(str(path))
    assert download._torch_available() is False  # So no .bin is downloaded either.
    fake_torch(monkeypatch, "2.6.0")
    assert download._torch_available() is True
