"""ToyPreprocessor: words -> ids from the preset's vocab.txt ([PAD] 0, [UNK] 1)."""

import keras
import tensorflow as tf

from kerasmm.presets import Preprocessor
from tests.toy_family.toy_backbone import ToyBackbone


@keras.saving.register_keras_serializable(package="kerasmm")
class ToyPreprocessor(Preprocessor):
    backbone_cls = ToyBackbone

    def __init__(self, vocabulary, sequence_length, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = list(vocabulary)
        self.sequence_length = sequence_length
        self.lookup = tf.keras.layers.StringLookup(vocabulary=self.vocabulary[2:],
                                                   num_oov_indices=1, mask_token=None)

    @classmethod
    def preset_arguments(cls, preprocessing, assets):
        with open(assets.path("vocab.txt"), encoding="utf-8") as f:
            return {"vocabulary": f.read().split(),
                    "sequence_length": preprocessing["sequence_length"]}

    def preset_preprocessing(self):
        return {"sequence_length": self.sequence_length}

    def save_assets(self, directory):
        with open(f"{directory}/vocab.txt", "w", encoding="utf-8") as f:
            f.write("\n".join(self.vocabulary))
        return ["vocab.txt"]

    def call(self, prompts):
        ids = self.lookup(tf.strings.split(tf.strings.lower(prompts))) + 1
        return ids.to_tensor(0, shape=(None, self.sequence_length))

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary,
                "sequence_length": self.sequence_length}
