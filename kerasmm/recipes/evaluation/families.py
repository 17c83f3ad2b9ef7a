"""Which model and preprocessor an evaluation runs: any contrastive family.

A family takes part with no code here: `kerasmm.models` exports its
`<Family>Preprocessor` (a `kerasmm.presets.Preprocessor` whose
`backbone_cls` is the family's model), and that model has `encode_image`
and `encode_text`. CLIP is one; a SigLIP family in `kerasmm.models` is
found the same way.
"""

import keras

from kerasmm import models
from kerasmm.models.presets import PRESETS
from kerasmm.presets import Preprocessor
from kerasmm.presets import registered_class
from kerasmm.presets.load import load_converted

ENCODERS = ("encode_image", "encode_text")


def contrastive_families():
    """`[(model class, preprocessor class)]` of the contrastive families in
    `kerasmm.models`: every exported `Preprocessor` whose model has
    `encode_image` and `encode_text`.

    Example:

    >>> [(m.__name__, p.__name__) for m, p in contrastive_families()][:1]
    [('CLIP', 'CLIPPreprocessor')]
    """
    families = []
    for name in sorted(dir(models)):
        value = getattr(models, name)
        if isinstance(value, type) and issubclass(value, Preprocessor) and \
                value.backbone_cls is not None and \
                all(hasattr(value.backbone_cls, method) for method in ENCODERS):
            families.append((value.backbone_cls, value))
    return families


def _family_names():
    return ", ".join(model.__name__ for model, _ in contrastive_families())


def _family_of_class(cls, what):
    """The family of a model class: the most derived family model it is a
    subclass of (a family's model may subclass another's, SigLIP CLIP's)."""
    families = [family for family in contrastive_families() if issubclass(cls, family[0])]
    if families:
        return max(families, key=lambda family: len(family[0].__mro__))
    raise ValueError(
        f"{what} holds a {cls.__name__}, which is not a contrastive model with "
        f"encode_image and encode_text (the families: {_family_names()})")


def preset_class(preset):
    """The model class a preset (name, directory or `hf://org/repo`) holds,
    found without loading weights; a ValueError names the preset otherwise."""
    if isinstance(preset, str) and preset in PRESETS:
        return registered_class(PRESETS[preset]["class_name"])
    errors = []
    for model_class, _ in contrastive_families():
        try:
            converted, _ = load_converted(preset, load_weights=False,
                                          presets=model_class.family_presets,
                                          converters=model_class.preset_converters)
        except ValueError as error:
            errors.append(str(error))
            continue
        return registered_class(converted.class_name)
    raise ValueError(f"preset {preset!r} is no preset of a contrastive family "
                     f"({_family_names()}): {errors[0] if errors else ''}")


def load_model_and_preprocessor(preset, model_path=None):
    """`(model, preprocessor)` of a preset, or of a saved `.keras` model.

    Args:
        preset: a registered name, a preset directory or `hf://org/repo`;
            with `model_path`, only its preprocessor is used.
        model_path: None, or a `.keras` file written by `model.save` (the
            file holds no preprocessor: `preset` gives it).

    Example:

    >>> model, preprocessor = load_model_and_preprocessor("shapes_clip_tiny")
    >>> type(model).__name__, type(preprocessor).__name__
    ('CLIP', 'CLIPPreprocessor')
    """
    if model_path is not None:
        model = keras.saving.load_model(model_path)
        _, preprocessor_class = _family_of_class(type(model), f"model_path {model_path!r}")
        return model, preprocessor_class.from_preset(preset)
    cls = preset_class(preset)
    _, preprocessor_class = _family_of_class(cls, f"preset {preset!r}")
    return cls.from_preset(preset), preprocessor_class.from_preset(preset)
