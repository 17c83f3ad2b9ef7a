"""A CLAP's `fit` under MirroredStrategy (2 logical CPUs) vs one device.

Run by test_clap.py in a fresh process (logical devices must be configured
before TensorFlow initialises). Prints one JSON line of measured
differences; the test asserts on them. Also GradCache
(`accumulation_steps=2`) vs plain steps, on one device.
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

import kerasmm  # noqa: E402

BATCH, SAMPLES, STEPS = 8, 1600, 3


def make_clap():
    keras.utils.set_random_seed(0)
    return kerasmm.models.CLAP(
        kerasmm.models.CLAPAudioEncoder(num_mel_bins=16, conv_widths=(8, 8), output_dim=12),
        kerasmm.models.TextTransformer(vocabulary_size=50, context_length=6, hidden_dim=16,
                                       num_layers=1, num_heads=2, output_dim=8))


def data():
    rng = np.random.default_rng(0)
    return {"audio": rng.normal(size=(BATCH * STEPS, SAMPLES)).astype("float32") * 0.3,
            "token_ids": rng.integers(1, 50, size=(BATCH * STEPS, 6)).astype("int32")}


def fit_weights(strategy, initial, accumulation_steps=1):
    with strategy.scope():
        model = make_clap()
        model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.SGD(0.05),
                      accumulation_steps=accumulation_steps)
    dataset = tf.data.Dataset.from_tensor_slices(data()).batch(BATCH, drop_remainder=True)
    model.fit(dataset, epochs=1, shuffle=False, verbose=0)
    return [v.numpy() for v in model.trainable_variables]


def max_diff(a, b):
    return float(max(np.max(np.abs(x - y)) for x, y in zip(a, b)))


def main():
    initial = make_clap().get_weights()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    single = fit_weights(tf.distribute.get_strategy(), initial)
    multi = fit_weights(strategy, initial)
    accumulated = fit_weights(tf.distribute.get_strategy(), initial, accumulation_steps=2)
    start = make_clap()
    start.set_weights(initial)
    print(json.dumps({
        "num_replicas": strategy.num_replicas_in_sync,
        "mirrored_diff": max_diff(single, multi),
        "accumulation_diff": max_diff(single, accumulated),
        "moved": max_diff(single, [v.numpy() for v in start.trainable_variables]),
    }))


if __name__ == "__main__":
    main()
