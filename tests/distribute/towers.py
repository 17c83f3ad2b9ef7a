"""Test-only contrastive model and data for the distributed equivalence runs.

Imported by the subprocess scripts `equivalence_tf.py` / `equivalence_jax.py`
(not a test module). Weights come from seeded initializers, so every
`make_model()` starts from the same point on every backend and device.
"""

import keras
import numpy as np
from keras import ops

from kerasmm.losses import ContrastiveLossMixin

NUM_REPLICAS = 4
GLOBAL_BATCH = 16


class TwoTowers(ContrastiveLossMixin, keras.Model):
    def __init__(self, with_bias=False, **kwargs):
        super().__init__(**kwargs)
        self.with_bias = with_bias
        self.image_tower = keras.layers.Dense(
            4, kernel_initializer=keras.initializers.GlorotUniform(seed=1))
        self.text_tower = keras.layers.Dense(
            4, kernel_initializer=keras.initializers.GlorotUniform(seed=2))
        self.logit_scale = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(np.log(10.0)),
            name="logit_scale")
        if with_bias:
            self.logit_bias = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(-10.0),
                name="logit_bias")

    def call(self, inputs):
        outputs = {
            "image_embeddings": ops.normalize(
                self.image_tower(inputs["images"]), axis=-1),
            "text_embeddings": ops.normalize(
                self.text_tower(inputs["texts"]), axis=-1),
            "logit_scale": ops.convert_to_tensor(self.logit_scale),
        }
        if self.with_bias:
            outputs["logit_bias"] = ops.convert_to_tensor(self.logit_bias)
        return outputs


def features(num, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(num, 6)).astype("float32")
    texts = images @ rng.normal(size=(6, 5)) + 0.3 * rng.normal(size=(num, 5))
    return {"images": images, "texts": texts.astype("float32")}


def make_model(with_bias=True, batch=None):
    model = TwoTowers(with_bias=with_bias)
    model({k: v[:2] for k, v in batch.items()})
    return model
