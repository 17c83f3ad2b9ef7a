"""Building a model from plain data: a class name and constructor arguments.

Converters (`kerasmm.convert`) and `config.json` describe a model as plain
data; nested kerasmm layers appear as bare `{"class_name", "config"}`
specs (what converters write), as Keras serializes them (what `get_config`
writes), or as layer objects (`from_preset` overrides). Classes are found
by their Keras registration, `kerasmm>{class_name}`.
"""

import inspect

import keras

_BASE_ARGUMENTS = ("name", "dtype", "trainable")


def registered_class(class_name, model_class=None):
    """The class registered as `kerasmm>{class_name}`, or `model_class` when
    that is its name (so a class registered under another package loads
    through its own `from_preset`)."""
    if model_class is not None and model_class.__name__ == class_name:
        return model_class
    cls = keras.saving.get_registered_object(f"kerasmm>{class_name}")
    if cls is None:
        raise ValueError(f"Unknown kerasmm class {class_name!r} in the preset config: "
                         "register it with "
                         "@keras.saving.register_keras_serializable(package='kerasmm')")
    return cls


def constructor_arguments(cls):
    """Names `cls(...)` accepts: its own arguments and Keras' base ones."""
    names = [
        p.name for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return names + [n for n in _BASE_ARGUMENTS if n not in names]


def required_arguments(cls):
    """Constructor arguments of `cls` without a default."""
    return [p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.default is p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def check_overrides(cls, overrides):
    """A ValueError unless every key of `overrides` is a constructor argument."""
    valid = constructor_arguments(cls)
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(
            f"from_preset overrides must be constructor arguments of {cls.__name__}. "
            f"Received: {unknown}. Valid: {valid}"
        )


def _is_spec(value):
    """A nested model as converters write it: `{"class_name", "config"}`."""
    return isinstance(value, dict) and set(value) == {"class_name", "config"}


def _is_layer_config(value):
    """A nested kerasmm layer or model, as a converter or Keras wrote it."""
    if not (isinstance(value, dict) and isinstance(value.get("config"), dict)):
        return False
    cls = keras.saving.get_registered_object(f"kerasmm>{value.get('class_name')}")
    return isinstance(cls, type) and issubclass(cls, keras.layers.Layer)


def _with_dtype(config, dtype):
    """Sets `dtype` in `config` and in every nested kerasmm layer config,
    also those inside plain dicts and lists (`MultimodalAdapter`'s
    adapters, `MultimodalDecoder`'s decoders)."""

    def nested(value):
        if _is_layer_config(value):
            return dict(value, config=_with_dtype(value["config"], dtype))
        if isinstance(value, dict) and not isinstance(value.get("config"), dict):
            return {k: nested(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(nested(v) for v in value)
        return value

    config = dict(config, dtype=dtype)
    return {key: nested(value) for key, value in config.items()}


def _serialized(value):
    """`value` with every bare `{"class_name", "config"}` spec rewritten as
    Keras serializes a registered kerasmm layer: the form each `from_config`
    reads (what `get_config` writes), however deeply it is nested in plain
    dicts and lists. Objects Keras serialized are left to Keras."""
    if _is_spec(value):
        registered_class(value["class_name"])  # an unknown name fails here, clearly
        return {"module": None, "class_name": value["class_name"],
                "config": _serialized(value["config"]),
                "registered_name": f"kerasmm>{value['class_name']}"}
    if isinstance(value, dict) and "registered_name" not in value:
        return {k: _serialized(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_serialized(v) for v in value)
    return value


def instantiate(class_name, config, model_class=None):
    """`class.from_config(config)`; nested kerasmm layers may be given as
    bare `{"class_name", "config"}` specs, as Keras serializes them, or as
    layer objects (the model's `from_config` uses those as they are).

    Example:
    >>> spec = {"class_name": "ImageAdapter", "config": {"image_shape": [4, 4, 3],
    ...                                                  "num_bands": 2}}
    >>> model = instantiate("Perceiver", {
    ...     "input_adapter": spec, "num_latents": 4, "latent_dim": 8, "num_classes": 3,
    ...     "num_blocks": 1, "num_self_attends_per_block": 1,
    ...     "num_self_attention_heads": 2})
    >>> type(model.input_adapter).__name__
    'ImageAdapter'
    """
    cls = registered_class(class_name, model_class)
    return cls.from_config(_serialized(dict(config)))


def build_model(class_name, config, overrides=None, input_shape=None, build_config=None,
                expected_class=None, origin=None):
    """Builds a model from plain data, with constructor overrides.

    Args:
        class_name: the model class (registered as `kerasmm>{class_name}`).
        config: its constructor arguments.
        overrides: constructor arguments replacing `config`'s; `dtype`
            reaches the nested kerasmm layers too.
        input_shape: shape to build the model with, if not built on
            construction.
        build_config: a saved `get_build_config()`, the other way to build.
        expected_class: the class the caller asked for; another class
            raises a ValueError naming the one to use.
        origin: the file the config was read from: an error building the
            model from it is a ValueError that names it.
    """
    prefix = f"{origin}: " if origin else ""
    try:
        cls = registered_class(class_name, expected_class)
    except ValueError as error:
        raise ValueError(f"{prefix}{error}") from None
    if expected_class is not None and not issubclass(cls, expected_class):
        namespace = "tasks" if cls.__module__.startswith("kerasmm.tasks") else "models"
        raise ValueError(
            f"This preset holds a {class_name}, not a {expected_class.__name__}: use "
            f"kerasmm.{namespace}.{class_name}.from_preset(...)"
        )
    overrides = dict(overrides or {})
    check_overrides(cls, overrides)
    config = dict(config)
    if "dtype" in overrides:
        config = _with_dtype(config, overrides.pop("dtype"))
    config.update(overrides)
    missing = [name for name in required_arguments(cls) if name not in config]
    if missing:
        raise ValueError(f"{prefix}the config of {class_name} is missing the key "
                         f"{missing[0]!r} (a required argument). "
                         f"Received keys: {sorted(config)}")
    try:
        model = instantiate(class_name, config, expected_class)
        if not model.built:
            if input_shape is not None:
                model.build(input_shape)
            elif build_config:
                model.build_from_config(build_config)
    except (TypeError, ValueError, KeyError) as error:
        if origin is None:
            raise
        message = f"missing the key {error}" if isinstance(error, KeyError) else str(error)
        raise ValueError(f"{prefix}{message}") from error
    return model
