"""ToyBackbone: token embedding, LayerNorm, mean pooling, a linear head."""

import keras
from keras import ops

from kerasmm.convert import CONVERTERS
from kerasmm.presets import PresetMixin
from kerasmm.utils.checks import check_positive_int
from tests.toy_family.toy_converter import ToyConverter
from tests.toy_family.toy_presets import TOY_PRESETS


@keras.saving.register_keras_serializable(package="kerasmm")
class ToyBackbone(PresetMixin, keras.Model):
    family_presets = TOY_PRESETS
    preset_converters = {**CONVERTERS, ToyConverter.kind: ToyConverter()}

    def __init__(self, vocabulary_size, hidden_dim, output_dim, **kwargs):
        for name, value in (("vocabulary_size", vocabulary_size),
                            ("hidden_dim", hidden_dim), ("output_dim", output_dim)):
            check_positive_int(name, value)
        # === Layers ===
        embedding = keras.layers.Embedding(vocabulary_size, hidden_dim, name="embedding")
        norm = keras.layers.LayerNormalization(epsilon=1e-12, name="norm")
        head = keras.layers.Dense(output_dim, name="head")
        # === Functional Model ===
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        pooled = ops.mean(norm(embedding(token_ids)), axis=1)
        super().__init__(token_ids, head(pooled), **kwargs)
        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.output_dim = output_dim

    def get_config(self):
        return {"vocabulary_size": self.vocabulary_size, "hidden_dim": self.hidden_dim,
                "output_dim": self.output_dim, "name": self.name}
