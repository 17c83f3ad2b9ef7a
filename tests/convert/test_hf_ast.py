"""The hf_ast converter: config translation, preprocessing constants, and
clear errors on configs and tensors it cannot map."""

import json
import os
import shutil

import numpy as np
import pytest

from kerasmm.convert import convert
from kerasmm.convert import load_tensors
from kerasmm.convert import save_tensors

CHECKPOINT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "hf_ast", "checkpoint")


def copy_checkpoint(tmp_path, **config_changes):
    directory = tmp_path / "ast"
    shutil.copytree(CHECKPOINT, directory)
    with open(directory / "config.json") as f:
        config = json.load(f)
    config.update(config_changes)
    with open(directory / "config.json", "w") as f:
        json.dump(config, f)
    return directory


def test_config_and_preprocessing():
    converted = convert(CHECKPOINT)
    assert converted.class_name == "AudioClassifier"
    backbone = converted.config["backbone"]["config"]
    assert {k: backbone[k] for k in ("num_mel_bins", "max_length", "patch_size",
                                     "frequency_stride", "time_stride")} == {
        "num_mel_bins": 36, "max_length": 60, "patch_size": 16, "frequency_stride": 10,
        "time_stride": 12}
    assert converted.preprocessing == {"sample_rate": 16000, "mean": -4.2677393,
                                       "std": 4.5689974, "do_normalize": True,
                                       "num_mel_bins": 36, "max_length": 60}
    # (1, 1, D) tokens flattened, (1, N + 2, D) positions squeezed, OIHW -> HWIO.
    weights = converted.weights
    assert weights["backbone/embedding/class_token"].shape == (32,)
    assert weights["backbone/embedding/position_embedding"].shape == (14, 32)
    assert weights["backbone/embedding/patch_embedding/kernel"].shape == (16, 16, 1, 32)
    assert weights["head/kernel"].shape == (32, 5)


def test_square_patch_list_accepted_and_others_refused(tmp_path):
    directory = copy_checkpoint(tmp_path, patch_size=[16, 16])
    assert convert(str(directory), load_weights=False).config["backbone"]["config"][
        "patch_size"] == 16
    directory = copy_checkpoint(tmp_path / "b", patch_size=[16, 8])
    with pytest.raises(ValueError, match="square patches"):
        convert(str(directory), load_weights=False)
    directory = copy_checkpoint(tmp_path / "c", qkv_bias=False)
    with pytest.raises(ValueError, match="qkv_bias"):
        convert(str(directory), load_weights=False)


def test_missing_or_misshapen_tensor(tmp_path):
    directory = copy_checkpoint(tmp_path)
    path = str(directory / "model.safetensors")
    tensors = load_tensors(path)
    del tensors["classifier.dense.bias"]
    save_tensors(path, tensors)
    with pytest.raises(ValueError, match="classifier.dense.bias"):
        convert(str(directory))
    directory = copy_checkpoint(tmp_path / "b")
    path = str(directory / "model.safetensors")
    tensors = load_tensors(path)
    name = "audio_spectrogram_transformer.embeddings.position_embeddings"
    tensors[name] = np.zeros((1, 10, 32), "float32")
    save_tensors(path, tensors)
    with pytest.raises(ValueError, match="position_embeddings"):
        convert(str(directory))
