"""Which variables skip weight decay (open_clip's rule)."""

import keras

# Leaf variable names (never layer paths: a patch-embedding *kernel* decays).
_EXCLUDED_NAME_PARTS = ("embedding", "logit_scale", "logit_bias")


def weight_decay_exclusions(model):
    """The trainable variables that should not be weight-decayed.

    open_clip's rule (`open_clip_train/optim.py`): every variable with at
    most one dimension (norm scales and offsets, biases, class tokens,
    `logit_scale`, `logit_bias`), plus the learned embedding tables, here
    the variables whose own name (not their layer's) contains
    `"embedding"`: token embeddings (`keras.layers.Embedding`'s
    `embeddings`), position tables (`LearnedPositionEmbedding`) and
    class embeddings. open_clip excludes position and class embeddings by
    name; token embedding tables are excluded here too (BEiT / timm's
    convention), since decaying the rows of rare tokens towards 0 only
    loses information. Projection, attention, MLP and patch-embedding
    kernels decay.

    Pass the list to the optimizer before its first step:
    `optimizer.exclude_from_weight_decay(var_list=weight_decay_exclusions(
    model))` (note that this call replaces any earlier exclusions).

    Args:
        model: a `keras.Model` or layer, built.

    Returns:
        list of `keras.Variable`, in `model.trainable_variables` order.

    Example:

    >>> model = keras.Sequential([keras.Input((4,), dtype="int32"),
    ...                           keras.layers.Embedding(10, 8),
    ...                           keras.layers.LayerNormalization(),
    ...                           keras.layers.Dense(3)])
    >>> [v.name for v in weight_decay_exclusions(model)]   # all but dense/kernel
    ['embeddings', 'gamma', 'beta', 'bias']
    >>> optimizer = keras.optimizers.AdamW(weight_decay=0.1)
    >>> optimizer.exclude_from_weight_decay(var_list=weight_decay_exclusions(model))
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError("model must be a keras.Model or keras.layers.Layer. "
                        f"Received: model of type {type(model).__name__}")
    return [variable for variable in model.trainable_variables
            if len(variable.shape) <= 1
            or any(part in variable.name for part in _EXCLUDED_NAME_PARTS)]
