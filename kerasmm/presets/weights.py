"""Weight paths: naming every weight of a model, and setting them all at once.

A weight's path is its Keras `path` relative to the model, with the
auto-generated name of a sub-model replaced by the attribute that holds it
(`vision_encoder/block_0/attention/query/kernel`, `logit_scale`), so that
paths do not depend on how many models were built before. Converters
(`kerasmm.convert`) produce arrays under these paths; `model.safetensors`
stores them under these paths.
"""

import keras
import numpy as np


def model_weights(model):
    """`{weight path: variable}` for every weight of `model` (see module doc).

    Example:
    >>> encoder = kerasmm.models.TextTransformer(
    ...     vocabulary_size=64, context_length=8, hidden_dim=16, num_layers=1,
    ...     num_heads=2, output_dim=8)
    >>> "block_0/attention/query/kernel" in model_weights(encoder)
    True
    """
    renames = {}
    for attribute, value in vars(model).items():
        if isinstance(value, keras.layers.Layer) and not attribute.startswith("_"):
            renames.setdefault(value.name, attribute)
    weights = {}
    for variable in model.weights:
        parts = variable.path.split("/")
        if len(parts) > 1 and parts[0] == model.name:
            parts = parts[1:]
        if len(parts) > 1 and parts[0] in renames:
            parts[0] = renames[parts[0]]
        path = "/".join(parts)
        if path in weights:
            raise ValueError(f"Two weights of {model.name!r} share the path {path!r}; "
                             "give the sub-layers distinct names")
        weights[path] = variable
    return weights


def assign_weights(model, weights, sources=None):
    """Sets every weight of `model` from `{weight path: array}`.

    Checks all paths and shapes before assigning anything: a model weight
    left unset, a converted weight with no model weight, or a shape that
    differs raises a ValueError naming the tensors and both shapes.

    Args:
        model: a built Keras model.
        weights: `{weight path: array}`, one entry per weight of `model`.
        sources: optional `{weight path: checkpoint tensor name}`, for the
            error messages.
    """
    sources = sources or {}
    variables = model_weights(model)
    unset = sorted(set(variables) - set(weights))
    unexpected = sorted(set(weights) - set(variables))
    if unset or unexpected:
        raise ValueError(
            f"The checkpoint does not fit {type(model).__name__}: "
            f"{len(unset)} model weights left unset {unset[:20]}; "
            f"{len(unexpected)} checkpoint weights with no model weight "
            f"{[(p, sources.get(p, p)) for p in unexpected[:20]]}"
        )
    mismatched = [
        f"{path} (from {sources.get(path, path)}): checkpoint shape "
        f"{tuple(np.shape(weights[path]))}, model shape {tuple(variable.shape)}"
        for path, variable in variables.items()
        if tuple(np.shape(weights[path])) != tuple(variable.shape)
    ]
    if mismatched:
        raise ValueError("Shape mismatch: " + "; ".join(mismatched))
    for path, variable in variables.items():
        variable.assign(np.asarray(weights[path]).astype(variable.dtype))
