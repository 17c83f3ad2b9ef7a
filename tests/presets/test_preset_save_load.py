"""save_to_preset / from_preset round trips, weight paths, local presets."""

import json
import os

import keras
import numpy as np
import pytest

from kerasmm.layers import ImageAdapter
from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.models import Perceiver
from kerasmm.models import VisionTransformer
from kerasmm.presets import assign_weights
from kerasmm.presets import from_preset
from kerasmm.presets import model_weights
from kerasmm.presets import preset_files
from kerasmm.presets import resolve
from kerasmm.presets import save_to_preset
from tests.convert.parity import assert_clip_parity, converted_model, fixture, reference
from tests.presets.tiny import batch
from tests.presets.tiny import tiny_clip
from tests.test_case import assert_trees_close


@pytest.mark.parametrize("resnet", [False, True])
def test_save_and_load_round_trip(tmp_path, resnet):
    model = tiny_clip(resnet)
    directory = os.path.join(tmp_path, "preset")
    model.save_to_preset(directory)
    assert sorted(os.listdir(directory)) == ["config.json", "manifest.json",
                                             "model.safetensors"]
    restored = CLIP.from_preset(directory)
    assert type(restored.vision_encoder) is type(model.vision_encoder)
    assert_trees_close(restored(batch()), model(batch()), atol=1e-6)
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    assert config["class_name"] == "CLIP" and "kerasmm_version" in config


def test_model_and_preprocessor_share_the_directory(tmp_path):
    preprocessor = CLIPPreprocessor.from_preset(fixture("hf_clip_eos"))
    directory = os.path.join(tmp_path, "preset")
    tiny_clip().save_to_preset(directory, preprocessor=preprocessor)
    assert sorted(os.listdir(directory)) == ["config.json", "manifest.json", "merges.txt",
                                             "model.safetensors", "preprocessor.json",
                                             "vocab.json"]
    assert isinstance(CLIP.from_preset(directory), CLIP)
    restored = CLIPPreprocessor.from_preset(directory)
    texts = ["a photo of a cat", "hello, world"]
    np.testing.assert_array_equal(restored({"prompts": texts})["token_ids"],
                                  preprocessor({"prompts": texts})["token_ids"])


def test_preprocessor_without_backbone_class_reads_its_own_registry(tmp_path):
    # BLIP's and CoCa's presets hold tasks of several classes: their
    # preprocessors set `presets` instead of `backbone_cls`; no class check.
    preprocessor = CLIPPreprocessor.from_preset(fixture("hf_clip_eos"))
    directory = os.path.join(tmp_path, "preset")
    tiny_clip().save_to_preset(directory, preprocessor=preprocessor)

    class RegistryPreprocessor(CLIPPreprocessor):
        backbone_cls = None
        presets = {"only_this": {}}

    restored = RegistryPreprocessor.from_preset(directory)
    assert type(restored) is RegistryPreprocessor
    np.testing.assert_array_equal(restored({"prompts": ["a cat"]})["token_ids"],
                                  preprocessor({"prompts": ["a cat"]})["token_ids"])
    with pytest.raises(ValueError, match="clip_vit_base_patch32"):
        RegistryPreprocessor.from_preset("clip_vit_base_patch32")  # not in its registry

    class Orphan(CLIPPreprocessor):
        backbone_cls = None

    with pytest.raises(TypeError, match="Orphan.backbone_cls is not set"):
        Orphan.from_preset(directory)


def test_an_existing_preset_is_kept_unless_overwrite(tmp_path):
    directory = os.path.join(tmp_path, "preset")
    first, second = tiny_clip(), tiny_clip()
    first.save_to_preset(directory)
    with pytest.raises(ValueError, match=r"already holds a preset \(config.json, "
                                         r"model.safetensors\): pass overwrite=True"):
        second.save_to_preset(directory)
    assert_trees_close(CLIP.from_preset(directory)(batch()), first(batch()), atol=1e-6)
    second.save_to_preset(directory, overwrite=True)
    assert_trees_close(CLIP.from_preset(directory)(batch()), second(batch()), atol=1e-6)


def test_perceiver_round_trips_through_a_preset(tmp_path):
    """`Perceiver` has the preset API too (it is built on first call, so
    its build config is what rebuilds it)."""
    model = Perceiver(ImageAdapter((4, 4, 3), num_bands=2), num_latents=4, latent_dim=8,
                      num_classes=3, num_blocks=2, num_self_attends_per_block=1,
                      num_self_attention_heads=2)
    images = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(images))
    directory = os.path.join(tmp_path, "perceiver")
    model.save_to_preset(directory)
    restored = Perceiver.from_preset(directory)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(images)), expected,
                               atol=1e-6)


def test_converted_checkpoint_round_trips_through_a_preset(tmp_path):
    directory = os.path.join(tmp_path, "rn")
    save_to_preset(converted_model("open_clip_rn"), directory)
    assert_clip_parity(from_preset(directory), reference("open_clip_rn"))


def test_weight_paths_do_not_depend_on_auto_names():
    first, second = tiny_clip(), tiny_clip()
    assert second.vision_encoder.name != first.vision_encoder.name
    paths = set(model_weights(first))
    assert paths == set(model_weights(second))
    assert {"logit_scale", "vision_encoder/class_embedding",
            "text_encoder/block_0/attention/query/kernel"} <= paths


def test_overrides_must_be_constructor_arguments(tmp_path):
    directory = os.path.join(tmp_path, "preset")
    tiny_clip().save_to_preset(directory)
    with pytest.raises(ValueError,
                       match=r"Received: \['image_size'\]. Valid: \[.*'vision_encoder'"):
        CLIP.from_preset(directory, image_size=64)
    model = CLIP.from_preset(directory, logit_scale_init=0.5, name="renamed")
    assert model.name == "renamed" and model.logit_scale_init == 0.5
    # The checkpoint's logit_scale, not the override's init, is loaded.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.logit_scale), 1.5)
    half = CLIP.from_preset(directory, dtype="bfloat16")  # Keras-serialized towers.
    assert half.text_encoder.compute_dtype == "bfloat16"


def test_dtype_override_reaches_the_towers():
    model = CLIP.from_preset(fixture("hf_clip_argmax"), dtype="bfloat16")
    assert model.vision_encoder.compute_dtype == "bfloat16"
    assert model.text_encoder.compute_dtype == "bfloat16"
    ref = reference("hf_clip_argmax")
    images = model.encode_image(ref["images"])
    diff = np.abs(np.asarray(images, "float32") - ref["image_embeddings"]).max()
    assert diff < 0.1  # bfloat16 keeps ~3 significant digits.


def test_dtype_override_reaches_nested_modality_layers():
    """MultimodalAdapter / MultimodalDecoder hold their per-modality layers
    in dicts: the dtype override reaches those too."""
    model = from_preset(fixture("hf_perceiver_multimodal"), dtype="bfloat16",
                        load_weights=False)
    adapters = model.input_adapter.adapters
    decoders = model.decoder.decoders
    assert sorted(adapters) == ["audio", "image", "label"]
    for layer in list(adapters.values()) + list(decoders.values()):
        assert layer.compute_dtype == "bfloat16", layer.name


def test_wrong_model_class_is_refused():
    with pytest.raises(ValueError, match="holds a CLIP, not a VisionTransformer"):
        from_preset(fixture("hf_clip_argmax"), model_class=VisionTransformer)


def test_assign_weights_names_unset_and_unexpected_weights():
    model = tiny_clip()
    weights = {p: keras.ops.convert_to_numpy(v) for p, v in model_weights(model).items()}
    missing = dict(weights)
    del missing["vision_encoder/ln_post/gamma"]
    with pytest.raises(ValueError,
                       match=r"1 model weights left unset \['vision_encoder/ln_post/gamma'\]"):
        assign_weights(model, missing)
    with pytest.raises(ValueError, match=r"1 checkpoint weights with no model weight.*extra"):
        assign_weights(model, dict(weights, extra=np.zeros(2)))


def test_unknown_directory_lists_the_expected_files(tmp_path):
    with pytest.raises(ValueError, match="open_clip_config.json"):
        from_preset(str(tmp_path))


def test_a_preprocessor_only_directory_holds_no_model(tmp_path):
    CLIPPreprocessor.from_preset(fixture("hf_clip_eos")).save_to_preset(str(tmp_path))
    with pytest.raises(ValueError, match="holds no model: config.json"):
        CLIP.from_preset(str(tmp_path))


# === Package data and local entries ===


def test_shipped_preset_loads_offline():
    """`shapes_clip_tiny` (a functional conv vision tower) loads from the
    package with the weights stored in its safetensors file."""
    from safetensors.numpy import load_file

    model = CLIP.from_preset("shapes_clip_tiny")
    directory = os.path.join(resolve.PACKAGE_WEIGHTS, "shapes_clip_tiny")
    stored = load_file(os.path.join(directory, preset_files.WEIGHTS_FILE))
    weights = model_weights(model)
    assert set(weights) == set(stored)
    for path, variable in weights.items():
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), stored[path],
                                      err_msg=path)


def test_package_data_preset(monkeypatch, tmp_path):
    monkeypatch.setattr(resolve, "PACKAGE_WEIGHTS", str(tmp_path))
    with pytest.raises(ValueError, match="train_shapes_clip_tiny.py"):
        CLIP.from_preset("shapes_clip_tiny")
    model = tiny_clip()
    model.save_to_preset(os.path.join(tmp_path, "shapes_clip_tiny"))
    restored = CLIP.from_preset("shapes_clip_tiny")
    assert_trees_close(restored(batch()), model(batch()), atol=1e-6)


def test_directory_entry(monkeypatch, tmp_path):
    """An entry may point at a local directory (a checkpoint or a preset)."""
    monkeypatch.setitem(CLIP.family_presets, "local_hf", {
        "class_name": "CLIP", "description": "test", "directory": fixture("hf_clip_eos")})
    assert_clip_parity(CLIP.from_preset("local_hf"), reference("hf_clip_eos"))
    monkeypatch.setitem(CLIP.family_presets, "gone", {
        "class_name": "CLIP", "description": "test", "directory": str(tmp_path / "gone")})
    with pytest.raises(ValueError, match="points to the directory .*gone"):
        CLIP.from_preset("gone")
