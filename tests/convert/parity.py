"""Shared helpers of the converter parity tests (fixtures made by
tools/make_parity_fixtures.py with torch, transformers and open_clip)."""

import functools
import json
import os
import shutil

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "fixtures")
# Float32 parity required of converted checkpoints.
ATOL = 1e-4


def fixture(name):
    return os.path.join(FIXTURES, name)


def reference(name, file_name="reference.npz"):
    with np.load(os.path.join(fixture(name), file_name)) as data:
        return dict(data)


def max_abs_diff(actual, expected):
    return float(np.max(np.abs(np.asarray(actual, "float64") - np.asarray(expected, "float64"))))


def assert_clip_parity(model, ref):
    """Image/text embeddings and logit scale of `model` match the reference."""
    outputs = model({"images": ref["images"], "token_ids": ref["token_ids"]})
    for key in ("image_embeddings", "text_embeddings", "logit_scale"):
        diff = max_abs_diff(outputs[key], ref[key])
        assert diff <= ATOL, f"{key}: max abs diff {diff:.3g} > {ATOL}"


def copy_fixture(name, tmp_path):
    """A writable copy of a fixture directory."""
    directory = os.path.join(tmp_path, name)
    shutil.copytree(fixture(name), directory)
    return directory


def rewrite_weights(directory, edit, file_name="model.safetensors"):
    """Applies `edit(tensors)` (in place) to a copied fixture's weights."""
    from kerasmm import convert

    path = os.path.join(directory, file_name)
    tensors = convert.load_tensors(path)
    edit(tensors)
    convert.save_tensors(path, tensors)


def rewrite_config(directory, edit, file_name="config.json"):
    """Applies `edit(config)` (in place) to a copied fixture's config."""
    path = os.path.join(directory, file_name)
    with open(path) as f:
        config = json.load(f)
    edit(config)
    with open(path, "w") as f:
        json.dump(config, f)


@functools.lru_cache(maxsize=None)
def converted_model(name):
    """The fixture checkpoint `name` as a kerasmm model, converted once per
    test session (tests must not modify it)."""
    from kerasmm.presets import from_preset

    return from_preset(fixture(name))
