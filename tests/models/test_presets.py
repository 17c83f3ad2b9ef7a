"""Preset machinery: registry, save/load round trip, hf:// and cache, errors.

No test touches the network: `_hf_hub_download` is replaced by a fake
that copies files from the local fixtures into a cache under tmp_path.
"""

import json
import os
import shutil

import keras
import numpy as np
import pytest

from kerasmm import convert
from kerasmm.models import CLIP, ModifiedResNet, TextTransformer, VisionTransformer
from kerasmm.models import backbone
from kerasmm.models import preset_download
from kerasmm.models.presets import PRESETS
from kerasmm.preprocessing import ByteTokenizer
from kerasmm.preprocessing import CLIPImagePreprocessor
from tests.convert.parity import assert_clip_parity, converted_model, fixture, reference
from tests.test_case import assert_trees_close

TEXT = dict(vocabulary_size=674, context_length=24, hidden_dim=16, num_layers=1,
            num_heads=2, output_dim=8)


def tiny_clip(resnet=False):
    if resnet:
        vision = ModifiedResNet(block_counts=(1, 1, 1, 1), width=4, num_heads=2,
                                output_dim=8, image_size=32)
    else:
        vision = VisionTransformer(image_size=32, patch_size=8, hidden_dim=16,
                                   num_layers=1, num_heads=2, output_dim=8)
    return CLIP(vision, TextTransformer(**TEXT), logit_scale_init=1.5)


def batch():
    rng = np.random.default_rng(0)
    token_ids = rng.integers(1, 673, (2, 24)).astype("int32")
    token_ids[:, 10] = 673
    return {"images": rng.normal(size=(2, 32, 32, 3)).astype("float32"),
            "token_ids": token_ids}


class FakeHub:
    """`hf_hub_download` over local folders: {repo_id: directory}."""

    def __init__(self, repos):
        self.repos = repos
        self.calls = []

    def __call__(self, repo_id, filename, revision=None, cache_dir=None,
                 force_download=False):
        self.calls.append((repo_id, filename, force_download))
        source = os.path.join(self.repos.get(repo_id, "/nonexistent"), filename)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"{repo_id} has no {filename}")
        target = os.path.join(cache_dir, repo_id.replace("/", "--"), filename)
        if force_download or not os.path.isfile(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(source, target)
        return target

    def fetched(self, filename):
        return [call for call in self.calls if call[1] == filename]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Any download not faked by a test fails; the cache is per test."""
    def no_network(**kwargs):
        raise AssertionError(f"network access in a test: {kwargs}")

    monkeypatch.setattr(preset_download, "_hf_hub_download", no_network)
    monkeypatch.setenv("KERASMM_HOME", os.path.join(tmp_path, "home"))


def fake_hub(monkeypatch, repos):
    hub = FakeHub(repos)
    monkeypatch.setattr(preset_download, "_hf_hub_download", hub)
    return hub


# === Registry ===


# Model family -> the converters that can produce it.
FAMILY_CONVERTERS = {"CLIP": {"hf_clip", "open_clip"}, "PerceiverIO": {"hf_perceiver"}}
CLIP_PRESETS = sorted(n for n, e in PRESETS.items() if e["class_name"] == "CLIP")
PERCEIVER_PRESETS = sorted(n for n, e in PRESETS.items() if e["class_name"] == "PerceiverIO")


def check_image_constants(preprocessing):
    """Constants for pixels in [0, 1] that build a CLIPImagePreprocessor."""
    assert isinstance(preprocessing["image_size"], int) and preprocessing["image_size"] > 0
    for key in ("mean", "std"):
        assert len(preprocessing[key]) == 3 and all(0 < v < 1 for v in preprocessing[key]), key
    CLIPImagePreprocessor(**{k: preprocessing[k] for k in (
        "image_size", "mean", "std", "interpolation") if k in preprocessing})


def test_registry_holds_clip_and_perceiver_presets_only():
    assert CLIP_PRESETS and PERCEIVER_PRESETS
    assert set(CLIP_PRESETS) | set(PERCEIVER_PRESETS) == set(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_registry_entries_are_well_formed(name):
    entry = PRESETS[name]
    assert backbone.registered_class(entry["class_name"])
    assert isinstance(entry["description"], str) and entry["description"]
    assert ("sources" in entry) != ("package_data" in entry)
    for source in entry.get("sources", []):
        assert source["converter"] in FAMILY_CONVERTERS[entry["class_name"]], source
        assert source["converter"] in convert.CONVERTERS, source
        assert source["hf_repo"].count("/") == 1, source
        for filename, digest in source.get("sha256", {}).items():
            assert len(digest) == 64 and set(digest) <= set("0123456789abcdef"), filename
    if "package_data" in entry:
        directory = os.path.join(preset_download.PACKAGE_WEIGHTS, entry["package_data"])
        assert preset_download.read_kerasmm_config(directory)["class_name"] == entry["class_name"]
        assert os.path.isfile(os.path.join(directory, preset_download.KERASMM_WEIGHTS))
    for metric, published in entry.get("metrics", {}).items():
        assert published and all(isinstance(source, str) and 0 < value <= 100
                                 for source, value in published.items()), metric


@pytest.mark.parametrize("name", CLIP_PRESETS)
def test_clip_presets_record_their_preprocessing(name):
    entry = PRESETS[name]
    if "package_data" in entry:  # A kerasmm preset directory carries its own.
        directory = os.path.join(preset_download.PACKAGE_WEIGHTS, entry["package_data"])
        assert all(os.path.isfile(os.path.join(directory, asset))
                   for asset in preset_download.TOKENIZER_ASSETS)
        assert backbone.load_tokenizer(name).sequence_length > 0
        return
    preprocessing = entry["preprocessing"]
    check_image_constants(preprocessing)
    assert isinstance(preprocessing["context_length"], int) and preprocessing["context_length"] > 0
    config = backbone.load_image_preprocessor(name).get_config()
    assert config["image_size"] == preprocessing["image_size"]
    assert config["mean"] == pytest.approx(preprocessing["mean"])


@pytest.mark.parametrize("name", PERCEIVER_PRESETS)
def test_perceiver_presets_record_their_preprocessing(name):
    """Image constants where the model reads images, tokenizer constants
    where it reads bytes; the keys CLIP presets use are None otherwise."""
    entry = PRESETS[name]
    assert all(s["hf_repo"].startswith("deepmind/") for s in entry["sources"])
    preprocessing = entry["preprocessing"]
    assert {"image_size", "mean", "std", "context_length"} <= set(preprocessing)
    assert (preprocessing["mean"] is None) == (preprocessing["std"] is None)
    if preprocessing["mean"] is not None:
        check_image_constants(preprocessing)
        assert 0 < preprocessing.get("center_crop_fraction", 1) <= 1
        assert backbone.load_image_preprocessor(name).image_size == preprocessing["image_size"]
    if preprocessing.get("tokenizer") is not None:
        assert preprocessing["tokenizer"] == "ByteTokenizer"
        assert preprocessing["mean"] is None and preprocessing["image_size"] is None
        tokenizer = ByteTokenizer(sequence_length=preprocessing["context_length"],
                                  add_special_tokens=preprocessing["add_special_tokens"])
        assert preprocessing["pad_token_id"] == tokenizer.pad_token_id
    else:
        assert preprocessing["context_length"] is None


def test_presets_lists_the_entries_of_a_class():
    fake_clip = type("CLIP", (backbone.PresetMixin,), {})
    assert set(fake_clip.presets) == {n for n, e in PRESETS.items() if e["class_name"] == "CLIP"}
    assert "clip_vit_b32_openai" in fake_clip.presets
    assert type("Other", (backbone.PresetMixin,), {}).presets == {}


def test_models_have_the_preset_api():
    """The contract: `<Model>.from_preset`, `.presets`, `save_to_preset`."""
    for cls in (CLIP,):
        assert issubclass(cls, backbone.PresetMixin), cls
    assert "clip_vit_b32_openai" in CLIP.presets


def test_unknown_name_lists_close_names():
    with pytest.raises(ValueError, match=r"Close names: \['clip_vit_b32_openai'"):
        backbone.from_preset("clip_vit_b32_opena")


def test_cache_dir_defaults_under_the_user_cache(monkeypatch):
    monkeypatch.delenv("KERASMM_HOME")
    assert preset_download.kerasmm_home() == os.path.expanduser("~/.cache/kerasmm")
    monkeypatch.setenv("KERASMM_HOME", "/somewhere")
    assert preset_download.kerasmm_home() == "/somewhere"


def test_preprocessing_of_a_registered_preset_needs_no_download():
    preprocess = backbone.load_image_preprocessor("clip_vit_l14_336_openai")
    assert isinstance(preprocess, CLIPImagePreprocessor)
    assert preprocess.image_size == 336
    assert preprocess.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))


# === save_to_preset / from_preset ===


@pytest.mark.parametrize("resnet", [False, True])
def test_save_and_load_round_trip(tmp_path, resnet):
    model = tiny_clip(resnet)
    tokenizer = backbone.load_tokenizer(fixture("hf_clip_eos"))
    preprocess = CLIPImagePreprocessor(image_size=32, mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))
    directory = os.path.join(tmp_path, "preset")
    backbone.save_to_preset(model, directory, tokenizer=tokenizer, image_preprocessor=preprocess)
    assert sorted(os.listdir(directory)) == ["config.json", "merges.txt", "model.safetensors",
                                             "vocab.json"]
    restored = backbone.from_preset(directory, model_class=CLIP)
    assert type(restored.vision_encoder) is type(model.vision_encoder)
    assert_trees_close(restored(batch()), model(batch()), atol=1e-6)
    texts = ["a photo of a cat", "hello, world"]
    np.testing.assert_array_equal(backbone.load_tokenizer(directory)(texts), tokenizer(texts))
    assert backbone.load_image_preprocessor(directory).get_config()["mean"] == (0.5, 0.5, 0.5)
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    assert config["class_name"] == "CLIP" and "kerasmm_version" in config


def test_converted_checkpoint_round_trips_through_a_preset(tmp_path):
    model = converted_model("open_clip_rn")
    directory = os.path.join(tmp_path, "rn")
    backbone.save_to_preset(model, directory)
    assert_clip_parity(backbone.from_preset(directory), reference("open_clip_rn"))


def test_weight_paths_do_not_depend_on_auto_names():
    first, second = tiny_clip(), tiny_clip()
    assert second.vision_encoder.name != first.vision_encoder.name
    paths = set(backbone.model_weights(first))
    assert paths == set(backbone.model_weights(second))
    assert {"logit_scale", "vision_encoder/class_embedding",
            "text_encoder/block_0/attention/query/kernel"} <= paths


def test_overrides_must_be_constructor_arguments(tmp_path):
    directory = os.path.join(tmp_path, "preset")
    backbone.save_to_preset(tiny_clip(), directory)
    with pytest.raises(ValueError, match=r"Received: \['image_size'\]. Valid: \[.*'vision_encoder'"):
        backbone.from_preset(directory, image_size=64)
    model = backbone.from_preset(directory, logit_scale_init=0.5, name="renamed")
    assert model.name == "renamed" and model.logit_scale_init == 0.5
    # The checkpoint's logit_scale, not the override's init, is loaded.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.logit_scale), 1.5)
    half = backbone.from_preset(directory, dtype="bfloat16")  # Keras-serialized towers.
    assert half.text_encoder.compute_dtype == "bfloat16"


def test_dtype_override_reaches_the_towers():
    model = backbone.from_preset(fixture("hf_clip_argmax"), dtype="bfloat16")
    assert model.vision_encoder.compute_dtype == "bfloat16"
    assert model.text_encoder.compute_dtype == "bfloat16"
    ref = reference("hf_clip_argmax")
    images = model.encode_image(ref["images"])
    diff = np.abs(np.asarray(images, "float32") - ref["image_embeddings"]).max()
    assert diff < 0.1  # bfloat16 keeps ~3 significant digits.


def test_load_weights_false_builds_the_architecture_only(tmp_path, monkeypatch):
    hub = fake_hub(monkeypatch, {"org/clip": fixture("hf_clip_argmax")})
    model = backbone.from_preset("hf://org/clip", load_weights=False)
    assert isinstance(model, CLIP) and not hub.fetched("model.safetensors")
    assert model.vision_encoder.num_layers == 2


def test_wrong_model_class_is_refused():
    with pytest.raises(ValueError, match="holds a CLIP, not a VisionTransformer"):
        backbone.from_preset(fixture("hf_clip_argmax"), model_class=VisionTransformer)


def test_assign_weights_names_unset_and_unexpected_weights():
    model = tiny_clip()
    weights = {p: keras.ops.convert_to_numpy(v) for p, v in backbone.model_weights(model).items()}
    missing = dict(weights)
    del missing["vision_encoder/ln_post/gamma"]
    with pytest.raises(ValueError, match=r"1 model weights left unset \['vision_encoder/ln_post/gamma'\]"):
        backbone.assign_weights(model, missing)
    with pytest.raises(ValueError, match=r"1 checkpoint weights with no model weight.*extra"):
        backbone.assign_weights(model, dict(weights, extra=np.zeros(2)))


def test_unknown_directory_lists_the_expected_files(tmp_path):
    with pytest.raises(ValueError, match="open_clip_config.json"):
        backbone.from_preset(str(tmp_path))


# === Remote presets (faked Hub) ===


def test_hf_repo_is_detected_and_converted(monkeypatch):
    hub = fake_hub(monkeypatch, {"org/hf": fixture("hf_clip_eos"),
                                 "org/oc": fixture("open_clip_vit")})
    assert_clip_parity(backbone.from_preset("hf://org/hf"), reference("hf_clip_eos"))
    assert_clip_parity(backbone.from_preset("hf://org/oc@main"), reference("open_clip_vit"))
    assert hub.fetched("vocab.json")  # Tokenizer assets come along.
    tokenizer = backbone.load_tokenizer("hf://org/hf")
    assert tokenizer.sequence_length == 24


def test_hf_repo_holding_a_kerasmm_preset(monkeypatch, tmp_path):
    model = tiny_clip()
    directory = os.path.join(tmp_path, "uploaded")
    backbone.save_to_preset(model, directory)
    fake_hub(monkeypatch, {"me/tiny": directory})
    assert_trees_close(backbone.from_preset("hf://me/tiny")(batch()), model(batch()), atol=1e-6)


def test_hf_repo_without_a_checkpoint(monkeypatch, tmp_path):
    fake_hub(monkeypatch, {"org/empty": str(tmp_path)})
    with pytest.raises(ValueError, match="holds no checkpoint kerasmm knows"):
        backbone.from_preset("hf://org/empty")
    with pytest.raises(ValueError, match="hf://org/repo"):
        backbone.from_preset("hf://not-a-repo")


def _register(monkeypatch, sources):
    monkeypatch.setitem(PRESETS, "test_tiny", {
        "class_name": "CLIP", "description": "test", "sources": sources})


def test_registered_preset_falls_back_to_the_next_source(monkeypatch, tmp_path):
    config_only = os.path.join(tmp_path, "config_only")
    os.makedirs(config_only)
    shutil.copy(os.path.join(fixture("hf_clip_eos"), "config.json"), config_only)
    hub = fake_hub(monkeypatch, {"org/a": config_only, "org/b": fixture("open_clip_rn")})
    _register(monkeypatch, [{"converter": "hf_clip", "hf_repo": "org/a"},
                            {"converter": "open_clip", "hf_repo": "org/b"}])
    assert_clip_parity(backbone.from_preset("test_tiny"), reference("open_clip_rn"))
    assert hub.fetched("open_clip_model.safetensors")


def test_corrupt_cached_file_is_fetched_again(monkeypatch):
    weights = os.path.join(fixture("hf_clip_argmax"), "model.safetensors")
    digest = preset_download.sha256_of(weights)
    hub = fake_hub(monkeypatch, {"org/clip": fixture("hf_clip_argmax")})
    _register(monkeypatch, [{"converter": "hf_clip", "hf_repo": "org/clip",
                             "sha256": {"model.safetensors": digest}}])
    backbone.from_preset("test_tiny")
    cached = hub.fetched("model.safetensors")[0]
    path = os.path.join(os.environ["KERASMM_HOME"], "huggingface", "org--clip",
                        "model.safetensors")
    with open(path, "r+b") as f:  # Corrupt the cached copy.
        f.seek(100)
        f.write(b"\x00" * 64)
    assert preset_download.sha256_of(path) != digest
    assert_clip_parity(backbone.from_preset("test_tiny"), reference("hf_clip_argmax"))
    forced = [c for c in hub.fetched("model.safetensors") if c[2]]
    assert cached[2] is False and len(forced) == 1
    assert preset_download.sha256_of(path) == digest


def test_wrong_upstream_hash_raises(monkeypatch):
    fake_hub(monkeypatch, {"org/clip": fixture("hf_clip_argmax")})
    _register(monkeypatch, [{"converter": "hf_clip", "hf_repo": "org/clip",
                             "sha256": {"model.safetensors": "0" * 64}}])
    with pytest.raises(ValueError, match="has sha256 .* expected 0000"):
        backbone.from_preset("test_tiny")


def test_offline_without_cache_is_an_error_not_a_fallback(monkeypatch):
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline_download(**kwargs):
        raise LocalEntryNotFoundError("no connection and not in cache")

    monkeypatch.setattr(preset_download, "_hf_hub_download", offline_download)
    with pytest.raises(ValueError, match="Could not download 'config.json'.*not in cache"):
        backbone.from_preset("clip_vit_b32_openai")


# === Package data ===


def test_shipped_preset_loads_offline():
    """`shapes_clip_tiny` (a functional conv vision tower) loads from the
    package with the weights stored in its safetensors file."""
    from safetensors.numpy import load_file

    model = CLIP.from_preset("shapes_clip_tiny")
    directory = os.path.join(preset_download.PACKAGE_WEIGHTS, "shapes_clip_tiny")
    stored = load_file(os.path.join(directory, preset_download.KERASMM_WEIGHTS))
    weights = backbone.model_weights(model)
    assert set(weights) == set(stored)
    for path, variable in weights.items():
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), stored[path],
                                      err_msg=path)
    tokenizer = backbone.load_tokenizer("shapes_clip_tiny")
    text = keras.ops.convert_to_numpy(model.encode_text(tokenizer(["a red circle"])))
    np.testing.assert_allclose(np.linalg.norm(text, axis=-1), 1.0, atol=1e-5)


def test_package_data_preset(monkeypatch, tmp_path):
    monkeypatch.setattr(preset_download, "PACKAGE_WEIGHTS", str(tmp_path))
    with pytest.raises(ValueError, match="train_shapes_clip_tiny.py"):
        backbone.from_preset("shapes_clip_tiny")
    model = tiny_clip()
    backbone.save_to_preset(model, os.path.join(tmp_path, "shapes_clip_tiny"))
    restored = backbone.from_preset("shapes_clip_tiny", model_class=CLIP)
    assert_trees_close(restored(batch()), model(batch()), atol=1e-6)


def test_dtype_override_reaches_nested_modality_layers():
    """MultimodalAdapter / MultimodalDecoder hold their per-modality layers
    in dicts: the dtype override reaches those too."""
    model = backbone.from_preset(fixture("hf_perceiver_multimodal"), dtype="bfloat16",
                                 load_weights=False)
    adapters = model.input_adapter.adapters
    decoders = model.decoder.decoders
    assert sorted(adapters) == ["audio", "image", "label"]
    for layer in list(adapters.values()) + list(decoders.values()):
        assert layer.compute_dtype == "bfloat16", layer.name
