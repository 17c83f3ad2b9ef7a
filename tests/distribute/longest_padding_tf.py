"""`fit` under MirroredStrategy on longest-padded CLIP batches (4 logical CPUs).

Batches cut by `CLIPPreprocessor(padding="longest")` differ in width; each
replica gets one example of each batch of 4, at that batch's width. Prints a JSON
line: the widths seen and how far the weights after 2 epochs lie from one
device trained on the same batches padded to the context length.
"""

import json

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 4)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasmm  # noqa: E402
from tests.models.clip.test_clip_preprocessor import caption_batches  # noqa: E402
from tests.models.clip.test_clip_preprocessor import caption_clip  # noqa: E402


def train(padding, strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = caption_clip()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=kerasmm.losses.CLIPLoss())
    dataset = caption_batches(padding)
    widths = [int(batch["token_ids"].shape[1]) for batch in dataset]
    initial = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    model.fit(dataset, epochs=2, verbose=0)
    weights = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(weights, initial))
    return weights, widths, moved


def main():
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(4)])
    cut, widths, _ = train("longest", strategy)
    full, full_widths, moved = train("max_length", tf.distribute.get_strategy())
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync, "widths": widths,
        "full_widths": full_widths, "moved": moved,
        "weight_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(cut, full)),
    }))


if __name__ == "__main__":
    main()
