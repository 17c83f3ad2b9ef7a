"""`kerasmm eval zero-shot`: zero-shot classification accuracy of any contrastive model."""

import numpy as np
import tensorflow as tf

from kerasmm import datasets
from kerasmm.metrics import zero_shot_classification_metrics
from kerasmm.recipes.evaluation import sources
from kerasmm.recipes.evaluation.configs import ZeroShotEvalConfig
from kerasmm.recipes.evaluation.encoding import class_embeddings
from kerasmm.recipes.evaluation.encoding import encode_images
from kerasmm.recipes.evaluation.encoding import prompt_tokenizer
from kerasmm.recipes.evaluation.families import load_model_and_preprocessor
from kerasmm.recipes.evaluation.prompts import tfds_prompts
from kerasmm.recipes.evaluation.results import evaluation_results
from kerasmm.recipes.evaluation.results import write_results

TASK = "zeroshot_classification"


def _labelled_images(config, preprocessor):
    """`(dataset of (images, labels) batches, class names, templates, name of
    the prompt set, number of images or None, split)` of `config.dataset`."""
    kind, value = sources.parse_dataset(config.dataset, "directory")
    inputs = sources.image_inputs(preprocessor)
    templates, prompts = datasets.openai_imagenet_templates(), "openai_imagenet"
    if kind == sources.SHAPES:
        images, labels = datasets.zero_shot_images(
            config.num_per_class, sources.shapes_image_size(preprocessor))
        images, labels = images[:config.num_examples], labels[:config.num_examples]
        ds = tf.data.Dataset.from_tensor_slices((images, labels)).map(
            lambda image, label: (inputs(image), label))
        names, templates, split = datasets.ZERO_SHOT_CLASSES, datasets.ZERO_SHOT_TEMPLATES, None
        prompts = "shapes"
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
        names, templates, prompts = _benchmark_prompts(value, names, templates, prompts)
        ds = ds.map(lambda image, label: (inputs(sources.rgb(image)), label),
                    num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(config.batch_size).prefetch(tf.data.AUTOTUNE)
    return ds, list(names), list(templates), prompts, total, split


def _benchmark_prompts(name, names, templates, prompts):
    """`(names, templates, prompts)`: CLIP_benchmark's for TFDS dataset
    `name` where it has them (`prompts.tfds_prompts`), else those given."""
    benchmark = tfds_prompts(name)
    if benchmark is None:
        return names, templates, prompts
    if benchmark.class_names is not None:
        if len(benchmark.class_names) != len(names):
            raise ValueError(
                f"dataset 'tfds:{name}' has {len(names)} classes, but CLIP_benchmark's "
                f"class names for it ({benchmark.name}) are {len(benchmark.class_names)}: "
                "a different version of the dataset? Pass class_names.")
        names = benchmark.class_names
    return names, benchmark.templates, benchmark.name


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
        also `split`, `num_examples`, `num_classes`, `num_templates` and
        `prompts`, the prompt set used (`"clip_benchmark:<dataset>"`,
        `"openai_imagenet"`, `"shapes"` or `"config"`). Written to
        `config.output_path` as JSON when it is set.

    Example:

    >>> config = ZeroShotEvalConfig(num_per_class=1)
    >>> results = evaluate_zero_shot(config, verbose=0)
    >>> sorted(results["metrics"]), results["num_examples"]
    (['acc1', 'acc5', 'mean_per_class_recall'], 30)
    """
    config = config or ZeroShotEvalConfig()
    model, preprocessor = load_model_and_preprocessor(config.preset, config.model_path)
    ds, names, templates, prompts, total, split = _labelled_images(config, preprocessor)
    if config.class_names is not None and len(config.class_names) != len(names):
        raise ValueError(
            f"class_names must hold one name per class of the dataset ({len(names)}, "
            f"in label order). Received: {len(config.class_names)} class_names")
    names = list(config.class_names or names)
    templates = list(config.templates or templates)
    prompts = "config" if config.templates else prompts
    classes = class_embeddings(model, prompt_tokenizer(preprocessor), names, templates,
                               config.batch_size, verbose)
    images, labels = encode_images(model, ds, config.batch_size, total, verbose)
    if not labels:
        raise ValueError(f"dataset {config.dataset!r} (split {split!r}) holds no images")
    labels = np.concatenate([np.asarray(batch) for batch in labels]).astype("int64")
    metrics = zero_shot_classification_metrics(images @ classes.T, labels)
    results = evaluation_results(TASK, metrics, config, model, split=split,
                                 num_examples=len(labels), num_classes=len(names),
                                 num_templates=len(templates), prompts=prompts)
    if config.output_path:
        write_results(results, config.output_path)
    return results
