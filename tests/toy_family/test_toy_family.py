"""A family added outside kerasmm loads with `from_preset`, like CLIP does."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from kerasmm.convert import save_tensors
from tests.toy_family.toy_backbone import ToyBackbone
from tests.toy_family.toy_preprocessor import ToyPreprocessor
from tests.toy_family.toy_presets import FIXTURES

VOCABULARY = ["[PAD]", "[UNK]", "a", "red", "blue", "circle", "square"]
PROMPTS = ["a red circle", "blue square", "a purple circle"]


def write_checkpoint(directory, seed=0):
    """A Hugging Face-style toy checkpoint: torch names, (out, in) kernels."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    config = {"model_type": "toy", "vocab_size": len(VOCABULARY), "hidden_size": 6,
              "projection_dim": 4, "max_position_embeddings": 5}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    tensors = {"embeddings.word_embeddings.weight": rng.normal(size=(7, 6)),
               "encoder.norm.weight": 1 + 0.1 * rng.normal(size=6),
               "encoder.norm.bias": 0.1 * rng.normal(size=6),
               "projection.weight": rng.normal(size=(4, 6)),
               "projection.bias": rng.normal(size=4)}
    save_tensors(os.path.join(directory, "model.safetensors"),
                 {k: v.astype("float32") for k, v in tensors.items()})
    with open(os.path.join(directory, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCABULARY))


def numpy_forward(directory, token_ids):
    """The toy model in numpy, from the checkpoint's own tensors."""
    from kerasmm.convert import load_tensors

    t = load_tensors(os.path.join(directory, "model.safetensors"))
    x = t["embeddings.word_embeddings.weight"][token_ids]
    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12)
    x = x * t["encoder.norm.weight"] + t["encoder.norm.bias"]
    return x.mean(axis=1) @ t["projection.weight"].T + t["projection.bias"]


CHECKPOINT = os.path.join(FIXTURES, "toy_hf_tiny")


def test_the_family_lists_and_loads_its_preset():
    assert sorted(ToyBackbone.presets) == ["toy_hf_tiny"]
    model = ToyBackbone.from_preset("toy_hf_tiny")
    preprocessor = ToyPreprocessor.from_preset("toy_hf_tiny")
    token_ids = preprocessor(PROMPTS).numpy()
    np.testing.assert_array_equal(token_ids, [[2, 3, 5, 0, 0], [4, 6, 0, 0, 0],
                                              [2, 1, 5, 0, 0]])
    np.testing.assert_allclose(model(token_ids), numpy_forward(CHECKPOINT, token_ids),
                               atol=1e-5)


def test_preprocessor_is_the_same_eagerly_and_in_tf_data():
    preprocessor = ToyPreprocessor.from_preset(CHECKPOINT)
    mapped = tf.data.Dataset.from_tensor_slices(PROMPTS).batch(3).map(preprocessor)
    np.testing.assert_array_equal(next(iter(mapped)), preprocessor(PROMPTS))


def test_save_to_preset_round_trip(tmp_path):
    model = ToyBackbone.from_preset(CHECKPOINT)
    preprocessor = ToyPreprocessor.from_preset(CHECKPOINT)
    model.save_to_preset(str(tmp_path), preprocessor=preprocessor)
    token_ids = ToyPreprocessor.from_preset(str(tmp_path))(PROMPTS)
    np.testing.assert_allclose(ToyBackbone.from_preset(str(tmp_path))(token_ids),
                               model(token_ids), atol=1e-6)


def test_a_wrong_checkpoint_is_refused_naming_the_tensor(tmp_path):
    write_checkpoint(str(tmp_path))
    with open(tmp_path / "config.json") as f:
        config = json.load(f)
    config["projection_dim"] = 3  # the checkpoint's projection is 4 wide
    with open(tmp_path / "config.json", "w") as f:
        json.dump(config, f)
    with pytest.raises(ValueError, match="projection"):
        ToyBackbone.from_preset(str(tmp_path))


if __name__ == "__main__":  # Rewrites the committed fixture (deterministic).
    write_checkpoint(CHECKPOINT)
