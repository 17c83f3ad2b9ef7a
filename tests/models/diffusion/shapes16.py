"""The 16x16x1 learning proof of TextToImageDiffusion, shared by its slow test and
tools/make_t2i_16x16_samples.py: data, a short fit, an independent reader, scores."""

import time

import keras
import numpy as np

from kerasmm.datasets import shapes
from kerasmm.datasets import shapes_tokenizer
from kerasmm.models import TextToImageDiffusion
from kerasmm.models import TextToImagePreprocessor

SHAPE_NAMES = ("circle", "square", "triangle")
CONFIG = dict(image_shape=(16, 16, 1), context_length=4, hidden_dim=16,
              channel_multipliers=(1, 2), attention_levels=(1,), num_heads=2, num_groups=8,
              text_hidden_dim=16, text_num_layers=1, prompt_dropout=0.1, seed=0)


def shapes16(num_examples=8000, split="train", seed=0):
    """Big single shapes of `SHAPE_NAMES`, grayscale 16x16 in [-1, 1], and their labels."""
    data = shapes.generate_shapes(split, num_examples=num_examples, image_size=16, seed=seed)
    kinds = data["shapes"][:, 0]
    keep = ((data["num_shapes"] == 1) & (data["sizes"][:, 0] == 1)
            & np.isin(kinds, [shapes.SHAPES.index(name) for name in SHAPE_NAMES]))
    images = data["images"][keep].astype("float32").mean(axis=-1, keepdims=True) / 127.5 - 1
    labels = np.array([SHAPE_NAMES.index(shapes.SHAPES[k]) for k in kinds[keep]], "int32")
    return images, labels


def preprocessor():
    return TextToImagePreprocessor(shapes_tokenizer(sequence_length=CONFIG["context_length"]))


def train_generator(images, labels, steps, batch_size=32, learning_rate=2e-3):
    """A `TextToImageDiffusion` fitted for `steps` steps on the prompts = shape names."""
    token_ids = preprocessor()(list(SHAPE_NAMES)).numpy()[labels]
    model = TextToImageDiffusion(vocabulary_size=shapes_tokenizer().vocabulary_size(), **CONFIG)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=0.0,
                                                   use_ema=True, ema_momentum=0.99),
                  jit_compile=False, steps_per_execution=20)  # 74 -> 55 ms a step here.
    rng = np.random.default_rng(0)
    order = rng.integers(0, len(images), steps * batch_size)
    start = time.time()
    history = model.fit({"images": images[order], "token_ids": token_ids[order]},
                        batch_size=batch_size, epochs=1, verbose=0)
    return model, history.history["loss"], time.time() - start


def train_reader(images, labels, epochs=16):
    """A small CNN shape classifier trained on real images only (independent of the generator)."""
    reader = keras.Sequential([
        keras.Input((16, 16, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(len(SHAPE_NAMES)),
    ])
    reader.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False, metrics=["accuracy"],
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    reader.fit(images, labels, batch_size=64, epochs=epochs, verbose=0)
    return reader


def sample(model, per_prompt, num_steps=25, guidance_scale=3.0, seed=0):
    """`(images (3 * per_prompt, 16, 16, 1), prompt labels)`, DDIM."""
    labels = np.repeat(np.arange(len(SHAPE_NAMES)), per_prompt).astype("int32")
    token_ids = preprocessor()(list(SHAPE_NAMES)).numpy()[labels]
    images = model.generate(token_ids, num_steps=num_steps, guidance_scale=guidance_scale,
                            seed=seed)
    return images, labels


def scores(reader, generated, generated_labels, real, real_labels):
    """Reader accuracy on generated / real images and per-pixel diversity per prompt."""
    def accuracy(images, labels):
        return float(np.mean(np.argmax(reader.predict(images, verbose=0), -1) == labels))

    def diversity(images, labels):  # Per-pixel std across one prompt's images, averaged.
        return float(np.mean([images[labels == k].std(axis=0).mean()
                              for k in range(len(SHAPE_NAMES))]))

    return {"generated_accuracy": accuracy(generated, generated_labels),
            "real_accuracy": accuracy(real, real_labels),
            "generated_diversity": diversity(generated, generated_labels),
            "real_diversity": diversity(real, real_labels)}
