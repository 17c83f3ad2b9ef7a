"""GradCache under 4 JAX host devices (DataParallel) vs one device, k=1.

Run by test_accumulation.py in a fresh process with
`XLA_FLAGS=--xla_force_host_platform_device_count=4`. Prints one JSON line.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.abspath(os.path.join(__file__, "..", "..", "..")))

from kerasmm.distribute import get_strategy  # noqa: E402
from kerasmm.losses import SigLIPLoss  # noqa: E402
from tests.distribute.towers import GLOBAL_BATCH  # noqa: E402
from tests.distribute.towers import features  # noqa: E402
from tests.distribute.towers import make_model  # noqa: E402


def fit_weights(data, steps):
    model = make_model(with_bias=True, batch=data)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=SigLIPLoss(chunk_size=3),
                  accumulation_steps=steps)
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(
        GLOBAL_BATCH, drop_remainder=True)
    model.fit(dataset, epochs=1, steps_per_epoch=2, shuffle=False, verbose=0)
    return [np.asarray(w) for w in model.get_weights()]


def max_diff(a, b):
    return float(max(np.max(np.abs(x - y)) for x, y in zip(a, b)))


def main():
    data = features(2 * GLOBAL_BATCH)
    single = fit_weights(data, 1)
    initial = make_model(with_bias=True, batch=data).get_weights()
    distribution = get_strategy()
    multi = fit_weights(data, 4)
    print(json.dumps({"distribution": type(distribution).__name__,
                      "weight_diff": max_diff(single, multi),
                      "moved": max_diff(single, initial)}))


if __name__ == "__main__":
    main()
