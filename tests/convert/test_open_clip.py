"""open_clip checkpoints (ViT and ModifiedResNet) convert with float32 parity."""

import json
import os

import numpy as np
import pytest

from kerasmm import convert
from kerasmm.convert import open_clip
from kerasmm.models import CLIP
from kerasmm.presets import from_preset
from tests.convert.parity import assert_clip_parity, converted_model, copy_fixture, fixture
from tests.convert.parity import reference
from tests.convert.parity import rewrite_weights


@pytest.mark.parametrize("name", ["open_clip_vit", "open_clip_rn"])
def test_parity_with_open_clip(name):
    """float16 checkpoint tensors, float32 model: outputs equal open_clip's."""
    model = converted_model(name)
    assert isinstance(model, CLIP)
    assert_clip_parity(model, reference(name))


def test_towers_and_activation_follow_the_config():
    vit = convert.convert(fixture("open_clip_vit"), load_weights=False).config
    rn = convert.convert(fixture("open_clip_rn"), load_weights=False).config
    assert vit["vision_encoder"]["class_name"] == "VisionTransformer"
    assert vit["vision_encoder"]["config"]["activation"] == "gelu"  # LAION: quick_gelu off
    assert vit["text_encoder"]["config"]["activation"] == "gelu"
    assert vit["vision_encoder"]["config"]["num_heads"] == 32 // 8  # width // head_width
    assert rn["vision_encoder"]["class_name"] == "ModifiedResNet"
    assert rn["vision_encoder"]["config"]["num_heads"] == 4 * 32 // 32
    assert rn["text_encoder"]["config"]["activation"] == "quick_gelu"  # OpenAI
    assert rn["text_encoder"]["config"]["eot_token_id"] is None  # argmax pooling


def test_packed_qkv_is_split_in_order():
    """in_proj rows are [q; k; v]; Keras kernels are their transposes."""
    rng = np.random.default_rng(0)
    weight, bias = rng.normal(size=(12, 4)), rng.normal(size=(12,))
    reader = convert.TensorReader(
        {"attn.in_proj_weight": weight, "attn.in_proj_bias": bias})
    reader.packed_qkv("attn", "attention")
    weights, sources = reader.finish()
    for i, part in enumerate(("query", "key", "value")):
        np.testing.assert_array_equal(weights[f"attention/{part}/kernel"],
                                      weight[4 * i:4 * (i + 1)].T)
        np.testing.assert_array_equal(weights[f"attention/{part}/bias"],
                                      bias[4 * i:4 * (i + 1)])
    assert "in_proj_weight[key]" in sources["attention/key/kernel"]


def _model_cfg(**vision):
    return {"model_cfg": {"embed_dim": 8, "vision_cfg": {"layers": 1, "width": 64, **vision},
                          "text_cfg": {"layers": 1}}}


@pytest.mark.parametrize("option", [
    {"ls_init_value": 0.1}, {"attentional_pool": True}, {"no_ln_pre": True},
    {"timm_model_name": "resnet50"}, {"pool_type": "avg"},
    {"image_size": [224, 256]},
])
def test_unsupported_options_are_refused(option):
    with pytest.raises(ValueError, match=next(iter(option))):
        open_clip.CONVERTER.model_config(_model_cfg(**option))


def test_off_options_written_out_are_accepted():
    config = open_clip.CONVERTER.model_config(_model_cfg(
        ls_init_value=None, attentional_pool=False, block_type="default", image_size=[32, 32]))
    assert config["vision_encoder"]["config"]["image_size"] == 32


def test_eos_pooling_option():
    cfg = _model_cfg()
    cfg["model_cfg"]["text_cfg"].update(pool_type="eos", eos_id=7)
    config = open_clip.CONVERTER.model_config(cfg)
    assert config["text_encoder"]["config"]["eot_token_id"] == 7


def test_preprocessing_from_config():
    converted = convert.convert(fixture("open_clip_rn"), load_weights=False)
    with open(os.path.join(fixture("open_clip_rn"), "open_clip_config.json")) as f:
        preprocess = json.load(f)["preprocess_cfg"]
    assert converted.preprocessing["image_size"] == 64
    assert converted.preprocessing["mean"] == preprocess["mean"]
    assert converted.preprocessing["context_length"] == 16


def test_missing_batch_norm_statistic_is_named(tmp_path):
    directory = copy_fixture("open_clip_rn", tmp_path)
    rewrite_weights(directory, lambda t: t.pop("visual.layer3.0.downsample.1.running_var"),
                    "open_clip_model.safetensors")
    with pytest.raises(ValueError, match=r"visual\.layer3\.0\.downsample\.1\.running_var"):
        convert.convert(directory)


def test_module_prefix_of_training_checkpoints_is_stripped(tmp_path):
    directory = copy_fixture("open_clip_vit", tmp_path)
    path = os.path.join(directory, "open_clip_model.safetensors")
    tensors = convert.load_tensors(path)
    convert.save_tensors(path, {f"module.{k}": v for k, v in tensors.items()})
    assert_clip_parity(from_preset(directory), reference("open_clip_vit"))
