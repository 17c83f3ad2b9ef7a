"""Hugging Face CLIP checkpoints convert with float32 parity (no torch here)."""

import json
import os

import numpy as np
import pytest

from kerasmm import convert
from kerasmm.convert import hf_clip
from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.presets import from_preset
from tests.convert.parity import ATOL, assert_clip_parity, converted_model, copy_fixture
from tests.convert.parity import fixture
from tests.convert.parity import max_abs_diff, reference
from tests.convert.parity import rewrite_config, rewrite_weights


@pytest.mark.parametrize("name", ["hf_clip_eos", "hf_clip_argmax"])
def test_parity_with_transformers(name):
    model = converted_model(name)
    assert isinstance(model, CLIP)
    assert_clip_parity(model, reference(name))


def test_parity_through_the_tokenizer():
    """Strings tokenized by kerasmm give HF's text embeddings (HF tokenized
    them with its own CLIPTokenizer)."""
    directory = fixture("hf_clip_eos")
    model = converted_model("hf_clip_eos")
    tokenizer = CLIPPreprocessor.from_preset(directory).tokenizer
    with open(os.path.join(directory, "strings.json"), encoding="utf-8") as f:
        strings = json.load(f)
    ref = reference("hf_clip_eos")
    token_ids = np.asarray(tokenizer(strings))
    assert token_ids.shape == ref["string_token_ids"].shape
    diff = max_abs_diff(model.encode_text(token_ids), ref["string_text_embeddings"])
    assert diff <= ATOL


def test_eos_pooling_follows_the_config():
    """eos_token_id == 2 (old OpenAI exports): HF takes the argmax; other
    ids: the first position holding that id."""
    old = convert.convert(fixture("hf_clip_argmax"), load_weights=False)
    new = convert.convert(fixture("hf_clip_eos"), load_weights=False)
    assert old.config["text_encoder"]["config"]["eot_token_id"] is None
    with open(os.path.join(fixture("hf_clip_eos"), "config.json")) as f:
        eos = json.load(f)["text_config"]["eos_token_id"]
    assert new.config["text_encoder"]["config"]["eot_token_id"] == eos
    assert old.config["vision_encoder"]["config"]["activation"] == "gelu"
    assert new.config["vision_encoder"]["config"]["activation"] == "quick_gelu"


def test_short_config_uses_transformers_defaults(tmp_path):
    """LAION's HF export lists only hidden_act: the rest is HF's default."""
    short = {"model_type": "clip", "projection_dim": 512,
             "text_config": {"hidden_act": "gelu"}, "vision_config": {"hidden_act": "gelu"}}
    config = hf_clip.CONVERTER.model_config(short)
    vision = config["vision_encoder"]["config"]
    text = config["text_encoder"]["config"]
    assert (vision["image_size"], vision["patch_size"], vision["hidden_dim"]) == (224, 32, 768)
    assert (text["vocabulary_size"], text["context_length"], text["hidden_dim"]) == (49408, 77, 512)
    assert text["eot_token_id"] == 49407 and text["activation"] == "gelu"
    assert (vision["num_layers"], text["num_layers"]) == (12, 12)
    assert vision["intermediate_dim"] is None and text["intermediate_dim"] is None  # 4x
    assert hf_clip.CONVERTER.preprocessing(short, str(tmp_path))["image_size"] == 224


def test_missing_tensor_is_named(tmp_path):
    directory = copy_fixture("hf_clip_eos", tmp_path)
    rewrite_weights(directory, lambda t: t.pop("text_model.final_layer_norm.bias"))
    with pytest.raises(ValueError, match="text_model.final_layer_norm.bias"):
        convert.convert(directory)


def test_unused_tensor_is_listed(tmp_path):
    directory = copy_fixture("hf_clip_eos", tmp_path)
    rewrite_weights(directory, lambda t: t.update(extra_head=np.zeros(3, "float32")))
    with pytest.raises(ValueError, match=r"left unused.*extra_head"):
        convert.convert(directory)


def test_shape_mismatch_names_tensor_and_both_shapes(tmp_path):
    """The converter checks the MLP shapes the config implies (torch's
    (out, in) layout), naming the tensor and the Keras weight."""
    directory = copy_fixture("hf_clip_eos", tmp_path)
    name = "vision_model.encoder.layers.1.mlp.fc1.weight"
    rewrite_weights(directory, lambda t: t.update({name: t[name][:, :8]}))
    with pytest.raises(ValueError) as info:
        from_preset(directory)
    message = str(info.value)
    assert "vision_encoder/block_1/mlp/dense_1/kernel" in message and name in message
    assert "(128, 8)" in message and "(128, 32)" in message


def test_shape_the_config_does_not_declare_is_checked_against_the_model(tmp_path):
    directory = copy_fixture("hf_clip_eos", tmp_path)
    name = "text_model.embeddings.position_embedding.weight"
    rewrite_weights(directory, lambda t: t.update({name: t[name][:, :8]}))
    with pytest.raises(ValueError) as info:
        from_preset(directory)
    message = str(info.value)
    assert "text_encoder/position_embedding/embeddings" in message and name in message
    assert "(24, 8)" in message and "(24, 32)" in message


def test_config_with_more_layers_than_weights_fails(tmp_path):
    directory = copy_fixture("hf_clip_argmax", tmp_path)
    rewrite_config(directory, lambda c: c["vision_config"].update(num_hidden_layers=3))
    with pytest.raises(ValueError, match="vision_model.encoder.layers.2"):
        convert.convert(directory)


@pytest.mark.parametrize("key,value,match", [
    ("hidden_act", "relu", "hidden_act='relu'"),
    ("hidden_size", "512", r"text_config\.hidden_size must be an integer.*'512'"),
    ("layer_norm_eps", [1e-5], r"text_config\.layer_norm_eps must be a number"),
])
def test_unsupported_config_is_refused(key, value, match):
    config = {"model_type": "clip", "text_config": {key: value}}
    with pytest.raises(ValueError, match=match):
        hf_clip.CONVERTER.model_config(config)


def test_any_mlp_width_and_epsilon_convert():
    """ViT-bigG-14's MLP (8192 = int(1664 * 4.9231)), a non-default epsilon."""
    config = hf_clip.CONVERTER.model_config({
        "model_type": "clip", "vision_config": {"hidden_size": 1664, "intermediate_size": 8192,
                                                "num_attention_heads": 16},
        "text_config": {"intermediate_size": 1000, "layer_norm_eps": 1e-6}})
    assert config["vision_encoder"]["config"]["intermediate_dim"] == 8192
    assert config["text_encoder"]["config"]["intermediate_dim"] == 1000
    assert config["text_encoder"]["config"]["layer_norm_epsilon"] == 1e-6


def test_config_without_weights_needs_no_weights_file(tmp_path):
    directory = copy_fixture("hf_clip_argmax", tmp_path)
    os.remove(os.path.join(directory, "model.safetensors"))
    converted = convert.convert(directory, load_weights=False)
    assert converted.weights is None and converted.class_name == "CLIP"
    with pytest.raises(ValueError, match="model.safetensors"):
        convert.convert(directory)
