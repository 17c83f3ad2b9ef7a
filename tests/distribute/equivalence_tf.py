"""4 logical CPUs under MirroredStrategy vs one device on the global batch.

Run by test_distributed_equivalence.py in a fresh process (logical devices
must be configured before TensorFlow initialises). Prints one JSON line of
measured differences; the test asserts on them.
"""

import json
import os
import sys
import time

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * 4
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.abspath(os.path.join(__file__, "..", "..", "..")))

import kerasmm  # noqa: E402
from towers import GLOBAL_BATCH, NUM_REPLICAS  # noqa: E402
from towers import features, make_model  # noqa: E402

LOSSES = {
    "clip": lambda: kerasmm.losses.CLIPLoss(),
    "siglip_chunked": lambda: kerasmm.losses.SigLIPLoss(chunk_size=5),
    "info_nce": lambda: kerasmm.losses.InfoNCE(chunk_size=6),
    "nce": lambda: kerasmm.losses.NCELoss(3, seed=1),
}


def gradients(tape, value, model):
    """Gradients, with zeros for unused variables (CLIP ignores the bias)."""
    grads = tape.gradient(value, model.trainable_variables)
    return [tf.zeros_like(v) if g is None else g
            for g, v in zip(grads, model.trainable_variables)]


def one_device(model, loss, batch):
    with tf.GradientTape() as tape:
        value = loss(None, model(batch))
    return value, gradients(tape, value, model)


def mirrored(strategy, model, loss, batch):
    local = GLOBAL_BATCH // NUM_REPLICAS

    def shard(context):
        start = context.replica_id_in_sync_group * local
        return {k: v[start:start + local] for k, v in batch.items()}

    per_replica = strategy.experimental_distribute_values_from_function(shard)

    @tf.function
    def step(inputs):
        def replica_fn(x):
            with tf.GradientTape() as tape:
                value = loss(None, model(x))
            return value, gradients(tape, value, model)

        value, grads = strategy.run(replica_fn, args=(inputs,))
        # Keras sums per-replica gradients (the loss is already divided by
        # the number of replicas), so sums are what one step applies.
        return strategy.reduce("SUM", value, axis=None), [
            strategy.reduce("SUM", g, axis=None) for g in grads
        ]

    return step(per_replica)


def naive_local_loss(model, loss, batch):
    """Each replica's own loss on its rows only (no gather), averaged."""
    local = GLOBAL_BATCH // NUM_REPLICAS
    values = []
    for start in range(0, GLOBAL_BATCH, local):
        shard = {k: v[start:start + local] for k, v in batch.items()}
        values.append(float(loss(None, model(shard))))
    return float(np.mean(values))


def max_diff(a, b):
    return float(max(np.max(np.abs(np.asarray(x) - np.asarray(y)))
                     for x, y in zip(a, b)))


def fit_weights(strategy, loss_name, data):
    with strategy.scope():
        model = make_model(with_bias=True, batch=data)
        model.compile(optimizer=keras.optimizers.SGD(0.1),
                      loss=LOSSES[loss_name]())
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(
        GLOBAL_BATCH, drop_remainder=True)
    model.fit(dataset, epochs=1, steps_per_epoch=3, shuffle=False, verbose=0)
    return [v.numpy() for v in model.trainable_variables]


START = time.time()


def main():
    strategy = tf.distribute.MirroredStrategy(
        [f"/cpu:{i}" for i in range(NUM_REPLICAS)])
    assert strategy.num_replicas_in_sync == NUM_REPLICAS
    batch = {k: tf.constant(v[:GLOBAL_BATCH])
             for k, v in features(GLOBAL_BATCH).items()}
    results = {}
    reference_model = make_model(with_bias=True, batch=batch)
    with strategy.scope():
        mirrored_model = make_model(with_bias=True, batch=batch)
    for name, make_loss in LOSSES.items():
        value, grads = one_device(reference_model, make_loss(), batch)
        m_value, m_grads = mirrored(strategy, mirrored_model, make_loss(),
                                    batch)
        results[name] = {
            "loss": float(value),
            "loss_diff": abs(float(value) - float(m_value)),
            "grad_diff": max_diff(grads, m_grads),
            "grad_scale": float(max(np.max(np.abs(g)) for g in grads)),
            "naive_diff": abs(
                naive_local_loss(reference_model, make_loss(), batch)
                - float(value)
            ),
        }
    data = features(3 * GLOBAL_BATCH)
    for name in ("clip",):
        single = fit_weights(tf.distribute.get_strategy(), name, data)
        multi = fit_weights(strategy, name, data)
        initial = make_model(with_bias=True, batch=data).get_weights()
        results[f"fit_{name}"] = {
            "weight_diff": max_diff(single, multi),
            "moved": max_diff(single, initial),
        }
    results["seconds"] = time.time() - START
    print(json.dumps(results))


if __name__ == "__main__":
    main()
