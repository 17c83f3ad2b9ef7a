"""`PresetMixin`: `from_preset`, `save_to_preset` and `presets` for a model class.

A model class of a family mixes it in and names its family's presets:

    class CLIP(ContrastiveLossMixin, PresetMixin, keras.Model):
        family_presets = CLIP_PRESETS   # plain data, clip/clip_presets.py

`preset_converters` (default None: `kerasmm.convert.CONVERTERS`) is the
`{kind: Converter}` map used to detect and convert checkpoint directories;
a family with its own checkpoint format sets it, e.g.
`{**kerasmm.convert.CONVERTERS, "toy": TOY_CONVERTER}`.
"""

import types

from kerasmm.presets import load
from kerasmm.presets import save
from kerasmm.presets.build import registered_class
from kerasmm.presets.registry import presets_of_class


def _preset_families():
    """`family_presets` of every class that mixes in `PresetMixin` (only to
    name the right class when a name belongs to another family)."""
    classes, families = [PresetMixin], []
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if cls.family_presets and not any(cls.family_presets is f for f in families):
            families.append(cls.family_presets)
    return families


def check_preset_class(preset, model_class):
    """A ValueError, before any download, when the registered preset
    `preset` holds a class other than `model_class` (or a subclass)."""
    if not isinstance(preset, str):
        return
    families = [model_class.family_presets] + _preset_families()
    entry = next((family[preset] for family in families if preset in family), None)
    if entry is None:
        return
    class_name = entry["class_name"]
    if class_name == model_class.__name__:
        return
    try:
        if issubclass(registered_class(class_name), model_class):
            return
    except ValueError:
        pass
    raise ValueError(
        f"This preset holds a {class_name}, not a {model_class.__name__}: use "
        f"kerasmm.models.{class_name}.from_preset({preset!r})"
    )


class _Presets:
    """`Model.presets`: the entries of its family whose class is `Model`."""

    def __get__(self, instance, owner):
        return presets_of_class(owner.family_presets, owner.__name__)


class PresetMixin:
    """Gives a model class `from_preset`, `save_to_preset` and `presets`.

    Class attributes:
        family_presets: `{name: entry}`, the presets of the model's family
            (plain data; format in `kerasmm.presets.registry`).
        preset_converters: `{kind: Converter}` for checkpoint directories
            and `hf://` repos; None: `kerasmm.convert.CONVERTERS`.
        presets: the entries of `family_presets` whose `class_name` is the
            class (read only).

    Example (a family of one class, with a preset in a local directory):
    >>> import tempfile
    >>> directory = tempfile.mkdtemp()
    >>> TOY_PRESETS = {"toy_tiny": {"class_name": "Toy", "description": "A toy.",
    ...                             "directory": directory}}
    >>> class Toy(PresetMixin, keras.Model):
    ...     family_presets = TOY_PRESETS
    ...     def __init__(self, width=4, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.width = width
    ...         self.dense = keras.layers.Dense(width)
    ...         self.build((None, 3))
    ...     def build(self, input_shape):
    ...         self.dense.build(input_shape)
    ...     def call(self, x):
    ...         return self.dense(x)
    ...     def get_config(self):
    ...         return {**super().get_config(), "width": self.width}
    >>> Toy(width=2).save_to_preset(directory)
    >>> sorted(Toy.presets)
    ['toy_tiny']
    >>> Toy.from_preset("toy_tiny").width
    2
    """

    family_presets = types.MappingProxyType({})  # A family sets its own dict.
    preset_converters = None
    presets = _Presets()

    @classmethod
    def from_preset(cls, preset, load_weights=True, allow_unpinned=False, **overrides):
        """Builds the model from a preset name, directory or `hf://org/repo`.

        Args:
            preset: a name in `Model.presets`, a local directory (written
                by `save_to_preset`, or a checkpoint a converter reads), or
                `"hf://org/repo"` (optionally `"@revision"`).
            load_weights: False builds the architecture with random weights
                (and downloads no weights).
            allow_unpinned: download a registered preset that is not pinned
                to a commit and sha256s yet (or set
                `KERASMM_ALLOW_UNPINNED=1`); the files' sha256 are recorded
                on first use and checked on later loads.
            **overrides: constructor arguments replacing the preset's, e.g.
                `dtype="bfloat16"`.
        """
        check_preset_class(preset, cls)
        return load.from_preset(preset, load_weights=load_weights, model_class=cls,
                                presets=cls.family_presets,
                                converters=cls.preset_converters,
                                allow_unpinned=allow_unpinned, **overrides)

    def save_to_preset(self, directory, preprocessor=None, overwrite=False):
        """Writes the model (and its preprocessor) as a preset directory.

        See `kerasmm.presets.save_to_preset`.
        """
        save.save_to_preset(self, directory, preprocessor=preprocessor, overwrite=overwrite)
