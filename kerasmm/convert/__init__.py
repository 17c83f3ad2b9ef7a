"""kerasmm.convert: checkpoints of other libraries as plain data.

Each converter (a `Converter` subclass: a name map and a config
translation, the flow is the base class's) turns a checkpoint directory
into a `ConvertedCheckpoint` (model class name, constructor arguments,
`{Keras weight path: array}`); `kerasmm.presets` builds the model from it.
This package imports nothing from `kerasmm.models`.

`CONVERTERS` maps a checkpoint kind to its converter; a new kind is one
more entry here (checked in order by `detect`), or, for one model class
only, an entry of that class's `preset_converters` (see `kerasmm.presets`).
"""

import os

from kerasmm.convert import hf_ast
from kerasmm.convert import hf_blip
from kerasmm.convert import hf_clip
from kerasmm.convert import hf_perceiver
from kerasmm.convert import hf_siglip
from kerasmm.convert import hf_vilt
from kerasmm.convert import open_clip
from kerasmm.convert import open_clip_coca
from kerasmm.convert.checkpoint import ConvertedCheckpoint  # noqa: F401
from kerasmm.convert.checkpoint import Converter  # noqa: F401
from kerasmm.convert.checkpoint import field  # noqa: F401
from kerasmm.convert.checkpoint import read_json  # noqa: F401
from kerasmm.convert.safetensors_io import load_tensors  # noqa: F401
from kerasmm.convert.safetensors_io import save_tensors  # noqa: F401
from kerasmm.convert.tensor_reader import TensorReader  # noqa: F401

CONVERTERS = {
    converter.kind: converter
    # open_clip_coca before open_clip, whose `matches` accepts CoCa configs too.
    for converter in (hf_clip.CONVERTER, open_clip_coca.CONVERTER, open_clip.CONVERTER,
                      hf_perceiver.CONVERTER,
                      hf_siglip.CONVERTER, hf_blip.CONVERTER, hf_vilt.CONVERTER,
                      hf_ast.CONVERTER)
}


def detect(directory, converters=None):
    """The kind of checkpoint in `directory` (a key of `converters`,
    default `CONVERTERS`), or None.

    A converter matches when its `config_file` is in the directory and its
    `matches` accepts the file's content (a file that is not a JSON object
    raises a ValueError naming it).
    """
    converters = CONVERTERS if converters is None else converters
    for kind, converter in converters.items():
        path = os.path.join(directory, converter.config_file)
        if os.path.isfile(path) and converter.matches(read_json(path)):
            return kind
    return None


def convert(directory, kind=None, load_weights=True):
    """Converts the checkpoint in `directory` to a `ConvertedCheckpoint`.

    Args:
        directory: a local checkpoint directory.
        kind: a key of `CONVERTERS`; detected from the files when None.
        load_weights: read and convert the weights (else config only).
    """
    if kind is None:
        kind = detect(directory)
        if kind is None:
            raise ValueError(
                f"No known checkpoint in {directory!r}. Expected one of: "
                + "; ".join(f"{k} ({c.config_file} + one of {list(c.weight_files)})"
                            for k, c in CONVERTERS.items())
            )
    if kind not in CONVERTERS:
        raise ValueError(f"Unknown checkpoint kind. Expected one of "
                         f"{sorted(CONVERTERS)}. Received: kind={kind!r}")
    return CONVERTERS[kind].convert(directory, load_weights=load_weights)
