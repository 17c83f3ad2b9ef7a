"""The shapes reader: a small classifier that reads colour and shape off images.

A measuring instrument for generated images, independent of any generator:
a conv net with two heads (`COLORS`, `SHAPES` of `kerasmm.datasets.shapes`)
trained only on real images rendered by the dataset's own code. It sees all
30 colour x shape combinations, the `HELD_OUT_COMBOS` included (they are
held out of the *generator's* training, not of the instrument's), rendered
at several sizes and resized to the reader's input, shifted and noised, so
that it reads shapes of any size and position, sharp or blurred.

`load_shapes_reader()` loads the shipped weights
(kerasmm/weights/shapes_reader/, written by `weights/train_shapes_reader.py`);
`read_shapes(reader, images)` returns the colour and shape ids it reads.
The scores of text-to-image samples built on it are in
`kerasmm.recipes.shapes_scoring`.
"""

import json
import os

import keras
import numpy as np

from kerasmm.datasets.shapes import COLORS
from kerasmm.datasets.shapes import SHAPES
from kerasmm.datasets.shapes import zero_shot_images
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_positive_int

READER_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights", "shapes_reader")
WEIGHTS_FILENAME = "reader.weights.h5"
METRICS_FILENAME = "metrics.json"
IMAGE_SIZE = 32
# Render sizes of the training images, each resized to IMAGE_SIZE: small
# ones come out blurred, large ones antialiased.
RENDER_SIZES = (16, 24, 32, 48, 64)
FILTERS = (16, 32, 32, 64, 64, 96)


def build_shapes_reader(image_size=IMAGE_SIZE, seed=0):
    """The reader's architecture (untrained): a conv net with two heads.

    Input: float `(batch, image_size, image_size, 3)` in [-1, 1]. Output:
    `{"color": logits (batch, 6), "shape": logits (batch, 5)}`.

    Example:

    >>> reader = build_shapes_reader(16)
    >>> outputs = reader(np.zeros((2, 16, 16, 3), "float32"))
    >>> tuple(outputs["color"].shape), tuple(outputs["shape"].shape)
    ((2, 6), (2, 5))
    """
    image_size = check_positive_int("image_size", image_size)
    init = keras.initializers.HeNormal(seed=seed)
    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = inputs
    for i, filters in enumerate(FILTERS):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False,
                                kernel_initializer=init)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("relu")(x)
        if i in (1, 3):
            x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    outputs = {
        "color": keras.layers.Dense(len(COLORS), kernel_initializer=init, name="color")(x),
        "shape": keras.layers.Dense(len(SHAPES), kernel_initializer=init, name="shape")(x),
    }
    return keras.Model(inputs, outputs, name="shapes_reader")


def to_unit_range(images):
    """Images as float32 in [-1, 1]: uint8 is scaled, floats are kept."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype("float32") / 127.5 - 1.0
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            "images must be uint8 or float in [-1, 1]. "
            f"Received: images with dtype {images.dtype}")
    return images.astype("float32")


def resize_images(images, image_size):
    """float32 `(B, S, S, 3)`: `images` (uint8 or float [-1, 1]) resized to
    `image_size` (bilinear, antialiased; a no-op at that size)."""
    images = to_unit_range(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError("images must have shape (batch, height, width, 1 or 3). "
                         f"Received: images with shape {images.shape}")
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    if images.shape[1:3] != (image_size, image_size):
        images = keras.ops.convert_to_numpy(keras.ops.image.resize(
            images, (image_size, image_size), interpolation="bilinear", antialias=True))
    return images.astype("float32")


def read_shapes(reader, images, batch_size=256):
    """The colour and shape the reader sees in each image.

    Args:
        reader: a model of `build_shapes_reader` (e.g. `load_shapes_reader()`).
        images: `(B, H, W, 3 or 1)` uint8, or float in [-1, 1]; resized to
            the reader's input size.
        batch_size: int, images per forward pass.

    Returns:
        `{"color": int32 (B,), "shape": int32 (B,)}`, ids into `COLORS` and
        `SHAPES`.

    Example:

    >>> reader = build_shapes_reader(16)
    >>> read = read_shapes(reader, np.zeros((3, 40, 40, 3), "uint8"))
    >>> read["color"].shape, read["shape"].dtype
    ((3,), dtype('int32'))
    """
    images = resize_images(images, reader.input_shape[1])
    out = reader.predict(images, batch_size=check_positive_int("batch_size", batch_size),
                         verbose=0)
    return {key: np.argmax(out[key], axis=-1).astype("int32") for key in ("color", "shape")}


def load_shapes_reader(directory=READER_DIR):
    """The trained reader of `directory` (default: the shipped weights)."""
    path = os.path.join(directory, WEIGHTS_FILENAME)
    if not os.path.isfile(path):
        raise ValueError(
            f"directory must hold {WEIGHTS_FILENAME} (written by "
            f"weights/train_shapes_reader.py). Received: directory={directory!r}")
    with open(os.path.join(directory, METRICS_FILENAME)) as f:
        image_size = json.load(f)["image_size"]
    reader = build_shapes_reader(image_size)
    reader.load_weights(path)
    return reader


def reader_images(num_per_class, seed, image_size=IMAGE_SIZE, augment=True):
    """Real single-shape images of all 30 combinations, with their labels.

    `num_per_class` images per combination at each of `RENDER_SIZES`
    (drawn by `kerasmm.datasets.shapes.zero_shot_images` with `seed`), each
    resized to `image_size`; with `augment`, shifted by up to 3 pixels
    (edges repeated) and given Gaussian noise (std up to 0.1).

    Returns:
        `(images, colors, shapes)`: float32 `(N, S, S, 3)` in [-1, 1] and
        int32 ids.
    """
    num_per_class = check_positive_int("num_per_class", num_per_class)
    seed = check_int("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i, size in enumerate(RENDER_SIZES):
        x, y = zero_shot_images(num_per_class, image_size=size, seed=seed * 101 + i)
        images.append(resize_images(x, image_size))
        labels.append(y)
    images, labels = np.concatenate(images), np.concatenate(labels)
    if augment:
        pad = 3
        padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
        dy, dx = rng.integers(2 * pad + 1, size=(2, len(images)))
        rows = dy[:, None] + np.arange(image_size)
        cols = dx[:, None] + np.arange(image_size)
        images = padded[np.arange(len(images))[:, None, None], rows[:, :, None],
                        cols[:, None, :]]
        noise = rng.uniform(0, 0.1, size=(len(images), 1, 1, 1))
        images = images + noise * rng.standard_normal(images.shape)
        images = np.clip(images, -1, 1).astype("float32")
    return images, labels // len(SHAPES), labels % len(SHAPES)


def reader_accuracy(reader, images, colors, shapes):
    """`{"color_accuracy", "shape_accuracy", "accuracy"}` (both right) of the reader."""
    read = read_shapes(reader, images)
    color_ok, shape_ok = read["color"] == colors, read["shape"] == shapes
    return {"color_accuracy": float(color_ok.mean()), "shape_accuracy": float(shape_ok.mean()),
            "accuracy": float((color_ok & shape_ok).mean())}


def train_shapes_reader(output_dir=None, seed=0, num_per_class=100, epochs=6,
                        batch_size=64, verbose=2):
    """Trains a reader on real images; measures it on fresh ones.

    Training images: `reader_images(num_per_class, seed)` (all 30
    combinations, 5 render sizes, augmented). Test images: fresh ones of
    another seed, not augmented, read at 32 pixels and also rendered at 64
    and resized by `read_shapes`. With `output_dir`, writes the weights
    and `metrics.json` there.

    Returns:
        `(reader, metrics)`.
    """
    keras.utils.set_random_seed(seed)
    images, colors, shapes = reader_images(num_per_class, seed)
    reader = build_shapes_reader(IMAGE_SIZE, seed=seed)
    schedule = keras.optimizers.schedules.CosineDecay(
        3e-3, epochs * (-(-len(images) // batch_size)))
    reader.compile(optimizer=keras.optimizers.Adam(schedule),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    reader.fit(images, {"color": colors, "shape": shapes}, batch_size=batch_size,
               epochs=epochs, shuffle=True, verbose=verbose)
    metrics = {"seed": seed, "image_size": IMAGE_SIZE, "num_train_images": len(images)}
    test_seed = 10_000 + seed
    for size in (IMAGE_SIZE, 64):
        x, y = zero_shot_images(20, image_size=size, seed=test_seed)
        scores = reader_accuracy(reader, x, y // len(SHAPES), y % len(SHAPES))
        metrics.update({f"test_{key}_{size}px": round(v, 4) for key, v in scores.items()})
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        # An uncompiled copy: the file holds the weights, not Adam's moments.
        weights_only = build_shapes_reader(IMAGE_SIZE)
        weights_only.set_weights(reader.get_weights())
        weights_only.save_weights(os.path.join(output_dir, WEIGHTS_FILENAME))
        with open(os.path.join(output_dir, METRICS_FILENAME), "w") as f:
            json.dump(metrics, f, indent=2)
    return reader, metrics
