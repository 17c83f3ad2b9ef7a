"""TensorReader transforms and checks; reading safetensors and PyTorch files."""

import builtins
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
