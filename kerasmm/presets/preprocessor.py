"""`Preprocessor`: the base of every family's preprocessor layer.

A family's preprocessor (`CLIPPreprocessor`, `PerceiverPreprocessor`)
turns raw inputs (uint8 or `[0, 1]` images, strings) into exactly what the
family's model takes, eagerly or inside `tf.data.Dataset.map`, and loads
from the same preset as the model. A subclass:

- sets `backbone_cls`, the model class whose presets it reads (or, where
  presets hold tasks of several classes, as BLIP's do, leaves it None and
  sets `presets` to the family's registry: no model class is then checked);
- implements `preset_arguments(preprocessing, assets)` (the class method
  that turns a preset's constants and files into constructor arguments),
  `preset_preprocessing()` (the constants it saves) and, if it has files,
  `save_assets(directory)`;
- implements `call` and `get_config` as any Keras layer.
"""

import keras
import tensorflow as tf

from kerasmm.presets import load
from kerasmm.presets import save
from kerasmm.presets.build import check_overrides
from kerasmm.presets.mixin import check_preset_class


class _Presets:
    """`Preprocessor.presets`: the presets of its `backbone_cls`."""

    def __get__(self, instance, owner):
        return {} if owner.backbone_cls is None else owner.backbone_cls.presets


class Preprocessor(keras.layers.Layer):
    """Base of the family preprocessors: `from_preset`, `save_to_preset`, `presets`.

    Runs in TensorFlow (eagerly or inside `tf.data`) whatever the Keras
    backend: inputs are neither converted nor cast by Keras.

    Class attributes:
        backbone_cls: the model class (with `PresetMixin`) whose presets
            this preprocessor loads from.
        presets: the presets of `backbone_cls` (read only).
    """

    backbone_cls = None
    presets = _Presets()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._allow_non_tensor_positional_args = True
        self._convert_input_args = False
        self.built = True

    # === Helpers for subclasses ===

    @staticmethod
    def sublayer(value):
        """A sub-layer argument as a layer: a layer or None as is, a Keras
        config dict (what `get_config` wrote) deserialized."""
        if isinstance(value, dict):
            return keras.saving.deserialize_keras_object(value)
        return value

    @staticmethod
    def pixels(images):
        """Images as a `tf.Tensor`, integer (`[0, 255]`) or float (`[0, 1]`):
        the image preprocessing layers take both (and check the range)."""
        if not isinstance(images, tf.Tensor):
            images = tf.convert_to_tensor(images)
        return images

    # === Presets ===

    @classmethod
    def from_preset(cls, preset, allow_unpinned=False, **overrides):
        """The preprocessor of a preset name, directory or `hf://org/repo`.

        Reads the same preset as `backbone_cls.from_preset`, without its
        weights: the registry's constants, a directory written by
        `save_to_preset`, or a checkpoint a converter reads (its config and
        tokenizer files).

        Args:
            preset: a name in `presets`, a directory or `"hf://org/repo"`.
            allow_unpinned: download the files of a registered preset that
                is not pinned yet (see `PresetMixin.from_preset`).
            **overrides: constructor arguments replacing the preset's.
        """
        backbone_cls = cls.backbone_cls
        if backbone_cls is None and not cls.presets:
            raise TypeError(f"{cls.__name__}.backbone_cls is not set: it names the model "
                            "class whose presets this preprocessor loads from (or set "
                            f"{cls.__name__}.presets to a registry of its own)")
        check_overrides(cls, overrides)
        if backbone_cls is None:
            presets, converters = cls.presets, None
        else:
            check_preset_class(preset, backbone_cls)
            presets, converters = backbone_cls.family_presets, backbone_cls.preset_converters
        constants, assets = load.load_preprocessing(
            preset, presets=presets, converters=converters, allow_unpinned=allow_unpinned)
        return cls(**{**cls.preset_arguments(constants, assets), **overrides})

    @classmethod
    def preset_arguments(cls, preprocessing, assets):
        """Constructor arguments from a preset's constants and files.

        Args:
            preprocessing: dict of constants (`image_size`, `mean`, ...).
            assets: a `kerasmm.presets.PresetAssets`; `assets.path(name)`
                is the local path of one of the preset's files.
        """
        raise NotImplementedError(f"{cls.__name__} must implement preset_arguments")

    def preset_preprocessing(self):
        """The constants `save_to_preset` writes (what `preset_arguments` reads)."""
        raise NotImplementedError(f"{type(self).__name__} must implement preset_preprocessing")

    def save_assets(self, directory):
        """Writes the preprocessor's files into `directory`; returns their names."""
        return []

    def save_to_preset(self, directory, overwrite=False):
        """Writes `preprocessor.json` and the assets into `directory`, next to
        a model's files if it holds one (`from_preset(directory)` reads it)."""
        save.save_preprocessor(self, directory, overwrite=overwrite)
