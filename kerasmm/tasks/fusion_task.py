"""`FusionTask`: the base of the heads on a fusion backbone's outputs."""

import keras

from kerasmm.distribute import BuildBeforeTracingMixin
from kerasmm.models.vilt import VILT_PRESETS
from kerasmm.presets import PresetMixin


class FusionTask(PresetMixin, BuildBeforeTracingMixin, keras.Model):
    """A head on a fusion backbone (`kerasmm.models.ViLT`, ...): stores the
    backbone, checks it, and serializes it inside the task's config.

    Args:
        backbone: a Keras model whose call returns a dict with
            `"pooled_output"` `(B, backbone.hidden_dim)`.
    """

    family_presets = VILT_PRESETS

    def __init__(self, backbone, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(backbone, keras.layers.Layer) or not hasattr(backbone, "hidden_dim"):
            raise TypeError("backbone must be a Keras model with a hidden_dim (the width "
                            "of its pooled_output), e.g. kerasmm.models.ViLT. Received: "
                            f"backbone={type(backbone).__name__}")
        self.backbone = backbone

    def get_config(self):
        return {**super().get_config(),
                "backbone": keras.saving.serialize_keras_object(self.backbone)}

    @classmethod
    def from_config(cls, config):
        backbone = config.get("backbone")
        if isinstance(backbone, dict):
            config = {**config, "backbone": keras.saving.deserialize_keras_object(backbone)}
        return cls(**config)
