"""Locked-image tuning (LiT): freeze a tower, optionally but its last blocks."""

import keras

from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_int

# Layers that follow the last block in kerasmm's towers (final norm, pooling,
# projection): trainable whenever at least one block is.
HEAD_LAYERS = ("ln_post", "ln_final", "attention_pool", "head", "projection")


def tower_blocks(tower):
    """The repeated blocks of `tower` in order: transformer blocks, or a
    `ModifiedResNet`'s bottlenecks stage after stage; `[]` for other towers."""
    if isinstance(getattr(tower, "blocks", None), (list, tuple)):
        return list(tower.blocks)
    if isinstance(getattr(tower, "stages", None), (list, tuple)):
        return [block for stage in tower.stages for block in stage]
    return []


def unlock_tower(tower):
    """Makes every weight of `tower` trainable again (undoes `lock_tower`).

    Returns:
        `tower`.
    """
    # Keras propagates `trainable` to sublayers only when the value changes.
    tower.trainable = False
    tower.trainable = True
    return tower


def lock_tower(tower, unlocked_blocks=0, freeze_norm_stats=True):
    """Freezes a tower (LiT), leaving its last `unlocked_blocks` trainable.

    Locked-image tuning (Zhai et al., 2022) trains the text tower against a
    frozen pretrained image tower; unlocking the last few blocks is
    open_clip's `lock_image_unlocked_groups`. With `unlocked_blocks=0` every
    weight of the tower is frozen. With `N > 0` the last `N` blocks and the
    layers after them (final LayerNorm, pooling head, projection) stay
    trainable; the embeddings, stem and earlier blocks are frozen.

    Normalisation statistics: a frozen BatchNorm runs in inference mode (its
    moving statistics are used and not updated; Keras' rule for a
    `BatchNormalization` with `trainable=False`). With `freeze_norm_stats`
    (the default) every BatchNorm of the tower is frozen that way, the
    unlocked blocks' too (open_clip's `FrozenBatchNorm2d`: statistics and
    affine weights fixed), so training with small or micro-batches does not
    disturb the pretrained statistics. LayerNorm has no statistics and
    follows its block.

    Lock before `compile` (or compile again afterwards): the train step is
    traced with the trainable weights it finds. `unlock_tower(tower)`
    unlocks everything again; locking again starts from an unlocked tower.

    Args:
        tower: a Keras model: `model.vision_encoder` / `model.text_encoder`
            of a `kerasmm.models.CLIP` or `SigLIP` (any kerasmm tower), or
            any Keras model (then `unlocked_blocks` must be 0).
        unlocked_blocks: int >= 0, how many of the last blocks stay
            trainable (transformer blocks, or ResNet bottlenecks counted
            across stages).
        freeze_norm_stats: bool, freeze every BatchNorm of the tower.

    Returns:
        `tower`, locked in place.

    Example:
    >>> tower = kerasmm.models.VisionTransformer(image_size=32, patch_size=8,
    ...     hidden_dim=16, num_layers=3, num_heads=2, output_dim=8)
    >>> _ = lock_tower(tower, unlocked_blocks=1)
    >>> sorted({w.path.split("/")[1] for w in tower.trainable_weights})
    ['block_2', 'ln_post', 'projection']
    >>> len(lock_tower(tower).trainable_weights)
    0

    Reference:
        Zhai et al., "LiT: Zero-Shot Transfer with Locked-image text
        Tuning", 2022; open_clip `lock_image_tower` / `lock_text_tower`.
    """
    if not isinstance(tower, keras.layers.Layer):
        raise TypeError("tower must be a Keras model or layer. "
                        f"Received: tower of type {type(tower).__name__}")
    check_int("unlocked_blocks", unlocked_blocks, minimum=0)
    check_bool("freeze_norm_stats", freeze_norm_stats)
    blocks = tower_blocks(tower)
    if unlocked_blocks > len(blocks):
        raise ValueError(
            f"unlocked_blocks must be at most the number of blocks of the tower "
            f"({len(blocks)} in {type(tower).__name__} {tower.name!r}). "
            f"Received: unlocked_blocks={unlocked_blocks}")
    unlock_tower(tower)
    unlocked = []
    if unlocked_blocks:
        heads = [getattr(tower, name) for name in HEAD_LAYERS
                 if isinstance(getattr(tower, name, None), keras.layers.Layer)]
        unlocked = blocks[len(blocks) - unlocked_blocks:] + heads
    if not unlocked:
        tower.trainable = False
        return tower
    unlocked_ids = {id(layer) for layer in unlocked}
    for layer in tower.layers:
        layer.trainable = id(layer) in unlocked_ids
    kept = {id(w) for layer in unlocked for w in layer.weights}
    for weight in tower.trainable_weights:
        if id(weight) not in kept:  # The tower's own weights (class token).
            weight.trainable = False
    if freeze_norm_stats:
        for layer in tower._flatten_layers(include_self=False):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    return tower
