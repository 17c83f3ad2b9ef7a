"""Remote presets over a faked Hub: detection, fallback, sha256, cache."""

import os
import shutil

import pytest

from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.presets import download
from kerasmm.presets import from_preset
from tests.convert.parity import assert_clip_parity, fixture, reference
from tests.presets.fake_hub import COMMIT
from tests.presets.fake_hub import fake_hub
from tests.presets.fake_hub import pinned
from tests.presets.tiny import batch
from tests.presets.tiny import tiny_clip
from tests.presets.tiny import without_names
from tests.test_case import assert_trees_close


def test_cache_dir_defaults_under_the_user_cache(monkeypatch):
    monkeypatch.delenv("KERASMM_HOME")
    assert download.kerasmm_home() == os.path.expanduser("~/.cache/kerasmm")
    monkeypatch.setenv("KERASMM_HOME", "/somewhere")
    assert download.kerasmm_home() == "/somewhere"


def test_hf_repo_is_detected_and_converted(monkeypatch):
    hub = fake_hub(monkeypatch, {"org/hf": fixture("hf_clip_eos"),
                                 "org/oc": fixture("open_clip_vit")})
    assert_clip_parity(CLIP.from_preset("hf://org/hf"), reference("hf_clip_eos"))
    assert_clip_parity(from_preset("hf://org/oc@main"), reference("open_clip_vit"))
    assert hub.fetched("vocab.json")  # Tokenizer assets come along.
    preprocessor = CLIPPreprocessor.from_preset("hf://org/hf")
    assert preprocessor.tokenizer.sequence_length == 24


def test_load_weights_false_and_preprocessors_fetch_no_weights(monkeypatch):
    hub = fake_hub(monkeypatch, {"org/clip": fixture("hf_clip_argmax"),
                                 "org/eos": fixture("hf_clip_eos")})
    model = CLIP.from_preset("hf://org/clip", load_weights=False)
    assert isinstance(model, CLIP) and not hub.fetched("model.safetensors")
    assert model.vision_encoder.num_layers == 2
    assert CLIPPreprocessor.from_preset("hf://org/eos").tokenizer is not None
    assert not hub.fetched("model.safetensors")
    with pytest.raises(ValueError, match="'hf://org/clip' has no vocab.json"):
        CLIPPreprocessor.from_preset("hf://org/clip")  # A checkpoint without tokenizer.


def test_hf_repo_holding_a_kerasmm_preset(monkeypatch, tmp_path):
    model = tiny_clip()
    directory = os.path.join(tmp_path, "uploaded")
    preprocessor = CLIPPreprocessor.from_preset(fixture("hf_clip_eos"))
    model.save_to_preset(directory, preprocessor=preprocessor)
    hub = fake_hub(monkeypatch, {"me/tiny": directory})
    assert_trees_close(CLIP.from_preset("hf://me/tiny")(batch()), model(batch()), atol=1e-6)
    restored = CLIPPreprocessor.from_preset("hf://me/tiny")
    assert hub.fetched("merges.txt")  # Listed in preprocessor.json.
    assert without_names(restored.get_config()) == without_names(preprocessor.get_config())


def test_hf_repo_without_a_checkpoint(monkeypatch, tmp_path):
    fake_hub(monkeypatch, {"org/empty": str(tmp_path)})
    with pytest.raises(ValueError, match="holds no checkpoint kerasmm knows"):
        CLIP.from_preset("hf://org/empty")
    with pytest.raises(ValueError, match="hf://org/repo"):
        CLIP.from_preset("hf://not-a-repo")


def _register(monkeypatch, sources):
    monkeypatch.setitem(CLIP.family_presets, "test_tiny", {
        "class_name": "CLIP", "description": "test", "sources": sources})


def test_registered_preset_falls_back_to_the_next_source(monkeypatch, tmp_path):
    config_only = os.path.join(tmp_path, "config_only")
    os.makedirs(config_only)
    shutil.copy(os.path.join(fixture("hf_clip_eos"), "config.json"), config_only)
    hub = fake_hub(monkeypatch, {"org/a": config_only, "org/b": fixture("open_clip_rn")})
    missing_weights = pinned("hf_clip", "org/a", fixture("hf_clip_eos"),
                             ["config.json", "model.safetensors"])
    _register(monkeypatch, [
        missing_weights,  # Pinned, but the repo has lost its weights.
        pinned("open_clip", "org/b", fixture("open_clip_rn"),
               ["open_clip_config.json", "open_clip_model.safetensors"])])
    assert_clip_parity(CLIP.from_preset("test_tiny"), reference("open_clip_rn"))
    assert hub.fetched("open_clip_model.safetensors")


def test_unknown_converter_in_an_entry(monkeypatch):
    _register(monkeypatch, [{"converter": "nope", "hf_repo": "org/a", "unpinned": True}])
    with pytest.raises(ValueError, match=r"names converters kerasmm does not know: \['nope'\]"):
        CLIP.from_preset("test_tiny")


def test_corrupt_cached_file_is_fetched_again(monkeypatch):
    directory = fixture("hf_clip_argmax")
    hub = fake_hub(monkeypatch, {"org/clip": directory})
    source = pinned("hf_clip", "org/clip", directory, ["config.json", "model.safetensors"])
    digest = source["sha256"]["model.safetensors"]
    _register(monkeypatch, [source])
    CLIP.from_preset("test_tiny")
    cached = hub.fetched("model.safetensors")[0]
    path = os.path.join(os.environ["KERASMM_HOME"], "huggingface", "org--clip", COMMIT,
                        "model.safetensors")
    with open(path, "r+b") as f:  # Corrupt the cached copy.
        f.seek(100)
        f.write(b"\x00" * 64)
    assert download.sha256_of(path) != digest
    assert_clip_parity(CLIP.from_preset("test_tiny"), reference("hf_clip_argmax"))
    forced = [c for c in hub.fetched("model.safetensors") if c.force_download]
    assert cached.force_download is False and len(forced) == 1
    assert forced[0].cached is False  # The corrupt copy was deleted first.
    assert download.sha256_of(path) == digest


def test_wrong_upstream_hash_raises(monkeypatch):
    fake_hub(monkeypatch, {"org/clip": fixture("hf_clip_argmax")})
    source = pinned("hf_clip", "org/clip", fixture("hf_clip_argmax"),
                    ["config.json", "model.safetensors"])
    source["sha256"]["model.safetensors"] = "0" * 64
    _register(monkeypatch, [source])
    with pytest.raises(ValueError, match="has sha256 .* expected 0000"):
        CLIP.from_preset("test_tiny")


def test_offline_without_cache_is_an_error_not_a_fallback(monkeypatch):
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline_download(**kwargs):
        raise LocalEntryNotFoundError("no connection and not in cache")

    monkeypatch.setattr(download, "_hf_hub_download", offline_download)
    with pytest.raises(ValueError, match="Could not download 'config.json'.*not in cache"):
        CLIP.from_preset("clip_vit_b32_openai", allow_unpinned=True)
