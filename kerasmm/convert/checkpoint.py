"""What a converter returns, and the bookkeeping every converter shares.

A converter turns a checkpoint directory into plain data: the name of a
kerasmm model class, its constructor arguments (nested towers as
`{"class_name": ..., "config": {...}}` dicts), and a map from Keras weight
paths to numpy arrays. It never imports `kerasmm.models`;
`kerasmm.models.backbone` builds the model from that data and assigns the
arrays, checking every shape.
"""

import dataclasses
import difflib
import json
import os
from typing import Callable

import numpy as np


@dataclasses.dataclass
class ConvertedCheckpoint:
    """A checkpoint as plain data.

    Attributes:
        class_name: the kerasmm model class, e.g. `"CLIP"`.
        config: constructor arguments of that class; a nested model is a
            dict `{"class_name": "VisionTransformer", "config": {...}}`.
        weights: `{Keras weight path: np.ndarray}` (paths relative to the
            model, e.g. `"vision_encoder/block_0/attention/query/kernel"`),
            or None when converted without weights.
        sources: `{Keras weight path: checkpoint tensor name}`, for error
            messages.
        preprocessing: how inputs were prepared for this checkpoint, e.g.
            `{"image_size", "mean", "std", "interpolation",
            "context_length", "pad_token_id"}`.
        input_shape: shape to build the model with when its constructor
            does not build it (None: built on construction).
        description: where the checkpoint came from.
    """

    class_name: str
    config: dict
    weights: dict = None
    sources: dict = dataclasses.field(default_factory=dict)
    preprocessing: dict = dataclasses.field(default_factory=dict)
    input_shape: tuple = None
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Converter:
    """How to recognise, fetch and convert one kind of checkpoint.

    Attributes:
        kind: registry key, e.g. `"hf_clip"`.
        config_file: the file whose content identifies the kind.
        weight_files: candidate weight files, in order of preference.
        asset_files: optional files to fetch too (tokenizer vocabularies).
        matches: `(config: dict) -> bool`, True if `config_file` with this
            content is a checkpoint of this kind.
        convert: `(directory, load_weights=True) -> ConvertedCheckpoint`.
    """

    kind: str
    config_file: str
    weight_files: tuple
    asset_files: tuple
    matches: Callable
    convert: Callable


def to_numpy(array):
    """float16 / bfloat16 to float32; every other dtype as is."""
    array = np.asarray(array)
    if array.dtype.kind == "f" and array.dtype not in (np.float32, np.float64):
        return array.astype(np.float32)
    if array.dtype.kind == "V" or str(array.dtype) == "bfloat16":
        return array.astype(np.float32)
    return array


class TensorReader:
    """Reads checkpoint tensors once each and records where each one went.

    Every `take` marks a tensor used; `finish` raises if a tensor was never
    taken (a part of the checkpoint the model would silently drop) and
    returns the Keras weights. Transposes are explicit methods, so that the
    name map of a converter reads as a list of (source, transform, target).

    Args:
        tensors: `{checkpoint tensor name: array}`.
        ignore: names the model has no use for (e.g. BatchNorm's
            `num_batches_tracked`), matched exactly or by suffix.
        checkpoint: a name for the checkpoint, for error messages.
    """

    def __init__(self, tensors, ignore=(), checkpoint="checkpoint"):
        self.tensors = tensors
        self.ignore = tuple(ignore)
        self.checkpoint = checkpoint
        self.used = set()
        self.weights = {}
        self.sources = {}

    def take(self, name, shape=None):
        if name not in self.tensors:
            close = difflib.get_close_matches(name, self.tensors, n=3, cutoff=0.6)
            raise ValueError(
                f"{self.checkpoint} has no tensor {name!r}, which the model needs"
                + (f". Close names: {close}" if close else "")
            )
        if name in self.used:
            raise ValueError(f"{self.checkpoint}: tensor {name!r} was read twice")
        self.used.add(name)
        array = to_numpy(self.tensors[name])
        if shape is not None and tuple(array.shape) != tuple(shape):
            raise ValueError(
                f"{self.checkpoint}: tensor {name!r} has shape {tuple(array.shape)}, "
                f"but the config implies {tuple(shape)}"
            )
        return array

    def put(self, path, array, source):
        if path in self.weights:
            raise ValueError(f"Keras weight {path!r} was set twice (from {source})")
        self.weights[path] = np.array(array, order="C")  # Keeps 0-d arrays 0-d.
        self.sources[path] = source

    # === Transforms ===

    def copy(self, name, path, shape=None):
        """A tensor as is (norms, embeddings, biases, `x @ W` projections)."""
        self.put(path, self.take(name, shape), name)

    def linear(self, name, path):
        """torch Linear weight `(out, in)` -> Keras Dense kernel `(in, out)`."""
        array = self.take(name)
        if array.ndim != 2:
            raise ValueError(f"{self.checkpoint}: Linear weight {name!r} must be 2D. "
                             f"Received: shape {array.shape}")
        self.put(path, array.T, f"{name} (transposed)")

    def conv(self, name, path):
        """torch Conv2d weight `(O, I, kh, kw)` -> Keras kernel `(kh, kw, I, O)`."""
        array = self.take(name)
        if array.ndim != 4:
            raise ValueError(f"{self.checkpoint}: Conv2d weight {name!r} must be 4D. "
                             f"Received: shape {array.shape}")
        self.put(path, array.transpose(2, 3, 1, 0), f"{name} (OIHW -> HWIO)")

    def packed_qkv(self, prefix, path):
        """torch MultiheadAttention's `in_proj_weight` `(3D, D)` and
        `in_proj_bias` `(3D,)`: rows are q, k, v in that order."""
        weight = self.take(f"{prefix}.in_proj_weight")
        bias = self.take(f"{prefix}.in_proj_bias")
        if weight.ndim != 2 or weight.shape[0] % 3 or bias.shape != (weight.shape[0],):
            raise ValueError(
                f"{self.checkpoint}: {prefix}.in_proj_weight / in_proj_bias must be "
                f"(3D, D) / (3D,). Received: {weight.shape} / {bias.shape}"
            )
        for part, w, b in zip(("query", "key", "value"), np.split(weight, 3),
                              np.split(bias, 3)):
            source = f"{prefix}.in_proj_weight[{part}] (transposed)"
            self.put(f"{path}/{part}/kernel", w.T, source)
            self.put(f"{path}/{part}/bias", b, f"{prefix}.in_proj_bias[{part}]")

    def layer_norm(self, name, path):
        self.copy(f"{name}.weight", f"{path}/gamma")
        self.copy(f"{name}.bias", f"{path}/beta")

    def batch_norm(self, name, path):
        self.copy(f"{name}.weight", f"{path}/gamma")
        self.copy(f"{name}.bias", f"{path}/beta")
        self.copy(f"{name}.running_mean", f"{path}/moving_mean")
        self.copy(f"{name}.running_var", f"{path}/moving_variance")

    def dense(self, name, path):
        self.linear(f"{name}.weight", f"{path}/kernel")
        self.copy(f"{name}.bias", f"{path}/bias")

    # === Done ===

    def finish(self):
        """The Keras weights; raises if a checkpoint tensor was left unused."""
        unused = sorted(
            name for name in self.tensors
            if name not in self.used
            and not any(name == i or name.endswith("." + i) for i in self.ignore)
        )
        if unused:
            raise ValueError(
                f"{self.checkpoint}: {len(unused)} checkpoint tensors were left "
                f"unused (the config does not describe them): {unused[:20]}"
                + (" ..." if len(unused) > 20 else "")
            )
        return self.weights, self.sources


def read_hf_config(directory, matches, model_name):
    """`config.json` of a Hugging Face checkpoint directory, as a dict;
    a ValueError when `matches(config)` says it is not a `model_name`."""
    path = os.path.join(directory, "config.json")
    with open(path) as f:
        config = json.load(f)
    if not matches(config):
        raise ValueError(f"{path} is not a {model_name} config. Received: "
                         f"model_type={config.get('model_type')!r}")
    return config


def require(config, key, where):
    """`config[key]`, or a ValueError naming the file and the key."""
    if key not in config:
        raise ValueError(f"{where} is missing the key {key!r}. Received keys: "
                         f"{sorted(config)}")
    return config[key]
