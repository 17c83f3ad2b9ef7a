"""Where evaluation data comes from: the embedded shapes set, local files, or TFDS.

A dataset is named by one string: `"shapes"`, `"tfds:NAME"` (a TFDS name,
optionally with a config, `"tfds:imagenet_v2/matched-frequency"`) or a
local path. Images become model inputs through the family's preprocessor,
inside `tf.data`, whatever their size.
"""

import os

import tensorflow as tf

# Read as `sources.SHAPES` / `sources.parse_dataset` by the evaluations.
from kerasmm.recipes.evaluation.configs import SHAPES  # noqa: F401
from kerasmm.recipes.evaluation.configs import parse_dataset  # noqa: F401

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# The shapes generator's own default, for a preprocessor without an image size.
DEFAULT_SHAPES_IMAGE_SIZE = 64


def load_tfds(name, split, data_dir=None, download=False, num_examples=None,
              as_supervised=False):
    """`(dataset, info, split, number of examples or None)` of a TFDS dataset.

    `split` None picks `"test"`, else `"validation"` when the dataset has
    no test split. Nothing is downloaded unless `download`; a dataset
    missing from `data_dir` raises a ValueError saying so.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(f"dataset 'tfds:{name}': TFDS has no dataset {name!r} "
                         "(see tfds.list_builders())") from None
    if split is None:
        splits = set(builder.info.splits)
        split = "validation" if "validation" in splits and "test" not in splits else "test"
    selected = split if num_examples is None else f"{split}[:{num_examples}]"
    try:
        dataset, info = tfds.load(name, split=selected, data_dir=data_dir, download=download,
                                  as_supervised=as_supervised, with_info=True)
    except AssertionError as error:  # TFDS' way of saying the data is not there.
        raise ValueError(
            f"dataset 'tfds:{name}' is not prepared in data_dir={data_dir!r}: download "
            "and prepare it first (tfds build, or download=True / --download). "
            f"TFDS said: {error}") from None
    total = info.splits[split].num_examples if split in info.splits else None
    if total and num_examples:
        total = min(total, num_examples)
    return dataset, info, split, total or None


def read_image(path):
    """uint8 `(H, W, 3)` pixels of an image file (PNG, JPEG, BMP, GIF), in tf.data."""
    return tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)


def rgb(image):
    """A TFDS image as 3 channels: grey repeated, alpha dropped."""
    channels = image.shape[-1]
    if channels == 1:
        return tf.image.grayscale_to_rgb(image)
    return image[..., :3] if channels == 4 else image


def image_inputs(preprocessor):
    """The function turning one raw image into the model's input."""
    return lambda image: preprocessor({"images": image})["images"]


def shapes_image_size(preprocessor):
    """The size to draw shapes images at: the preprocessor's output size (so
    its resize is the identity, as in training), else the generator's default."""
    image_preprocessor = getattr(preprocessor, "image_preprocessor", None)
    return getattr(image_preprocessor, "image_size", None) or DEFAULT_SHAPES_IMAGE_SIZE


def list_image_folder(directory):
    """`(paths, labels, class_folders)` of an image folder: one subfolder per
    class (sorted by name, as `keras.utils.image_dataset_from_directory`
    numbers them), image files at any depth below it, sorted."""
    classes = sorted(entry.name for entry in os.scandir(directory)
                     if entry.is_dir() and not entry.name.startswith("."))
    paths, labels = [], []
    for label, name in enumerate(classes):
        found = []
        for root, _, files in os.walk(os.path.join(directory, name)):
            found += [os.path.join(root, f) for f in files
                      if f.lower().endswith(IMAGE_EXTENSIONS)]
        paths += sorted(found)
        labels += [label] * len(found)
    if not paths:
        raise ValueError(
            f"dataset {directory!r} holds no images in class subfolders: expected "
            f"<dataset>/<class name>/<image> with extensions {IMAGE_EXTENSIONS}. "
            f"Found: {sorted(os.listdir(directory))[:20]}")
    return paths, labels, classes
