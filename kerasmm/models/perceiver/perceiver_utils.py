"""Argument checks and (de)serialisation shared by Perceiver and PerceiverIO."""

import keras

from kerasmm.layers.multi_head_attention import check_positive_int


def check_perceiver_args(latent_dim, num_self_attention_heads, num_cross_attention_heads,
                         qk_channels, v_channels, **positive_ints):
    """ValueErrors naming the argument, before any layer is built."""
    for name, value in positive_ints.items():
        check_positive_int(name, value)
    check_positive_int("latent_dim", latent_dim)
    check_positive_int("num_self_attention_heads", num_self_attention_heads)
    check_positive_int("num_cross_attention_heads", num_cross_attention_heads)
    check_positive_int("qk_channels", qk_channels, allow_none=True)
    check_positive_int("v_channels", v_channels, allow_none=True)
    for heads_name, heads in (("num_self_attention_heads", num_self_attention_heads),
                              ("num_cross_attention_heads", num_cross_attention_heads)):
        for name, value in (("latent_dim", latent_dim), ("qk_channels", qk_channels),
                            ("v_channels", v_channels)):
            if value is not None and value % heads:
                raise ValueError(
                    f"{name} must be divisible by {heads_name}. Received: "
                    f"{name}={value}, {heads_name}={heads}"
                )


def check_layer(name, value):
    if not isinstance(value, keras.layers.Layer):
        raise ValueError(
            f"{name} must be a Keras layer (e.g. kerasmm.layers.ImageAdapter). "
            f"Received: {name}={value!r}"
        )


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
    config = dict(config)
    for name in names:
        config[name] = keras.saving.deserialize_keras_object(config[name])
    return config
