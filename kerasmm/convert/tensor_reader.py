"""`TensorReader`: checkpoint tensors to Keras weight paths, each used once.

The name map of a converter is a list of calls on a reader: `copy`,
`linear`, `conv`, `packed_qkv`, `layer_norm`, `batch_norm`, `dense`, each a
(checkpoint name, transform, Keras path) triple. Every tensor is read at
most once, each transform checks the rank it needs (and the shape, where
the converter declares one), and `finish` refuses a checkpoint with tensors
the map never read.
"""

import difflib

import numpy as np


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

    def take(self, name, shape=None, path=None):
        """The array `name` (marked used); `shape`, if given, must match.
        `path` names the Keras weight it goes to, for the error."""
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
                + (f" (for Keras weight {path!r})" if path else "")
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
        self.put(path, self.take(name, shape, path), name)

    def linear(self, name, path, shape=None):
        """torch Linear weight `(out, in)` -> Keras Dense kernel `(in, out)`;
        `shape`, if given, is the `(out, in)` the config implies."""
        array = self.take(name, shape, path)
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

    def dense(self, name, path, shape=None):
        """torch Linear `name` (weight and bias) -> Keras Dense `path`;
        `shape`, if given, is the weight's `(out, in)`."""
        self.linear(f"{name}.weight", f"{path}/kernel", shape)
        self.copy(f"{name}.bias", f"{path}/bias", None if shape is None else shape[:1])

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
