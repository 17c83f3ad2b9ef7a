"""CoCaLoss on 2 logical CPUs under MirroredStrategy vs one device.

Run by test_coca_distributed.py in a fresh process (logical devices must be
configured before TensorFlow initialises). Prints one JSON line.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.abspath(os.path.join(__file__, "..", "..", "..", "..")))

from kerasmm.losses import CoCaLoss  # noqa: E402
from tests.models.coca.coca_fixtures import captioned_images, make_coca  # noqa: E402

BATCH = 8


def gradients(model, loss, batch):
    with tf.GradientTape() as tape:
        value = loss(None, model(batch, training=True))
    # Dense tensors: the embedding's gradient comes as IndexedSlices.
    return value, [tf.convert_to_tensor(g) for g in tape.gradient(value, model.trainable_variables)]


def main():
    keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    data = captioned_images(BATCH, seed=5)
    # Replica 0 gets the short captions, replica 1 the long ones: unequal
    # token counts, where a per-replica token mean differs from the global one.
    order = np.argsort((data["token_ids"] != 0).sum(1), kind="stable")
    batch = {k: tf.constant(v[order]) for k, v in data.items()}
    reference = make_coca()
    value, grads = gradients(reference, CoCaLoss(), batch)
    with strategy.scope():
        mirrored = make_coca()
    mirrored.set_weights(reference.get_weights())

    def shard(context):
        start = context.replica_id_in_sync_group * (BATCH // 2)
        return {k: v[start:start + BATCH // 2] for k, v in batch.items()}

    @tf.function
    def step(inputs):
        value, grads = strategy.run(lambda x: gradients(mirrored, CoCaLoss(), x), args=(inputs,))
        return (strategy.reduce("SUM", value, axis=None),
                [strategy.reduce("SUM", g, axis=None) for g in grads])

    m_value, m_grads = step(strategy.experimental_distribute_values_from_function(shard))
    halves = [float(CoCaLoss()(None, reference({k: v[s:s + BATCH // 2] for k, v in batch.items()})))
              for s in (0, BATCH // 2)]
    print(json.dumps({
        "loss": float(value),
        "loss_diff": abs(float(value) - float(m_value)),
        "grad_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(grads, m_grads)),
        "grad_scale": max(float(np.max(np.abs(g))) for g in grads),
        "naive_diff": abs(float(np.mean(halves)) - float(value)),
    }))


if __name__ == "__main__":
    main()
