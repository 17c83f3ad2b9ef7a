"""`kerasmm eval zero-shot`: zero-shot classification accuracy of any contrastive model."""

import dataclasses

import numpy as np
import tensorflow as tf

from kerasmm import datasets
from kerasmm.metrics import zero_shot_classification_metrics
from kerasmm.recipes.evaluation import sources
from kerasmm.recipes.evaluation.encoding import class_embeddings
from kerasmm.recipes.evaluation.encoding import encode_images
from kerasmm.recipes.evaluation.encoding import prompt_tokenizer
from kerasmm.recipes.evaluation.families import check_model_fields
from kerasmm.recipes.evaluation.families import load_model_and_preprocessor
from kerasmm.recipes.evaluation.results import evaluation_results
from kerasmm.recipes.evaluation.results import write_results
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_strings

TASK = "zeroshot_classification"


@dataclasses.dataclass(frozen=True)
class ZeroShotEvalConfig:
    """Zero-shot classification of a labelled image set, CLIP_benchmark style.

    Each class name goes into every template; the prompt embeddings are
    averaged per class (`kerasmm.tasks.ZeroShotClassifier`), and each
    image's best classes give `acc1`, `acc5` and `mean_per_class_recall`
    (`kerasmm.metrics.zero_shot_classification_metrics`).

    `dataset` is one of:
    - `"shapes"`: the embedded zero-shot set (`num_per_class` single shapes
      of each of the 30 `ZERO_SHOT_CLASSES`, with `ZERO_SHOT_TEMPLATES`),
      drawn at the preprocessor's image size, as the demo evaluates it;
    - a directory with one subfolder of images per class (subfolders
      sorted; their names, with `_` read as spaces, are the class names;
      ImageNet WordNet ids become ImageNet's names);
    - `"tfds:NAME"`, e.g. `tfds:imagenet_v2`, `tfds:imagenette`,
      `tfds:caltech101`, `tfds:oxford_iiit_pet`, `tfds:cifar10`: the
      dataset's `(image, label)` pairs from `data_dir`, with its label
      names made readable (`kerasmm.datasets.readable_class_names`).
    Datasets other than shapes use OpenAI's 80 ImageNet templates
    (`kerasmm.datasets.openai_imagenet_templates()`) unless `templates` is set.

    Example:

    >>> config = ZeroShotEvalConfig(dataset="shapes", num_per_class=1)
    >>> config.preset, config.batch_size
    ('shapes_clip_tiny', 64)
    """

    # === Model ===
    preset: str = "shapes_clip_tiny"  # the model, or only its preprocessor with model_path
    model_path: str = None  # a .keras file written by model.save

    # === Data ===
    dataset: str = "shapes"  # "shapes", an image-folder directory or "tfds:NAME"
    split: str = None  # TFDS split; None: "test", or "validation" without one
    data_dir: str = None  # TFDS data directory (TFDS' default when None)
    download: bool = False  # let TFDS download a dataset missing from data_dir
    num_examples: int = None  # evaluate only the first images
    num_per_class: int = 20  # shapes: images per class
    class_names: tuple = None  # None: the dataset's
    templates: tuple = None  # None: shapes' 5 prompts, else OpenAI's 80

    # === Run ===
    batch_size: int = 64
    output_path: str = None  # where the results JSON goes (None: not written)

    def __post_init__(self):
        check_model_fields(self)
        sources.parse_dataset(self.dataset, "directory")
        sources.check_data_fields(self)
        check_positive_int("num_per_class", self.num_per_class)
        # Frozen: normalise the sequences with object.__setattr__ (lists become tuples).
        if self.class_names is not None:
            object.__setattr__(self, "class_names",
                               tuple(check_strings("class_names", self.class_names)))
        if self.templates is not None:
            object.__setattr__(self, "templates", tuple(
                check_strings("templates", self.templates, placeholder=True)))


def _labelled_images(config, preprocessor):
    """`(dataset of (images, labels) batches, class names, templates, number
    of images or None, split)` of `config.dataset`."""
    kind, value = sources.parse_dataset(config.dataset, "directory")
    inputs = sources.image_inputs(preprocessor)
    templates = datasets.openai_imagenet_templates()
    if kind == sources.SHAPES:
        images, labels = datasets.zero_shot_images(
            config.num_per_class, sources.shapes_image_size(preprocessor))
        images, labels = images[:config.num_examples], labels[:config.num_examples]
        ds = tf.data.Dataset.from_tensor_slices((images, labels)).map(
            lambda image, label: (inputs(image), label))
        names, templates, split = datasets.ZERO_SHOT_CLASSES, datasets.ZERO_SHOT_TEMPLATES, None
        total = len(labels)
    elif kind == "path":
        paths, labels, folders = sources.list_image_folder(value)
        paths, labels = paths[:config.num_examples], labels[:config.num_examples]
        ds = tf.data.Dataset.from_tensor_slices((paths, labels)).map(
            lambda path, label: (inputs(sources.read_image(path)), label),
            num_parallel_calls=tf.data.AUTOTUNE)
        names, split, total = datasets.readable_class_names(folders), None, len(labels)
    else:
        ds, info, split, total = sources.load_tfds(value, config.split, config.data_dir,
                                                   config.download, config.num_examples,
                                                   as_supervised=True)
        label_key = (info.supervised_keys or ("image", "label"))[1]
        names = datasets.readable_class_names(info.features[label_key].names)
        ds = ds.map(lambda image, label: (inputs(sources.rgb(image)), label),
                    num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(config.batch_size).prefetch(tf.data.AUTOTUNE)
    return ds, list(names), list(templates), total, split


def evaluate_zero_shot(config=None, verbose=1):
    """Zero-shot classification metrics of a preset (or `.keras` model) on a dataset.

    Args:
        config: a `ZeroShotEvalConfig` (default: the shipped
            `shapes_clip_tiny` on the shapes set).
        verbose: 0 silent, 1 live progress bars while encoding, 2 one
            line per bar.

    Returns:
        dict as `kerasmm.recipes.evaluation.evaluation_results`: `metrics`
        holds CLIP_benchmark's `acc1`, `acc5` and `mean_per_class_recall`;
        also `split`, `num_examples`, `num_classes`, `num_templates`. Written
        to `config.output_path` as JSON when it is set.

    Example:

    >>> config = ZeroShotEvalConfig(num_per_class=1)
    >>> results = evaluate_zero_shot(config, verbose=0)
    >>> sorted(results["metrics"]), results["num_examples"]
    (['acc1', 'acc5', 'mean_per_class_recall'], 30)
    """
    config = config or ZeroShotEvalConfig()
    model, preprocessor = load_model_and_preprocessor(config.preset, config.model_path)
    ds, names, templates, total, split = _labelled_images(config, preprocessor)
    if config.class_names is not None and len(config.class_names) != len(names):
        raise ValueError(
            f"class_names must hold one name per class of the dataset ({len(names)}, "
            f"in label order). Received: {len(config.class_names)} class_names")
    names = list(config.class_names or names)
    templates = list(config.templates or templates)
    classes = class_embeddings(model, prompt_tokenizer(preprocessor), names, templates,
                               config.batch_size, verbose)
    images, labels = encode_images(model, ds, config.batch_size, total, verbose)
    if not labels:
        raise ValueError(f"dataset {config.dataset!r} (split {split!r}) holds no images")
    labels = np.concatenate([np.asarray(batch) for batch in labels]).astype("int64")
    metrics = zero_shot_classification_metrics(images @ classes.T, labels)
    results = evaluation_results(TASK, metrics, config, model, split=split,
                                 num_examples=len(labels), num_classes=len(names),
                                 num_templates=len(templates))
    if config.output_path:
        write_results(results, config.output_path)
    return results
