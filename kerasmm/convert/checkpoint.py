"""The `Converter` base: the flow every checkpoint converter shares.

A converter turns a checkpoint directory into plain data, a
`ConvertedCheckpoint`: the name of a kerasmm model class, its constructor
arguments (nested towers as `{"class_name": ..., "config": {...}}` dicts),
and a map from Keras weight paths to numpy arrays. It never imports
`kerasmm.models`; the preset loader builds the model from that data and
assigns the arrays, checking each one's shape against the built model.

`Converter.convert` owns the flow: read the config file (a clear error
naming the file when it is not JSON, empty, not an object, not this kind's,
missing a key or holding a field of the wrong type), translate it to
constructor arguments, read the weights file, strip export prefixes, map
every tensor to its Keras path with its transpose (`TensorReader`: each
tensor used once, ranks and declared shapes checked, none left over) and
return plain data. A subclass declares only what differs:

    class ToyConverter(Converter):
        kind = "toy"                    # key in kerasmm.convert.CONVERTERS
        class_name = "ToyBackbone"      # the kerasmm class it builds
        config_file = "config.json"
        weight_files = ("model.safetensors",)

        def matches(self, config):      # is this config file one of ours?
            return config.get("model_type") == "toy"

        def model_config(self, config): # config translation
            return {"hidden_dim": field(config, "hidden_size", int)}

        def name_map(self, reader, config, model_config):
            reader.dense("encoder.fc", "dense")     # weight transposed, bias
            reader.layer_norm("encoder.norm", "norm")

`ToyConverter().convert(directory)` returns the plain data; a model class
whose `preset_converters` holds it (`{**kerasmm.convert.CONVERTERS, "toy":
ToyConverter()}`, see `kerasmm.presets`) loads such directories with
`from_preset`. A missing tensor, a tensor read twice or left unused, a
wrong rank or a shape other than the one declared raises a ValueError
naming the checkpoint file and the tensor.
"""

import dataclasses
import json
import numbers
import os

from kerasmm.convert.safetensors_io import find_weights_file
from kerasmm.convert.safetensors_io import load_tensors
from kerasmm.convert.tensor_reader import TensorReader


@dataclasses.dataclass
class ConvertedCheckpoint:
    """A checkpoint as plain data.

    Attributes:
        class_name: the kerasmm model class, e.g. `"CLIP"`.
        config: constructor arguments of that class; a nested model is a
            dict `{"class_name": "VisionTransformer", "config": {...}}`.
        weights: `{Keras weight path: np.ndarray}` (paths relative to the
            model, e.g. `"vision_encoder/block_0/attention/query/kernel"`),
            or None when converted without weights.
        sources: `{Keras weight path: checkpoint tensor name}`, for error
            messages.
        preprocessing: how inputs were prepared for this checkpoint, e.g.
            `{"image_size", "mean", "std", "interpolation",
            "context_length", "pad_token_id"}`.
        input_shape: shape to build the model with when its constructor
            does not build it (None: built on construction).
        description: where the checkpoint came from.
    """

    class_name: str
    config: dict
    weights: dict = None
    sources: dict = dataclasses.field(default_factory=dict)
    preprocessing: dict = dataclasses.field(default_factory=dict)
    input_shape: tuple = None
    description: str = ""


# === Config files ===


def read_json(path):
    """The JSON object in `path`, as a dict; a ValueError naming the file
    when it is missing, empty, not JSON or not an object (e.g. a list)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"No config file at {path!r}")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if not text.strip():
            raise ValueError(f"{path} is empty; expected a JSON object")
        content = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(content, dict):
        raise ValueError(f"{path} must hold a JSON object ({{...}}). Received: "
                         f"a JSON {type(content).__name__}")
    return content


_REQUIRED = object()
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "a bool",
               dict: "an object", list: "a list"}


def _has_type(value, kind):
    if kind is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is list:
        return isinstance(value, (list, tuple))
    return isinstance(value, kind)


def field(config, key, kind, default=_REQUIRED, where=""):
    """`config[key]`, checked to be of type `kind` (`int`, `float`, `str`,
    `bool`, `dict`, `list`, or a tuple of them; `float` accepts ints), or
    `default` when absent (required when no default is given). A null
    value counts as absent. Raises a ValueError naming `where` (e.g.
    `"text_config"`) and the key; `Converter.convert` adds the file."""
    name = f"{where}.{key}" if where else key
    value = config.get(key) if isinstance(config, dict) else None
    if value is None:
        if default is _REQUIRED:
            keys = sorted(config) if isinstance(config, dict) else config
            raise ValueError(f"missing the key {name!r}. Received keys: {keys}")
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not any(_has_type(value, k) for k in kinds):
        expected = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise ValueError(f"{name} must be {expected}. Received: {name}={value!r} "
                         f"of type {type(value).__name__}")
    return float(value) if kinds == (float,) else value


# === The flow ===


class Converter:
    """Base of every checkpoint converter; see the module docstring.

    Class attributes a subclass sets:
        kind: registry key, e.g. `"hf_clip"`.
        class_name: the kerasmm model class built from the checkpoint.
        config_file: the file whose content identifies the kind.
        weight_files: candidate weight files, in order of preference.
        asset_files: optional files fetched too (tokenizer vocabularies).
        ignore: checkpoint tensors that are not weights (buffers, counters),
            matched exactly or by name suffix.
        prefixes: prefixes some exports put before every tensor name
            (`"module."` of DDP training checkpoints); stripped when every
            name has one.
        description: a few words for messages, e.g. `"Hugging Face CLIP"`.

    Methods a subclass implements: `model_config` and `name_map`, and
    `matches` when `config_file` is shared with another kind; optionally
    `preprocessing` and `input_shape`.
    """

    kind = None
    class_name = None
    config_file = "config.json"
    weight_files = ("model.safetensors", "pytorch_model.bin")
    asset_files = ()
    ignore = ()
    prefixes = ()
    description = "checkpoint"

    # === What a subclass declares ===

    def matches(self, config):
        """True if `config_file` with this content is a checkpoint of this kind."""
        return True

    def model_config(self, config):
        """Constructor arguments of `class_name`, from the config file's content."""
        raise NotImplementedError(f"{type(self).__name__} must implement model_config")

    def name_map(self, reader, config, model_config):
        """Maps every checkpoint tensor with `reader` (a `TensorReader`):
        `reader.copy / linear / conv / dense / layer_norm / ...`."""
        raise NotImplementedError(f"{type(self).__name__} must implement name_map")

    def preprocessing(self, config, directory):
        """How inputs were prepared for the checkpoint (plain data)."""
        return {}

    def input_shape(self, config):
        """The shape to build a model its constructor does not build."""
        return None

    # === The flow ===

    def read_config(self, directory):
        """`(path, content)` of `config_file` in `directory`, checked."""
        path = os.path.join(os.fspath(directory), self.config_file)
        config = read_json(path)
        if not self.matches(config):
            raise ValueError(f"{path} is not a {self.description} config "
                             f"(kind {self.kind!r}). Received keys: {sorted(config)}")
        return path, config

    def convert(self, directory, load_weights=True):
        """Converts the checkpoint in `directory` to a `ConvertedCheckpoint`.

        Args:
            directory: holds `config_file` and, if `load_weights`, one of
                `weight_files`.
            load_weights: read and convert the weights too.
        """
        path, config = self.read_config(directory)
        try:
            model_config = self.model_config(config)
            preprocessing = self.preprocessing(config, directory)
            input_shape = self.input_shape(config)
        except (ValueError, TypeError, KeyError) as error:
            # Name the file whatever the translation tripped on.
            message = (f"missing the key {error}" if isinstance(error, KeyError)
                       else str(error))
            raise ValueError(f"{path}: {message}") from error
        converted = ConvertedCheckpoint(
            class_name=self.class_name, config=model_config, preprocessing=preprocessing,
            input_shape=input_shape, description=f"{self.description} checkpoint {directory}")
        if load_weights:
            weights_path = find_weights_file(directory, self.weight_files)
            converted.weights, converted.sources = self.convert_tensors(
                load_tensors(weights_path), config, model_config, checkpoint=weights_path)
        return converted

    def convert_tensors(self, tensors, config, model_config, checkpoint="checkpoint"):
        """`(weights, sources)` from `{checkpoint name: array}`."""
        reader = TensorReader(self.strip_prefixes(tensors), ignore=self.ignore,
                              checkpoint=checkpoint)
        self.name_map(reader, config, model_config)
        return reader.finish()

    def strip_prefixes(self, tensors):
        for prefix in self.prefixes:
            if tensors and all(name.startswith(prefix) for name in tensors):
                return {name[len(prefix):]: a for name, a in tensors.items()}
        return tensors
