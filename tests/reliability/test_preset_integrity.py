"""Issue 16, item 2: what kerasmm writes is verified when it is read back.

Failed before the fix (run against the tree before it: 13 of 14): every test except
test_an_existing_preset_is_refused_unless_overwrite (the refusal existed; kept
as a guard). Before, save_to_preset recorded no digests; a weights file with changed
data bytes loaded silently; a truncated, empty or foreign weights file raised a
bare `SafetensorError` naming no path; an edited vocab.json gave a tokenizer error
naming no file; `preprocessor.json` could list `../` assets read from outside the
preset; the shipped `shapes_clip_tiny` had no manifest.
"""

import hashlib
import json
import os
import shutil

import pytest

from kerasmm import convert
from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.presets import from_preset
from kerasmm.presets import manifest
from kerasmm.presets import resolve
from kerasmm.presets import write_manifest
from tests.convert.parity import fixture
from tests.presets.fake_hub import fake_hub
from tests.presets.fake_hub import offline  # noqa: F401 (the fixture)
from tests.presets.tiny import batch
from tests.presets.tiny import tiny_clip
from tests.test_case import assert_trees_close

pytestmark = pytest.mark.usefixtures("offline")

WEIGHTS = "model.safetensors"


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def preset(tmp_path):
    """A saved tiny CLIP with its preprocessor; returns its directory."""
    directory = str(tmp_path / "preset")
    tiny_clip().save_to_preset(
        directory, preprocessor=CLIPPreprocessor.from_preset(fixture("hf_clip_eos")))
    return directory


def test_save_records_the_sha256_of_every_file_it_writes(preset):
    with open(os.path.join(preset, manifest.MANIFEST_FILE)) as f:
        recorded = json.load(f)["sha256"]
    written = sorted(set(os.listdir(preset)) - {manifest.MANIFEST_FILE})
    assert sorted(recorded) == written == ["config.json", "merges.txt", WEIGHTS,
                                           "preprocessor.json", "vocab.json"]
    for name, digest in recorded.items():
        assert digest == sha256(os.path.join(preset, name)), name


def test_changed_weight_bytes_are_refused_naming_the_file(preset):
    path = os.path.join(preset, WEIGHTS)
    expected = sha256(path)
    with open(path, "r+b") as f:  # Still a valid safetensors file: only data changed.
        f.seek(os.path.getsize(path) - 8)
        f.write(b"\x7f" * 8)
    assert convert.load_tensors(path)  # safetensors alone would not notice.
    with pytest.raises(ValueError, match=rf"{WEIGHTS} changed since it was saved: its "
                                         rf"sha256 is {sha256(path)}, .* records {expected}"):
        CLIP.from_preset(preset)
    CLIP.from_preset(preset, load_weights=False)  # The weights are not read then.


@pytest.mark.parametrize("content", [b"", b"\x00" * 5, b"\x89PNG\r\n\x1a\n" + b"x" * 100])
def test_empty_truncated_or_foreign_weights_name_the_path(preset, content):
    path = os.path.join(preset, WEIGHTS)
    truncated = open(path, "rb").read()[:1000]
    for data in (content, truncated):
        with open(path, "wb") as f:
            f.write(data)
        with pytest.raises(ValueError, match=rf"{path} changed since it was saved"):
            CLIP.from_preset(preset)
        # Where no manifest speaks for the file (a converter's checkpoint),
        # the reader names the path instead of a bare SafetensorError.
        with pytest.raises(ValueError, match=rf"{path} is not a readable safetensors file"):
            convert.load_tensors(path)


def test_a_checkpoint_directory_with_a_truncated_weights_file(tmp_path):
    directory = str(tmp_path / "hf")
    shutil.copytree(fixture("hf_clip_argmax"), directory)
    os.truncate(os.path.join(directory, WEIGHTS), 100)
    with pytest.raises(ValueError, match=rf"{directory}/{WEIGHTS} is not a readable "
                                         "safetensors file"):
        CLIP.from_preset(directory)


def test_changed_assets_and_configs_are_refused(preset):
    with open(os.path.join(preset, "vocab.json"), "w") as f:
        json.dump({"a": 0}, f)
    with pytest.raises(ValueError, match=r"vocab.json changed since it was saved"):
        CLIPPreprocessor.from_preset(preset)
    with pytest.raises(ValueError, match=r"vocab.json changed since it was saved"):
        CLIP.from_preset(preset)  # A model load checks the whole preset.
    os.remove(os.path.join(preset, "vocab.json"))
    with pytest.raises(ValueError, match=r"vocab.json is listed in .*manifest.json but missing"):
        CLIPPreprocessor.from_preset(preset)


def test_a_file_the_manifest_does_not_list_is_not_loaded(tmp_path):
    directory = str(tmp_path / "model_only")
    tiny_clip().save_to_preset(directory)
    CLIPPreprocessor.from_preset(fixture("hf_clip_eos")).save_to_preset(str(tmp_path / "p"))
    for name in ("preprocessor.json", "vocab.json", "merges.txt"):  # Dropped in by hand.
        shutil.copy(tmp_path / "p" / name, directory)
    with pytest.raises(ValueError, match="preprocessor.json is not listed in"):
        CLIPPreprocessor.from_preset(directory)


def test_a_preset_without_a_manifest_is_refused_until_sealed(preset):
    os.remove(os.path.join(preset, manifest.MANIFEST_FILE))
    with pytest.raises(ValueError, match=r"has no manifest.json .*"
                                         r"kerasmm.presets.write_manifest\("):
        CLIP.from_preset(preset)
    write_manifest(preset)  # The user vouches for the files as they are.
    assert isinstance(CLIP.from_preset(preset), CLIP)


def test_preprocessor_assets_cannot_point_outside_the_preset(preset, tmp_path):
    path = os.path.join(preset, "preprocessor.json")
    with open(path) as f:
        saved = json.load(f)
    saved["assets"] = ["../secret.json"]
    with open(path, "w") as f:
        json.dump(saved, f)
    with pytest.raises(ValueError, match=r"preprocessor.json: assets must be a plain file name"):
        write_manifest(preset)
    manifest.update_manifest(preset, ["preprocessor.json"])  # As if it had been saved so.
    with pytest.raises(ValueError, match=r"preprocessor.json: assets must be a plain file name"):
        CLIPPreprocessor.from_preset(preset)


def test_the_shipped_preset_has_a_manifest_that_matches():
    directory = os.path.join(resolve.PACKAGE_WEIGHTS, "shapes_clip_tiny")
    recorded = manifest.read_manifest(directory)
    assert set(recorded) == {"config.json", WEIGHTS, "preprocessor.json", "vocab.json",
                             "merges.txt"}
    for name, digest in recorded.items():
        assert digest == sha256(os.path.join(directory, name)), name


def test_a_tampered_copy_of_the_shipped_preset_is_refused(monkeypatch, tmp_path):
    shutil.copytree(resolve.PACKAGE_WEIGHTS, tmp_path / "weights")
    monkeypatch.setattr(resolve, "PACKAGE_WEIGHTS", str(tmp_path / "weights"))
    assert isinstance(CLIP.from_preset("shapes_clip_tiny"), CLIP)
    with open(tmp_path / "weights" / "shapes_clip_tiny" / "merges.txt", "a") as f:
        f.write("a b\n")
    with pytest.raises(ValueError, match="merges.txt changed since it was saved"):
        CLIP.from_preset("shapes_clip_tiny")
    with pytest.raises(ValueError, match="merges.txt changed since it was saved"):
        CLIPPreprocessor.from_preset("shapes_clip_tiny")


def test_a_kerasmm_preset_on_the_hub_is_checked_against_its_manifest(monkeypatch, preset):
    fake_hub(monkeypatch, {"me/tiny": preset})
    assert isinstance(CLIP.from_preset("hf://me/tiny"), CLIP)
    with open(os.path.join(preset, "merges.txt"), "a") as f:  # Changed upstream.
        f.write("a b\n")
    with pytest.raises(ValueError, match=r"'merges.txt' from the Hugging Face repo 'me/tiny'"
                                         r".* has sha256 .* \(manifest.json"):
        CLIPPreprocessor.from_preset("hf://me/tiny@other")
    os.remove(os.path.join(preset, manifest.MANIFEST_FILE))
    with pytest.raises(ValueError, match="has no manifest.json"):
        CLIP.from_preset("hf://me/tiny@third")


def test_an_existing_preset_is_refused_unless_overwrite(preset):
    model = tiny_clip()
    before = {name: sha256(os.path.join(preset, name)) for name in os.listdir(preset)}
    with pytest.raises(ValueError, match=r"already holds a preset .*overwrite=True"):
        model.save_to_preset(preset)
    with pytest.raises(ValueError, match=r"already holds a preset \(preprocessor.json\)"):
        CLIPPreprocessor.from_preset(preset).save_to_preset(preset)
    assert before == {name: sha256(os.path.join(preset, name)) for name in os.listdir(preset)}
    model.save_to_preset(preset, overwrite=True)
    assert_trees_close(from_preset(preset)(batch()), model(batch()), atol=1e-6)
    assert isinstance(CLIPPreprocessor.from_preset(preset), CLIPPreprocessor)  # Kept, listed.
