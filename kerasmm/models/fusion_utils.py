"""What the fusion backbones (`MMBT`, `CoAttentionTransformer`) share."""

import keras
from keras import ops

from kerasmm.layers import SelfAttention


def check_fusion_inputs(inputs):
    """Raises unless `inputs` is a dict with `"images"` and `"token_ids"`;
    returns its bool `"padding_mask"` (all True when absent)."""
    if not isinstance(inputs, dict) or not {"images", "token_ids"} <= set(inputs):
        received = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise ValueError("inputs must be a dict with 'images' and 'token_ids' (and an "
                         f"optional 'padding_mask'). Received: inputs={received}")
    padding_mask = inputs.get("padding_mask")
    if padding_mask is None:
        return ops.ones(ops.shape(inputs["token_ids"]), "bool")
    if tuple(padding_mask.shape) != tuple(inputs["token_ids"].shape):
        raise ValueError("padding_mask must have the shape of token_ids "
                         f"{tuple(inputs['token_ids'].shape)}. Received: padding_mask "
                         f"with shape {tuple(padding_mask.shape)}")
    return ops.cast(padding_mask, "bool")


def fusion_blocks(model, prefix, block_class=SelfAttention):
    """`model.num_layers` pre-LN blocks with the model's settings."""
    return [block_class(model.num_heads, intermediate_dim=model.intermediate_dim,
                        activation=model.activation, dropout=model.dropout,
                        layer_norm_epsilon=model.layer_norm_epsilon,
                        name=f"{prefix}_{i}", dtype=model.dtype_policy)
            for i in range(model.num_layers)]


def fusion_output_spec(model, batch, length):
    """The symbolic `{"sequence_output", "pooled_output"}` of a fusion backbone."""
    return {
        "sequence_output": keras.KerasTensor((batch, length, model.hidden_dim),
                                             dtype=model.compute_dtype),
        "pooled_output": keras.KerasTensor((batch, model.hidden_dim),
                                           dtype=model.compute_dtype),
    }
