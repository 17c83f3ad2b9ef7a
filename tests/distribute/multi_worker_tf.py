"""One process of the 2-worker `fit` test (see test_multi_worker.py).

`python multi_worker_tf.py worker OUT.npz`: with `TF_CONFIG` naming two
workers, creates a `MultiWorkerMirroredStrategy` and

1. canaries: `fit` a plain `keras.Model` (expected to fail in Keras'
   `_maybe_symbolic_build`, keras-team/keras#20585), then a model with only
   kerasmm's symbolic-build workaround (expected to fail reducing the
   scalar logs);
2. `fit`s a tiny kerasmm CLIP for 3 steps on the global batches, each
   worker reading its half of each batch, then `evaluate`s the first.

`python multi_worker_tf.py single OUT.npz`: the same CLIP `fit` in one
process on one device, the reference.

Saves initial and final weights to OUT.npz and prints one JSON line.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

MODE, OUT = sys.argv[1], sys.argv[2]
# Must exist before any other TF op runs.
STRATEGY = (tf.distribute.MultiWorkerMirroredStrategy() if MODE == "worker"
            else tf.distribute.get_strategy())

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.abspath(os.path.join(__file__, "..", "..", "..")))

import kerasmm  # noqa: E402

GLOBAL_BATCH = 8
STEPS = 3
IMAGE_SIZE = 16
CONTEXT = 8
VOCABULARY = 32


def clip_data(num, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(num, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    token_ids = np.zeros((num, CONTEXT), "int32")
    for row in range(num):
        end = 2 + row % (CONTEXT - 2)
        token_ids[row, :end] = rng.integers(1, VOCABULARY - 1, end)
        token_ids[row, end] = VOCABULARY - 1  # end of text: the largest id
    return {"images": images, "token_ids": token_ids}


def make_clip():
    keras.utils.set_random_seed(0)
    return kerasmm.models.CLIP(
        kerasmm.models.VisionTransformer(
            image_size=IMAGE_SIZE, patch_size=8, hidden_dim=16, num_layers=1,
            num_heads=2, output_dim=16),
        kerasmm.models.TextTransformer(
            vocabulary_size=VOCABULARY, context_length=CONTEXT, hidden_dim=16,
            num_layers=1, num_heads=2, output_dim=16),
    )


def global_batches(data):
    """The same global batches in every process, repeated.

    Under the multi-worker strategy `fit` splits each global batch across
    the workers (tf.distribute's auto-sharding rebatches, then shards).
    `repeat()` keeps the per-replica batch size static: for a finite
    dataset tf.distribute allows a partial last batch and drops it.
    """
    return tf.data.Dataset.from_tensor_slices(data).batch(
        GLOBAL_BATCH, drop_remainder=True).repeat()


def fit_clip():
    with STRATEGY.scope():
        model = make_clip()
        initial = [np.array(w) for w in model.get_weights()]
        model.compile(optimizer=keras.optimizers.SGD(0.1),
                      loss=kerasmm.losses.CLIPLoss())
    data = clip_data(STEPS * GLOBAL_BATCH)
    history = model.fit(global_batches(data), epochs=1,
                        steps_per_epoch=STEPS, verbose=0)
    first = {k: v[:GLOBAL_BATCH] for k, v in data.items()}
    evaluation = model.evaluate(global_batches(first), steps=1, verbose=0)
    return model, initial, history.history["loss"][0], evaluation


def canary(model_class):
    """The error message of a plain-Keras `fit`, or None if it trains."""
    with STRATEGY.scope():
        inputs = keras.Input((4,))
        model = model_class(inputs, keras.layers.Dense(1)(inputs))
        model.compile(optimizer="sgd", loss="mse")
    x = np.linspace(0.0, 1.0, 32, dtype="float32").reshape(8, 4)
    dataset = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(
        4, drop_remainder=True)
    try:
        model.fit(dataset, epochs=1, verbose=0)
    except Exception as error:  # noqa: BLE001: any upstream failure counts
        return f"{type(error).__name__}: {error}"[:1000]
    return None


class SymbolicBuildFixOnly(kerasmm.distribute.MultiWorkerTrainerMixin,
                           keras.Model):
    """The workaround without its second half (scalar logs)."""

    def _multi_worker_logs(self, logs):
        return logs


def main():
    results = {"mode": MODE,
               "num_replicas": int(STRATEGY.num_replicas_in_sync)}
    if MODE == "worker":
        results["plain_keras_error"] = canary(keras.Model)
        results["build_fix_only_error"] = canary(SymbolicBuildFixOnly)
        results["worker_index"] = json.loads(
            os.environ["TF_CONFIG"])["task"]["index"]
    model, initial, loss, evaluation = fit_clip()
    results["fit_loss"] = float(loss)
    results["evaluate_loss"] = float(evaluation)
    np.savez(OUT, **{f"initial_{i}": w for i, w in enumerate(initial)},
             **{f"final_{i}": np.array(w)
                for i, w in enumerate(model.get_weights())})
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
