"""4 JAX host devices under DataParallel vs one device on the global batch.

Run by test_distributed_equivalence.py in a fresh process with
`XLA_FLAGS=--xla_force_host_platform_device_count=4` (the device count is
fixed when JAX initialises). Prints one JSON line of measured differences.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.abspath(os.path.join(__file__, "..", "..", "..")))

import kerasmm  # noqa: E402
from towers import GLOBAL_BATCH, NUM_REPLICAS  # noqa: E402
from towers import features, make_model  # noqa: E402


def train(data, make_loss):
    """Loss before training and weights after 3 SGD steps of fit."""
    model = make_model(with_bias=True, batch=data)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=make_loss())
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(
        GLOBAL_BATCH, drop_remainder=True)
    first = dataset.take(1)
    loss = model.evaluate(first, verbose=0)
    model.fit(dataset, epochs=1, steps_per_epoch=3, shuffle=False, verbose=0)
    return loss, [np.asarray(v) for v in model.get_weights()]


def naive_local_loss(data, make_loss):
    """Mean of the losses of each device's quarter of the first batch."""
    model = make_model(with_bias=True, batch=data)
    local = GLOBAL_BATCH // NUM_REPLICAS
    values = []
    for start in range(0, GLOBAL_BATCH, local):
        shard = {k: v[start:start + local] for k, v in data.items()}
        values.append(float(make_loss()(None, model(shard))))
    return float(np.mean(values))


def main():
    assert len(jax.devices()) == NUM_REPLICAS, jax.devices()
    data = features(3 * GLOBAL_BATCH)
    losses = {
        "clip": lambda: kerasmm.losses.CLIPLoss(),
        "siglip_chunked": lambda: kerasmm.losses.SigLIPLoss(chunk_size=5),
    }
    single = {name: train(data, make) for name, make in losses.items()}
    naive = {name: naive_local_loss(data, make)
             for name, make in losses.items()}

    distribution = kerasmm.distribute.get_strategy()
    results = {
        "distribution": type(distribution).__name__,
        "num_replicas": kerasmm.distribute.num_replicas(),
    }
    initial_model = make_model(with_bias=True, batch=data)
    initial = initial_model.get_weights()
    # Variables created under DataParallel live on all devices.
    results["devices_per_variable"] = len(
        initial_model.trainable_variables[0].value.sharding.device_set)
    for name, make in losses.items():
        loss, weights = train(data, make)
        single_loss, single_weights = single[name]
        results[name] = {
            "loss_diff": abs(loss - single_loss),
            "weight_diff": float(max(np.max(np.abs(a - b))
                                     for a, b in zip(weights, single_weights))),
            "moved": float(max(np.max(np.abs(a - b))
                               for a, b in zip(weights, initial))),
            "naive_diff": abs(naive[name] - single_loss),
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
