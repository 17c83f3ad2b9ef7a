"""GradCache under 4 logical CPUs (MirroredStrategy) vs one device, k=1.

Run by test_accumulation.py in a fresh process (logical devices must be set
before TensorFlow initialises). Prints one JSON line of measured differences.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 4)

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.abspath(os.path.join(__file__, "..", "..", "..")))

from kerasmm.losses import CLIPLoss  # noqa: E402
from kerasmm.losses import SigLIPLoss  # noqa: E402
from tests.distribute.towers import GLOBAL_BATCH  # noqa: E402
from tests.distribute.towers import features  # noqa: E402
from tests.distribute.towers import make_model  # noqa: E402

LOSSES = {"clip": (False, CLIPLoss), "siglip_chunked": (True, lambda: SigLIPLoss(chunk_size=3))}


def fit_weights(strategy, name, data, steps):
    with_bias, make_loss = LOSSES[name]
    with strategy.scope():
        model = make_model(with_bias=with_bias, batch=data)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=make_loss(),
                      accumulation_steps=steps)
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(
        GLOBAL_BATCH, drop_remainder=True)
    model.fit(dataset, epochs=1, steps_per_epoch=2, shuffle=False, verbose=0)
    return [v.numpy() for v in model.trainable_variables]


def max_diff(a, b):
    return float(max(np.max(np.abs(x - y)) for x, y in zip(a, b)))


def main():
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(4)])
    data = features(2 * GLOBAL_BATCH)
    results = {}
    for name, (with_bias, _) in LOSSES.items():
        single = fit_weights(tf.distribute.get_strategy(), name, data, 1)
        # 4 replicas x 2 micro-batches of 2 examples each.
        multi = fit_weights(strategy, name, data, 2)
        initial = make_model(with_bias=with_bias, batch=data).get_weights()
        results[name] = {"weight_diff": max_diff(single, multi),
                         "moved": max_diff(single, initial)}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
