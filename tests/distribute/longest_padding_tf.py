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
from kerasmm import datasets  # noqa: E402
from kerasmm.models import CLIP  # noqa: E402
from kerasmm.models import CLIPPreprocessor  # noqa: E402
from kerasmm.preprocessing import CLIPImagePreprocessor  # noqa: E402


def train(padding, strategy, images, captions):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = CLIP(
            kerasmm.models.VisionTransformer(image_size=16, patch_size=8, hidden_dim=16,
                                             num_layers=1, num_heads=2, output_dim=16),
            kerasmm.models.TextTransformer(vocabulary_size=617, context_length=32,
                                           hidden_dim=16, num_layers=2, num_heads=2,
                                           output_dim=16))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=kerasmm.losses.CLIPLoss())
    preprocessor = CLIPPreprocessor(tokenizer=datasets.shapes_tokenizer(sequence_length=32),
                                    padding=padding, pad_to_multiple_of=4)
    dataset = tf.data.Dataset.from_tensor_slices(
        {"images": images, "prompts": captions}).batch(4).map(
        lambda batch: {"images": batch["images"],
                       **preprocessor({"prompts": batch["prompts"]})})
    widths = [int(batch["token_ids"].shape[1]) for batch in dataset]
    initial = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    model.fit(dataset, epochs=2, verbose=0)
    weights = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(weights, initial))
    return weights, widths, moved


def main():
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(4)])
    raw = datasets.generate_shapes("train", 8, image_size=16, seed=2)  # widths 12, 16
    images = np.asarray(CLIPImagePreprocessor(image_size=16)(raw["images"]))
    captions = list(raw["captions"])
    cut, widths, _ = train("longest", strategy, images, captions)
    full, full_widths, moved = train("max_length", tf.distribute.get_strategy(), images,
                                     captions)
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync, "widths": widths,
        "full_widths": full_widths, "moved": moved,
        "weight_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(cut, full)),
    }))


if __name__ == "__main__":
    main()
