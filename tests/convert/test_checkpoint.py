"""TensorReader transforms and checks; reading safetensors and PyTorch files."""

import builtins
import json
import os

import numpy as np
import pytest

from kerasmm import convert
from kerasmm.convert.checkpoint import TensorReader
from kerasmm.convert.safetensors_io import find_weights_file


def test_linear_and_conv_transposes():
    rng = np.random.default_rng(0)
    linear, conv = rng.normal(size=(5, 3)), rng.normal(size=(6, 3, 2, 4))  # (out, in), OIHW
    reader = TensorReader({"fc.weight": linear, "conv.weight": conv})
    reader.linear("fc.weight", "dense/kernel")
    reader.conv("conv.weight", "conv/kernel")
    weights, _ = reader.finish()
    x = rng.normal(size=(2, 3))
    np.testing.assert_allclose(x @ weights["dense/kernel"], x @ linear.T)  # torch: x W^T
    kernel = weights["conv/kernel"]
    assert kernel.shape == (2, 4, 3, 6)  # (kh, kw, I, O)
    for o, i, h, w in [(0, 0, 0, 0), (5, 2, 1, 3), (3, 1, 0, 2)]:
        assert kernel[h, w, i, o] == conv[o, i, h, w]


def test_unused_tensors_are_listed_and_ignores_apply():
    tensors = {"a": np.ones(2), "b": np.ones(2), "bn.num_batches_tracked": np.array(3)}
    reader = TensorReader(tensors, ignore=("num_batches_tracked",), checkpoint="ckpt")
    reader.copy("a", "x")
    with pytest.raises(ValueError, match=r"ckpt: 1 checkpoint tensors were left unused.*'b'"):
        reader.finish()


def test_reading_twice_and_setting_twice_fail():
    reader = TensorReader({"a": np.ones(2)})
    reader.copy("a", "x")
    with pytest.raises(ValueError, match="read twice"):
        reader.take("a")
    with pytest.raises(ValueError, match="set twice"):
        reader.put("x", np.ones(2), "again")


def test_missing_tensor_suggests_close_names():
    reader = TensorReader({"visual.ln_post.weight": np.ones(2)})
    with pytest.raises(ValueError, match=r"'visual.ln_pre.weight'.*visual.ln_post.weight"):
        reader.take("visual.ln_pre.weight")


def test_declared_shape_is_checked():
    reader = TensorReader({"logit_scale": np.ones(1)}, checkpoint="ckpt")
    with pytest.raises(ValueError, match=r"'logit_scale' has shape \(1,\).*implies \(\)"):
        reader.take("logit_scale", shape=())


def test_half_precision_is_read_as_float32(tmp_path):
    import ml_dtypes

    path = os.path.join(tmp_path, "w.safetensors")
    values = np.array([1.5, -2.25], "float32")
    convert.save_tensors(path, {"h": values.astype("float16"),
                                "b": values.astype(ml_dtypes.bfloat16),
                                "i": np.array([3, 4], "int64")})
    tensors = convert.load_tensors(path)
    for name in ("h", "b"):
        assert tensors[name].dtype == np.float32
        np.testing.assert_array_equal(tensors[name], values)
    assert tensors["i"].dtype == np.int64


def test_pytorch_file_without_torch_names_the_file_to_get(tmp_path, monkeypatch):
    path = os.path.join(tmp_path, "open_clip_pytorch_model.bin")
    with open(path, "wb") as f:
        f.write(b"not read")
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ValueError, match=r"needs torch.*'open_clip_model.safetensors'"):
        convert.load_tensors(path)


def test_unknown_suffix_and_missing_file():
    with pytest.raises(ValueError, match="No checkpoint file"):
        convert.load_tensors("/nonexistent/model.safetensors")
    with pytest.raises(ValueError, match="must end in .safetensors"):
        convert.load_tensors(__file__)


def test_find_weights_file_prefers_the_first_candidate(tmp_path):
    for name in ("b.safetensors", "a.bin"):
        open(os.path.join(tmp_path, name), "wb").close()
    assert find_weights_file(tmp_path, ("b.safetensors", "a.bin")).endswith("b.safetensors")
    with pytest.raises(ValueError, match=r"expected one of \['c.safetensors'\]"):
        find_weights_file(tmp_path, ("c.safetensors",))


def test_detect_and_unknown_directory(tmp_path):
    assert convert.detect(os.path.join(os.path.dirname(__file__), "..", "fixtures",
                                       "open_clip_vit")) == "open_clip"
    with pytest.raises(ValueError, match="No known checkpoint"):
        convert.convert(str(tmp_path))
    with pytest.raises(ValueError, match="Unknown checkpoint kind"):
        convert.convert(str(tmp_path), kind="timm")


# === The Converter base: config errors name the file ===


@pytest.mark.parametrize("content, match", [
    ("{not json", r"config\.json is not valid JSON"),
    ("", r"config\.json is empty"),
    ("  \n", r"config\.json is empty"),
    ("[1, 2]", r"config\.json must hold a JSON object.*a JSON list"),
    ('{"model_type": "bert"}', r"config\.json is not a Hugging Face CLIP config"),
])
def test_unreadable_config_names_the_file(tmp_path, content, match):
    path = os.path.join(tmp_path, "config.json")
    with open(path, "w") as f:
        f.write(content)
    with pytest.raises(ValueError, match=match) as info:
        convert.hf_clip.CONVERTER.convert(str(tmp_path))
    assert path in str(info.value)


@pytest.mark.parametrize("converter, config, match", [
    ("hf_clip", {"model_type": "clip", "projection_dim": "512"},
     r"projection_dim must be an integer\. Received: projection_dim='512'"),
    ("hf_clip", {"model_type": "clip", "text_config": [1]},
     r"text_config must be an object"),
    ("hf_clip", {"model_type": "clip", "vision_config": {"num_hidden_layers": True}},
     r"vision_config\.num_hidden_layers must be an integer.*True"),
    ("open_clip", {"model_cfg": {"vision_cfg": {}, "text_cfg": {}}},
     r"missing the key 'model_cfg\.embed_dim'"),
    ("open_clip", {"model_cfg": {"embed_dim": 8, "text_cfg": {}}},
     r"missing the key 'model_cfg\.vision_cfg'"),
    ("open_clip", {"model_cfg": {"embed_dim": 8, "vision_cfg": {"width": 1.5},
                                 "text_cfg": {}}},
     r"vision_cfg\.width must be an integer"),
    ("hf_perceiver", {"model_type": "perceiver", "architectures": ["PerceiverForMaskedLM"]},
     r"missing the key 'd_model'"),
])
def test_bad_config_field_names_the_file_and_key(tmp_path, converter, config, match):
    converter = convert.CONVERTERS[converter]
    path = os.path.join(tmp_path, converter.config_file)
    with open(path, "w") as f:
        json.dump(config, f)
    with pytest.raises(ValueError, match=match) as info:
        converter.convert(str(tmp_path), load_weights=False)
    assert str(info.value).startswith(f"{path}: ")


def test_field_types():
    config = {"n": 3, "x": 2, "s": "a", "flag": False, "none": None}
    assert convert.field(config, "n", int) == 3
    assert convert.field(config, "x", float) == 2.0 and isinstance(
        convert.field(config, "x", float), float)
    assert convert.field(config, "none", int, 7) == 7  # null counts as absent
    assert convert.field(config, "flag", bool) is False
    with pytest.raises(ValueError, match=r"where\.flag must be an integer"):
        convert.field(config, "flag", int, where="where")
    with pytest.raises(ValueError, match=r"s must be an integer or a list"):
        convert.field(config, "s", (int, list))


class ToyConverter(convert.Converter):
    """A whole converter: declarations, a translation and a name map."""

    kind = "toy"
    class_name = "ToyModel"
    config_file = "toy.json"
    weight_files = ("toy.safetensors",)
    ignore = ("step",)
    prefixes = ("module.",)

    def model_config(self, config):
        return {"width": convert.field(config, "width", int)}

    def name_map(self, reader, config, model_config):
        width = model_config["width"]
        reader.dense("fc", "dense", (width, 3))
        reader.layer_norm("norm", "norm")


def test_a_toy_converter_needs_only_its_maps(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"module.fc.weight": rng.normal(size=(4, 3)), "module.fc.bias": np.ones(4),
               "module.norm.weight": np.ones(4), "module.norm.bias": np.zeros(4),
               "module.step": np.array(7)}
    convert.save_tensors(os.path.join(tmp_path, "toy.safetensors"), tensors)
    with open(os.path.join(tmp_path, "toy.json"), "w") as f:
        json.dump({"width": 4}, f)
    converted = ToyConverter().convert(str(tmp_path))
    assert (converted.class_name, converted.config) == ("ToyModel", {"width": 4})
    np.testing.assert_array_equal(converted.weights["dense/kernel"],
                                  tensors["module.fc.weight"].T)
    assert converted.sources["dense/kernel"] == "fc.weight (transposed)"
    assert sorted(converted.weights) == ["dense/bias", "dense/kernel", "norm/beta",
                                         "norm/gamma"]
    with open(os.path.join(tmp_path, "toy.json"), "w") as f:
        json.dump({"width": 5}, f)  # The weights are 4 wide.
    with pytest.raises(ValueError, match=r"'fc\.weight' has shape \(4, 3\).*\(5, 3\)"):
        ToyConverter().convert(str(tmp_path))
