"""Layer-wise learning-rate decay for transformer towers (BEiT, open_clip)."""

import keras
from keras import ops

from kerasmm.utils.checks import check_number

_NORMALIZATIONS = tuple(getattr(keras.layers, name) for name in (
    "LayerNormalization", "RMSNormalization", "BatchNormalization",
    "GroupNormalization", "UnitNormalization") if hasattr(keras.layers, name))


def layerwise_lr_decay(model, base_lr, decay):
    """The learning rate of each trainable variable under layer-wise decay.

    A tower is any layer of `model` (or `model` itself) with a non-empty
    list of layers in `.blocks`, as kerasmm's `VisionTransformer` and
    `TextTransformer`. With `L` blocks, a tower's variables fall in `L + 2`
    groups, as open_clip's `layer_groups` (`open_clip_train/optim.py`):
    group 0 holds what the tower computes before its first block (patch,
    token, class and position embeddings, `ln_pre`), group `i + 1` block
    `i`, group `L` also the tower's normalisation layers after its blocks
    (`ln_post`, `ln_final`), and group `L + 1` the rest (the projection
    head). Group `g` gets `base_lr * decay ** (L + 1 - g)`: the head trains
    at `base_lr`, each step towards the input `decay` times slower. Each
    tower counts its own depth; variables outside every tower (CLIP's
    `logit_scale`) get `base_lr`. "Before" and "after" follow the order of
    the tower's `trainable_variables`, which for a subclassed tower is the
    order its layers are assigned in `__init__`.

    Keras optimizers have one learning rate; apply these rates with
    `scale_learning_rates`: with `base_lr=1` the values are the multipliers
    it takes.

    Args:
        model: a built `keras.Model` (or layer) holding the towers.
        base_lr: float > 0, the rate of the head (1.0 for multipliers).
        decay: float in (0, 1], the factor per group (1: no decay).

    Returns:
        dict `{variable.path: learning rate}` over `model.trainable_variables`.

    Example:

    >>> tower = kerasmm.models.VisionTransformer(
    ...     image_size=16, patch_size=8, hidden_dim=8, num_layers=2,
    ...     num_heads=2, output_dim=4, name="vit")
    >>> rates = layerwise_lr_decay(tower, base_lr=1.0, decay=0.5)
    >>> for path in ("vit/class_embedding", "vit/block_0/attention/query/kernel",
    ...              "vit/block_1/mlp/dense_1/kernel", "vit/ln_post/gamma",
    ...              "vit/projection/kernel"):
    ...     print(path, rates[path])
    vit/class_embedding 0.125
    vit/block_0/attention/query/kernel 0.25
    vit/block_1/mlp/dense_1/kernel 0.5
    vit/ln_post/gamma 0.5
    vit/projection/kernel 1.0
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError("model must be a keras.Model or keras.layers.Layer. "
                        f"Received: model of type {type(model).__name__}")
    base_lr = check_number("base_lr", base_lr, minimum=0, exclusive_minimum=True)
    decay = check_number("decay", decay, minimum=0, exclusive_minimum=True)
    if decay > 1:
        raise ValueError(f"decay must be in (0, 1]. Received: decay={decay}")
    variables = model.trainable_variables
    paths = [variable.path for variable in variables]
    if len(set(paths)) != len(paths):
        repeated = sorted({path for path in paths if paths.count(path) > 1})
        raise ValueError(
            "layerwise_lr_decay needs unique variable paths (give layers "
            f"distinct names). Received: repeated paths {repeated[:5]}"
        )
    groups = {}
    for tower in _towers(model):
        num_blocks = len(tower.blocks)
        groups.update({id(v): (g, num_blocks) for v, g in _tower_groups(tower)})
    rates = {}
    for variable in variables:
        group, num_blocks = groups.get(id(variable), (0, -1))
        rates[variable.path] = base_lr * decay ** (num_blocks + 1 - group)
    return rates


def _towers(model):
    """Outermost layers with a non-empty `.blocks` list of layers."""
    found, inside = [], set()
    for layer in model._flatten_layers(include_self=True, recursive=True):
        blocks = getattr(layer, "blocks", None)
        if id(layer) in inside or not isinstance(blocks, (list, tuple)) or not blocks \
                or not all(isinstance(b, keras.layers.Layer) for b in blocks):
            continue
        found.append(layer)
        inside.update(id(sub) for sub in layer._flatten_layers(include_self=False))
    return found


def _tower_groups(tower):
    """`(variable, group)` for the tower's trainable variables."""
    block_of = {}
    for index, block in enumerate(tower.blocks):
        block_of.update({id(v): index + 1 for v in block.trainable_variables})
    in_blocks = {id(layer) for block in tower.blocks
                 for layer in block._flatten_layers(include_self=True)}
    norms = {id(v) for layer in tower._flatten_layers(include_self=False)
             if isinstance(layer, _NORMALIZATIONS) and id(layer) not in in_blocks
             for v in layer.trainable_variables}
    num_blocks, seen_block = len(tower.blocks), False
    for variable in tower.trainable_variables:
        if id(variable) in block_of:
            seen_block = True
            yield variable, block_of[id(variable)]
        elif not seen_block:
            yield variable, 0
        else:
            yield variable, num_blocks if id(variable) in norms else num_blocks + 1


def scale_learning_rates(optimizer, multipliers):
    """Makes `optimizer` update each variable at its own learning rate.

    Variable `v` is updated with `learning_rate * multipliers[v.path]`
    (1 for paths not listed), the learning rate being the optimizer's
    (schedules included). This is exact for every optimizer, Adam included:
    the rate is scaled inside the optimizer's per-variable `update_step`,
    not by scaling gradients, which Adam's normalisation would undo
    (for plain SGD and momentum, scaling gradients is the same thing;
    for Adam it changes nothing but epsilon's weight). Decoupled weight
    decay (AdamW's `variable *= 1 - lr * wd`) is scaled too, as PyTorch
    parameter groups do (timm's and open_clip's layer decay).

    The optimizer is changed in place (its `update_step` is wrapped), so it
    works wherever the optimizer runs (`fit`, `tf.distribute`, JAX, loss
    scaling). The multipliers are not part of the optimizer's config: call
    this again after `keras.saving.load_model` to keep training.

    Args:
        optimizer: a `keras.optimizers.Optimizer`, not yet wrapped.
        multipliers: dict `{variable path: float > 0}`, e.g.
            `layerwise_lr_decay(model, 1.0, decay)`.

    Returns:
        `optimizer`.

    Example:

    >>> variables = [keras.Variable([1.0], name="head"), keras.Variable([1.0], name="stem")]
    >>> optimizer = scale_learning_rates(keras.optimizers.SGD(0.1),
    ...                                  {variables[1].path: 0.5})
    >>> optimizer.apply([keras.ops.ones(1), keras.ops.ones(1)], variables)
    >>> [round(float(v.numpy()[0]), 4) for v in variables]
    [0.9, 0.95]
    """
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError("optimizer must be a keras.optimizers.Optimizer. "
                        f"Received: optimizer of type {type(optimizer).__name__}")
    if getattr(optimizer.update_step, "scales_learning_rates", False):
        raise ValueError("scale_learning_rates was already applied to this "
                         f"optimizer. Received: optimizer={optimizer.name}")
    multipliers = {str(path): check_number(f"multipliers[{path!r}]", value, minimum=0,
                                           exclusive_minimum=True)
                   for path, value in dict(multipliers).items()}
    update_step = optimizer.update_step

    def scaled_update_step(gradient, variable, learning_rate):
        # The index maps the backend variable (a tf.Variable on TensorFlow)
        # back to the Keras variable, whose path names it.
        paths = [v.path for v in optimizer._trainable_variables]
        index = optimizer._get_variable_index(variable)
        multiplier = multipliers.get(paths[index], 1.0)
        if multiplier != 1.0 and paths.count(paths[index]) > 1:
            raise ValueError(
                "scale_learning_rates needs unique variable paths (give layers "
                f"distinct names). Received: {paths.count(paths[index])} "
                f"variables with the path {paths[index]!r}"
            )
        if multiplier != 1.0:
            if optimizer.weight_decay is not None and optimizer._use_weight_decay(variable):
                # The optimizer already applied `v *= 1 - lr * wd`; make it
                # `v *= 1 - multiplier * lr * wd`.
                decayed = ops.cast(learning_rate, variable.dtype) * ops.cast(
                    optimizer.weight_decay, variable.dtype)
                optimizer.assign(variable, variable * (1.0 - multiplier * decayed)
                                 / (1.0 - decayed))
            learning_rate = ops.cast(learning_rate, variable.dtype) * multiplier
        return update_step(gradient, variable, learning_rate)

    scaled_update_step.scales_learning_rates = True
    optimizer.update_step = scaled_update_step
    return optimizer
