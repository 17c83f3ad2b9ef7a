"""Loading a preset: a model (config and weights) or its preprocessing.

`from_preset` builds a model from any preset and assigns its weights,
checking every shape; `load_preprocessing` gives the preprocessing
constants of a preset and its asset files, for a family's preprocessor.
"""

import os

from kerasmm import convert
from kerasmm.presets import preset_files
from kerasmm.presets.build import build_model
from kerasmm.presets.resolve import default_converters
from kerasmm.presets.resolve import resolve
from kerasmm.presets.weights import assign_weights


def _read_kerasmm_model(directory, load_weights):
    saved = preset_files.read_model_config(directory)
    weights = None
    if load_weights:
        weights = convert.load_tensors(os.path.join(directory, preset_files.WEIGHTS_FILE))
    converted = convert.ConvertedCheckpoint(
        class_name=saved["class_name"], config=saved["config"], weights=weights,
        description=os.path.join(directory, preset_files.CONFIG_FILE))
    return converted, saved.get("build_config")


def load_converted(preset, load_weights=True, presets=None, converters=None,
                   allow_unpinned=False):
    """`(ConvertedCheckpoint, build_config)` for any preset (see `resolve`)."""
    resolved = resolve(preset, load_weights, presets, converters, allow_unpinned)
    if resolved.kind == preset_files.KERASMM_KIND:
        return _read_kerasmm_model(resolved.directory, load_weights)
    converter = default_converters(converters)[resolved.kind]
    return converter.convert(resolved.directory, load_weights=load_weights), None


def from_preset(preset, load_weights=True, model_class=None, presets=None, converters=None,
                allow_unpinned=False, **overrides):
    """Builds a model from a preset name, a local directory or `hf://org/repo`.

    `Model.from_preset` calls this with its class, its family's presets
    and its converters.

    Args:
        preset: a name in `presets`, a directory (written by
            `save_to_preset`, or a checkpoint a converter reads, such as a
            Hugging Face or open_clip CLIP), or `"hf://org/repo"`
            (optionally `"@revision"`).
        load_weights: False builds the architecture with random weights
            (and downloads no weights).
        model_class: the class expected; another class raises.
        presets: `{name: entry}` to look names up in.
        converters: `{kind: Converter}`; None: `kerasmm.convert.CONVERTERS`.
        allow_unpinned: download a registry preset that is not pinned yet
            (or set `KERASMM_ALLOW_UNPINNED=1`): its files' sha256 are
            recorded on first use and checked on later loads.
        **overrides: constructor arguments replacing the preset's, e.g.
            `dtype="bfloat16"` (applied to nested towers too).

    Returns:
        The model, weights assigned.

    Example:
    >>> import tempfile
    >>> from kerasmm.presets import save_to_preset
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
    converted, build_config = load_converted(preset, load_weights, presets, converters,
                                             allow_unpinned)
    model = build_model(converted.class_name, converted.config, overrides,
                        input_shape=converted.input_shape, build_config=build_config,
                        expected_class=model_class, origin=converted.description)
    if load_weights:
        if not model.built:
            raise ValueError(
                f"{converted.class_name} is not built on construction and the preset "
                "gives no input shape to build it with (ConvertedCheckpoint.input_shape "
                "or a saved build_config), so its weights cannot be assigned"
            )
        assign_weights(model, converted.weights, converted.sources)
    return model


class PresetAssets:
    """The asset files of a preset, fetched (without weights) on first use.

    `assets.path("vocab.json")` is the local path of one file; a preset
    without it raises a ValueError naming the preset and the file.
    """

    def __init__(self, preset, presets=None, converters=None, allow_unpinned=False):
        self.preset = preset
        self.presets = presets
        self.converters = converters
        self.allow_unpinned = allow_unpinned
        self._resolved = None

    def resolved(self):
        if self._resolved is None:
            self._resolved = resolve(self.preset, load_weights=False, presets=self.presets,
                                     converters=self.converters,
                                     allow_unpinned=self.allow_unpinned)
        return self._resolved

    def path(self, filename):
        directory = self.resolved().directory
        path = os.path.join(directory, filename)
        if not os.path.isfile(path):
            raise ValueError(f"The preset {self.preset!r} has no {filename} "
                             f"(looked in {directory})")
        return path


def load_preprocessing(preset, presets=None, converters=None, allow_unpinned=False):
    """`(constants, PresetAssets)`: what a preprocessor is built from.

    The constants are the registry entry's `preprocessing` when it has one
    (no download), else `preprocessor.json` of a kerasmm preset, else what
    the converter reads from the checkpoint's files.
    """
    assets = PresetAssets(preset, presets, converters, allow_unpinned)
    entry = (presets or {}).get(preset) if isinstance(preset, str) else None
    if entry is not None and "preprocessing" in entry:
        return dict(entry["preprocessing"]), assets
    resolved = assets.resolved()
    if resolved.kind == preset_files.KERASMM_KIND:
        saved = preset_files.read_preprocessor_config(resolved.directory)
        return dict(saved["preprocessing"]), assets
    converter = default_converters(converters)[resolved.kind]
    return dict(converter.convert(resolved.directory, load_weights=False).preprocessing), assets
