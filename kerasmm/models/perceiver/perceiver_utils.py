"""Argument checks and (de)serialisation shared by Perceiver and PerceiverIO."""

import keras

from kerasmm.utils.checks import check_positive_int


# Constructor arguments Perceiver and PerceiverIO share: checked, stored under
# their own names and written by `get_config` in one place.
ENCODER_ARGUMENTS = (
    "num_latents", "latent_dim", "num_blocks", "num_self_attends_per_block",
    "num_cross_attention_heads", "num_self_attention_heads",
    "cross_attention_widening_factor", "self_attention_widening_factor",
    "qk_channels", "v_channels", "dropout",
)
_OPTIONAL_WIDTHS = ("qk_channels", "v_channels")


def set_encoder_arguments(model, arguments):
    """Checks the shared arguments in `arguments` (the constructor's
    `locals()`), raising ValueErrors that name them before any layer is
    built, and stores each on `model` under its own name."""
    values = {name: arguments[name] for name in ENCODER_ARGUMENTS}
    for name, value in values.items():
        if name != "dropout":
            check_positive_int(name, value, allow_none=name in _OPTIONAL_WIDTHS)
    for heads_name in ("num_self_attention_heads", "num_cross_attention_heads"):
        for name in ("latent_dim",) + _OPTIONAL_WIDTHS:
            if values[name] is not None and values[name] % values[heads_name]:
                raise ValueError(
                    f"{name} must be divisible by {heads_name}. Received: "
                    f"{name}={values[name]}, {heads_name}={values[heads_name]}"
                )
    for name, value in values.items():
        setattr(model, name, value)


def encoder_config(model):
    """The shared arguments as `get_config` writes them."""
    return {name: getattr(model, name) for name in ENCODER_ARGUMENTS}


def check_context_heads(num_heads, qk_channels, input_dim):
    """The encoder's default q/k width is the input width: heads must divide it."""
    if qk_channels is None and input_dim % num_heads:
        raise ValueError(
            "num_cross_attention_heads must divide the input adapter's width (the "
            "default qk_channels of the encoder cross-attention). Received: "
            f"num_cross_attention_heads={num_heads}, adapter width={input_dim}; "
            "set qk_channels or change the heads"
        )


def adapter_features(adapter, inputs):
    """`(features, padding_mask or None)` from an adapter's dict output."""
    outputs = adapter(inputs)
    return outputs["features"], outputs.get("padding_mask")


def serialize_layers(config, **layers):
    config.update({k: keras.saving.serialize_keras_object(v) for k, v in layers.items()})
    return config


def deserialize_layers(config, *names):
    """`config` with the layers `names` deserialized; layer objects (e.g.
    `from_preset` overrides) are used as they are."""
    config = dict(config)
    for name in names:
        if not isinstance(config[name], keras.layers.Layer):
            config[name] = keras.saving.deserialize_keras_object(config[name])
    return config
