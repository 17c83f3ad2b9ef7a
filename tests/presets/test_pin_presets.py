"""tools/pin_presets.py over a fake Hub API: the pins it writes are what the
registry check demands and what `from_preset` verifies."""

import importlib.util
import json
import os
import types

import pytest

from kerasmm.models import CLIP
from kerasmm.presets import download
from kerasmm.presets import read_pins
from kerasmm.presets.pins import hub_source
from tests.convert.parity import assert_clip_parity
from tests.convert.parity import fixture
from tests.convert.parity import reference
from tests.presets.fake_hub import COMMIT
from tests.presets.fake_hub import fake_hub

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location(
        "pin_presets", os.path.join(REPO, "tools", "pin_presets.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeApi:
    """`HfApi.model_info` over a local folder: weights in LFS, the rest not."""

    def __init__(self, directory, extra=()):
        self.directory = directory
        self.extra = list(extra)  # Files the repo lists but kerasmm never fetches.
        self.calls = []

    def model_info(self, repo, revision=None, files_metadata=False):
        self.calls.append((repo, revision, files_metadata))
        siblings = []
        for name in sorted(os.listdir(self.directory)) + self.extra:
            path = os.path.join(self.directory, name)
            lfs = None
            if name.endswith((".safetensors", ".bin")):
                lfs = {"sha256": download.sha256_of(path) if os.path.exists(path) else "f" * 64,
                       "size": 1, "pointer_size": 1}
            siblings.append(types.SimpleNamespace(rfilename=name, lfs=lfs))
        return types.SimpleNamespace(sha=COMMIT, siblings=siblings)


def test_pins_read_commit_lfs_hashes_and_hash_small_files(tool):
    directory = fixture("hf_clip_eos")
    api = FakeApi(directory, extra=["pytorch_model.bin"])
    downloads = []

    def fake_download(repo_id, filename, revision, cache_dir):
        downloads.append((repo_id, filename, revision))
        return os.path.join(directory, filename)

    pin = tool.pin_repo(api, fake_download, "org/eos", ["hf_clip"], revision="v1")
    assert api.calls == [("org/eos", "v1", True)]
    assert pin["revision"] == COMMIT
    # Safetensors before the pickle; assets the repo has; nothing else.
    assert sorted(pin["sha256"]) == ["config.json", "merges.txt", "model.safetensors",
                                     "vocab.json"]
    for name, digest in pin["sha256"].items():
        assert digest == download.sha256_of(os.path.join(directory, name)), name
    # Small files downloaded at the pinned commit; the LFS weights never.
    assert sorted(downloads) == [("org/eos", name, COMMIT)
                                 for name in ("config.json", "merges.txt", "vocab.json")]


def test_a_repo_without_the_converter_files_is_not_pinned(tool):
    api = FakeApi(fixture("open_clip_vit"))
    with pytest.raises(ValueError, match=r"org/x at .*: The repo holds no hf_clip checkpoint"):
        tool.pin_repo(api, None, "org/x", ["hf_clip"])


def test_written_pins_load_and_verify(tool, tmp_path, monkeypatch):
    directory = fixture("hf_clip_argmax")
    pin = tool.pin_repo(FakeApi(directory), lambda **kw: os.path.join(directory, kw["filename"]),
                        "org/clip", ["hf_clip"])
    path = str(tmp_path / "toy_pins.json")
    tool.write_pins(path, {"org/clip": pin})
    pins = read_pins(path)
    assert json.load(open(path)) == pins
    monkeypatch.setitem(CLIP.family_presets, "pinned_tiny", {
        "class_name": "CLIP", "description": "test",
        "sources": [hub_source("hf_clip", "org/clip", pins)]})
    hub = fake_hub(monkeypatch, {"org/clip": directory})
    assert_clip_parity(CLIP.from_preset("pinned_tiny"), reference("hf_clip_argmax"))
    assert {call.revision for call in hub.calls} == {COMMIT}


def test_every_family_repo_is_found(tool):
    module = importlib.import_module(tool.FAMILIES["clip"][0])
    repos = tool.family_repos(module.CLIP_PRESETS)
    assert repos["laion/CLIP-ViT-B-32-laion2B-s34B-b79K"] == ["open_clip", "hf_clip"]
    assert repos["openai/clip-vit-base-patch32"] == ["hf_clip"]
    for family, (module_name, _) in tool.FAMILIES.items():
        pins_file = importlib.import_module(module_name).PINS_FILE
        assert os.path.basename(pins_file) == f"{family}_pins.json"
        read_pins(pins_file)  # Shipped, and well formed.


def test_revision_arguments(tool):
    assert tool.parse_revisions(["org/a=v1", "org/b=" + COMMIT]) == {"org/a": "v1",
                                                                    "org/b": COMMIT}
    with pytest.raises(SystemExit, match="org/repo=REVISION"):
        tool.parse_revisions(["org/a"])
