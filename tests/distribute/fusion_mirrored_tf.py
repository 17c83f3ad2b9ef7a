"""A VQAClassifier over each fusion backbone: `fit` under MirroredStrategy on
4 logical CPUs vs one device.

Run by test_fusion_mirrored.py in a fresh process (logical devices must be
configured before TensorFlow initialises). Prints one JSON line: per
backbone, the largest weight difference after 2 fit steps from the same
start, how far the weights moved, and the final losses.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * 4)

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.abspath(os.path.join(__file__, "..", "..", "..")))

from kerasmm.tasks import VQAClassifier  # noqa: E402
from tests.tasks.test_fusion_backbones import make_backbone  # noqa: E402

GLOBAL_BATCH = 8
STEPS = 2


def data():
    rng = np.random.default_rng(0)
    size = GLOBAL_BATCH * STEPS
    lengths = rng.integers(2, 6, size)
    x = {"images": rng.normal(size=(size, 16, 16, 3)).astype("float32"),
         "token_ids": rng.integers(1, 30, (size, 5)).astype("int32"),
         # int32: see `fit` (the backbones take any 0/1 or bool mask).
         "padding_mask": (np.arange(5)[None, :] < lengths[:, None]).astype("int32")}
    return x, rng.integers(0, 5, size).astype("int32")


def fit(strategy, name, weights):
    with strategy.scope():
        model = VQAClassifier(make_backbone(name), num_answers=5)
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.05),
                      loss="sparse_categorical_crossentropy")
        # Keras 3.15's TF fit under a strategy takes the MEAN over replicas
        # of the first batch (bool masks fail: no bool AddN) and, if the
        # compiled loss is unbuilt, builds it on that (float token_ids are
        # refused). Building the loss first skips the second.
        x, y = data()
        first = {k: v[:2] for k, v in x.items()}
        model.compute_loss(x=first, y=y[:2], y_pred=model(first))
    dataset = tf.data.Dataset.from_tensor_slices(data()).batch(GLOBAL_BATCH)
    history = model.fit(dataset, epochs=1, shuffle=False, verbose=0)
    return model.get_weights(), history.history["loss"][-1]


def main():
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(4)])
    assert strategy.num_replicas_in_sync == 4
    results = {}
    for name in ("vilt", "mmbt", "coattention"):
        keras.utils.set_random_seed(1)
        initial = VQAClassifier(make_backbone(name), num_answers=5).get_weights()
        single, single_loss = fit(tf.distribute.get_strategy(), name, initial)
        multi, multi_loss = fit(strategy, name, initial)
        results[name] = {
            "weight_diff": float(max(np.abs(a - b).max() for a, b in zip(single, multi))),
            "moved": float(max(np.abs(a - b).max() for a, b in zip(single, initial))),
            "loss": float(single_loss), "mirrored_loss": float(multi_loss)}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
