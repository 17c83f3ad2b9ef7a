"""Presets for every kerasmm model: `from_preset`, `save_to_preset`, `presets`.

Models get the three by mixing in `PresetMixin`:

    class CLIP(ContrastiveLossMixin, PresetMixin, keras.Model): ...

`from_preset(preset)` accepts a registered name (`kerasmm.models.presets`),
a local directory (one written by `save_to_preset`, or a Hugging Face /
open_clip checkpoint, converted on the fly by `kerasmm.convert`), or
`"hf://org/repo"`. The converters return plain data; this module builds
the model from it and assigns the weights, checking every shape, and
raising if a model weight is left unset or a converted weight has no
place in the model.

Weight paths: each variable's `path` relative to the model, with the
auto-generated name of a sub-model replaced by the attribute that holds it
(`vision_encoder/block_0/attention/query/kernel`, `logit_scale`), so that
paths do not depend on how many models were built before.
"""

import inspect
import json
import os

import keras
import numpy as np

from kerasmm import convert
from kerasmm.models import preset_download
from kerasmm.models.presets import PRESETS

_BASE_ARGUMENTS = ("name", "dtype", "trainable")
# Constructor arguments of the image preprocessors a preset records.
_IMAGE_PREPROCESSING_KEYS = ("image_size", "center_crop_fraction", "mean", "std",
                             "interpolation", "antialias")


# === Weight paths ===


def model_weights(model):
    """`{weight path: variable}` for every weight of `model` (see module doc)."""
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


# === Building ===


def registered_class(class_name):
    """The kerasmm class registered as `kerasmm>{class_name}`."""
    cls = keras.saving.get_registered_object(f"kerasmm>{class_name}")
    if cls is None:
        raise ValueError(f"Unknown kerasmm class {class_name!r} in the preset config")
    return cls


def constructor_arguments(cls):
    """Names `cls(...)` accepts: its own arguments and Keras' base ones."""
    names = [
        p.name for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return names + [n for n in _BASE_ARGUMENTS if n not in names]


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


def instantiate(class_name, config):
    """`class.from_config(config)`; nested kerasmm layers may be given as
    bare `{"class_name", "config"}` specs, as Keras serializes them, or as
    layer objects (the model's `from_config` uses those as they are)."""
    return registered_class(class_name).from_config(_serialized(dict(config)))


def build_model(class_name, config, overrides=None, input_shape=None, build_config=None,
                expected_class=None):
    """Builds a kerasmm model from plain data, with constructor overrides."""
    cls = registered_class(class_name)
    if expected_class is not None and not issubclass(cls, expected_class):
        raise ValueError(
            f"This preset holds a {class_name}, not a {expected_class.__name__}: use "
            f"kerasmm.models.{class_name}.from_preset(...)"
        )
    overrides = dict(overrides or {})
    valid = constructor_arguments(cls)
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(
            f"from_preset overrides must be constructor arguments of {class_name}. "
            f"Received: {unknown}. Valid: {valid}"
        )
    config = dict(config)
    if "dtype" in overrides:
        config = _with_dtype(config, overrides.pop("dtype"))
    config.update(overrides)
    model = instantiate(class_name, config)
    if not model.built:
        if input_shape is not None:
            model.build(input_shape)
        elif build_config:
            model.build_from_config(build_config)
    return model


# === Loading ===


def _read_kerasmm_preset(directory, load_weights):
    saved = preset_download.read_kerasmm_config(directory)
    weights = None
    if load_weights:
        weights = convert.load_tensors(
            os.path.join(directory, preset_download.KERASMM_WEIGHTS))
    return convert.ConvertedCheckpoint(
        class_name=saved["class_name"], config=saved["config"], weights=weights,
        preprocessing=saved.get("preprocessing", {}),
        description=f"kerasmm preset {directory}"), saved.get("build_config")


def load_converted(preset, load_weights=True):
    """`(ConvertedCheckpoint, build_config)` for any preset."""
    resolved = preset_download.resolve(preset, load_weights=load_weights)
    if resolved.kind == preset_download.KERASMM_KIND:
        converted, build_config = _read_kerasmm_preset(resolved.directory, load_weights)
    else:
        converted = convert.convert(resolved.directory, kind=resolved.kind,
                                    load_weights=load_weights)
        build_config = None
    return converted, build_config


def from_preset(preset, load_weights=True, model_class=None, **overrides):
    """Builds a model from a preset name, a local directory or `hf://org/repo`.

    Args:
        preset: a name in `kerasmm.models.presets.PRESETS`, a directory
            (written by `save_to_preset`, or a Hugging Face / open_clip
            checkpoint), or `"hf://org/repo"` (optionally `"@revision"`).
        load_weights: False builds the architecture with random weights
            (and downloads no weights).
        model_class: the class expected (what `Model.from_preset` passes).
        **overrides: constructor arguments replacing the preset's, e.g.
            `dtype="bfloat16"` (applied to nested towers too).

    Returns:
        The model, weights assigned.

    Example:
    >>> import tempfile
    >>> encoder = kerasmm.models.TextTransformer(
    ...     vocabulary_size=64, context_length=8, hidden_dim=16, num_layers=1,
    ...     num_heads=2, output_dim=8)
    >>> directory = tempfile.mkdtemp()
    >>> save_to_preset(encoder, directory)
    >>> restored = from_preset(directory)
    >>> token_ids = np.array([[1, 5, 63, 0]])
    >>> bool(np.allclose(encoder(token_ids), restored(token_ids), atol=1e-6))
    True
    """
    converted, build_config = load_converted(preset, load_weights)
    model = build_model(converted.class_name, converted.config, overrides,
                        input_shape=converted.input_shape, build_config=build_config,
                        expected_class=model_class)
    if load_weights:
        if not model.built:
            raise ValueError(
                f"{converted.class_name} is not built on construction and the preset "
                "gives no input shape to build it with (ConvertedCheckpoint.input_shape "
                "or a saved build_config), so its weights cannot be assigned"
            )
        assign_weights(model, converted.weights, converted.sources)
    return model


# === Saving ===


def save_to_preset(model, directory, tokenizer=None, image_preprocessor=None):
    """Writes `model` (and optionally its preprocessing) as a preset directory.

    Files: `config.json` (class, constructor config, build config, kerasmm
    version, preprocessing constants), `model.safetensors` (weight path ->
    array) and, with a `CLIPTokenizer`, `vocab.json` and `merges.txt`.
    `from_preset(directory)` loads it back.

    Args:
        model: a kerasmm model.
        directory: output directory (created; existing files replaced).
        tokenizer: optional `kerasmm.preprocessing.CLIPTokenizer`.
        image_preprocessor: optional
            `kerasmm.preprocessing.CLIPImagePreprocessor`.
    """
    import kerasmm

    os.makedirs(directory, exist_ok=True)
    preprocessing = {}
    if image_preprocessor is not None:
        image = image_preprocessor.get_config()
        preprocessing.update({k: image[k] for k in _IMAGE_PREPROCESSING_KEYS if k in image})
    if tokenizer is not None:
        with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer.vocabulary, f, ensure_ascii=False)
        with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "\n".join(tokenizer.merges) + "\n")
        preprocessing.update(context_length=tokenizer.sequence_length,
                             pad_token_id=tokenizer.pad_token_id)
    config = {
        "kerasmm_version": kerasmm.__version__,
        "class_name": type(model).__name__,
        "config": model.get_config(),
        "build_config": model.get_build_config(),
        "preprocessing": preprocessing,
    }
    with open(os.path.join(directory, preset_download.KERASMM_CONFIG), "w") as f:
        json.dump(config, f, indent=1)
    weights = {path: keras.ops.convert_to_numpy(v) for path, v in model_weights(model).items()}
    convert.save_tensors(os.path.join(directory, preset_download.KERASMM_WEIGHTS),
                         weights, metadata={"format": "kerasmm"})


# === Preprocessing ===


def preset_preprocessing(preset):
    """The preprocessing constants of a preset (registry, else its files)."""
    if isinstance(preset, str) and preset in PRESETS and "preprocessing" in PRESETS[preset]:
        return dict(PRESETS[preset]["preprocessing"])
    converted, _ = load_converted(preset, load_weights=False)
    return converted.preprocessing


def load_tokenizer(preset, **kwargs):
    """The `CLIPTokenizer` of a preset (its `vocab.json` and `merges.txt`).

    `sequence_length` defaults to the preset's context length; `kwargs`
    go to `CLIPTokenizer`.
    """
    from kerasmm.preprocessing import CLIPTokenizer

    directory = preset_download.resolve(preset, load_weights=False).directory
    paths = [os.path.join(directory, name) for name in preset_download.TOKENIZER_ASSETS]
    if not all(os.path.isfile(p) for p in paths):
        raise ValueError(f"The preset {preset!r} has no tokenizer files "
                         f"{list(preset_download.TOKENIZER_ASSETS)} in {directory}")
    preprocessing = preset_preprocessing(preset)
    for key, name in (("context_length", "sequence_length"), ("pad_token_id", "pad_token_id")):
        if key in preprocessing:
            kwargs.setdefault(name, preprocessing[key])
    return CLIPTokenizer(vocabulary=paths[0], merges=paths[1], **kwargs)


def load_image_preprocessor(preset, **kwargs):
    """The image preprocessor matching a preset's constants.

    A `PerceiverImagePreprocessor` when the preset records a
    `center_crop_fraction` (Perceiver IO vision), else a
    `CLIPImagePreprocessor`; `kwargs` override the preset's constants.
    """
    from kerasmm.preprocessing import CLIPImagePreprocessor
    from kerasmm.preprocessing import PerceiverImagePreprocessor

    preprocessing = preset_preprocessing(preset)
    if "image_size" not in preprocessing:
        raise ValueError(f"The preset {preset!r} records no image preprocessing")
    cls, keys = PerceiverImagePreprocessor, _IMAGE_PREPROCESSING_KEYS
    if preprocessing.get("center_crop_fraction") is None:
        cls, keys = CLIPImagePreprocessor, [k for k in keys if k != "center_crop_fraction"]
    for key in keys:
        if key in preprocessing:
            kwargs.setdefault(key, preprocessing[key])
    return cls(**kwargs)


# === Mixin ===


class _Presets:
    """`Model.presets`: the registry entries whose class is `Model`."""

    def __get__(self, instance, owner):
        return {name: dict(entry) for name, entry in PRESETS.items()
                if entry["class_name"] == owner.__name__}


class PresetMixin:
    """Gives a kerasmm model `from_preset`, `save_to_preset` and `presets`.

    `Model.presets` is the dict of registered presets of that class.
    """

    presets = _Presets()

    @classmethod
    def from_preset(cls, preset, load_weights=True, **overrides):
        """Builds the model from a preset name, directory or `hf://org/repo`.

        See `kerasmm.models.backbone.from_preset`; `overrides` may only be
        constructor arguments.
        """
        return from_preset(preset, load_weights=load_weights, model_class=cls, **overrides)

    def save_to_preset(self, directory, tokenizer=None, image_preprocessor=None):
        """Writes the model as a preset directory (see `backbone.save_to_preset`)."""
        save_to_preset(self, directory, tokenizer=tokenizer,
                       image_preprocessor=image_preprocessor)
