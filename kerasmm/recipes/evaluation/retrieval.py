"""`kerasmm eval retrieval`: image-text retrieval recall of any contrastive model."""

import json
import os

import numpy as np
import tensorflow as tf

from kerasmm import datasets
from kerasmm.metrics import zero_shot_retrieval_metrics
from kerasmm.recipes.evaluation import sources
from kerasmm.recipes.evaluation.configs import RetrievalEvalConfig
from kerasmm.recipes.evaluation.encoding import encode_images
from kerasmm.recipes.evaluation.encoding import encode_texts
from kerasmm.recipes.evaluation.encoding import prompt_tokenizer
from kerasmm.recipes.evaluation.families import load_model_and_preprocessor
from kerasmm.recipes.evaluation.results import evaluation_results
from kerasmm.recipes.evaluation.results import write_results

TASK = "zeroshot_retrieval"


def read_karpathy(path, split, image_root=None):
    """`(image paths, captions per image)` of a Karpathy-format JSON's `split`.

    Example:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> open(os.path.join(folder, "a.png"), "wb").close()
    >>> with open(os.path.join(folder, "d.json"), "w") as f:
    ...     json.dump({"images": [{"filename": "a.png", "split": "test",
    ...                            "sentences": [{"raw": "A dog."}]}]}, f)
    >>> paths, captions = read_karpathy(os.path.join(folder, "d.json"), "test")
    >>> os.path.basename(paths[0]), captions
    ('a.png', [['A dog.']])
    """
    with open(path, encoding="utf-8") as f:
        try:
            entries = json.load(f)["images"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"dataset {path!r} is not a Karpathy-format JSON file "
                             "(a dict with an 'images' list)") from None
    root = image_root or os.path.dirname(os.path.abspath(path))
    paths, captions = [], []
    try:
        for entry in entries:
            if entry.get("split") == split:
                paths.append(os.path.join(root, entry.get("filepath", ""), entry["filename"]))
                captions.append([sentence["raw"] for sentence in entry["sentences"]])
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"dataset {path!r}: an image entry lacks {error} (each needs "
                         "'filename', 'split' and 'sentences': [{'raw': ...}])") from None
    if not paths:
        found = sorted({str(e.get("split")) for e in entries if isinstance(e, dict)})
        raise ValueError(f"dataset {path!r} has no image in split {split!r}. "
                         f"Its splits: {found}")
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ValueError(f"dataset {path!r}: {len(missing)} of its {split} images are not "
                         f"under image_root={root!r}, e.g. {missing[0]!r}")
    return paths, captions


def _ragged(captions):
    return tf.ragged.constant(captions, tf.string, ragged_rank=1)


def _captioned_images(config, preprocessor):
    """`(dataset of (images, ragged captions) batches, number of images or
    None, split)`."""
    kind, value = sources.parse_dataset(config.dataset, "file")
    inputs = sources.image_inputs(preprocessor)
    limit = config.num_examples
    if kind == sources.SHAPES:
        data = datasets.generate_shapes("test", limit, sources.shapes_image_size(preprocessor))
        captions = [[str(caption)] for caption in data["captions"]]
        ds = tf.data.Dataset.from_tensor_slices((data["images"], _ragged(captions)))
        ds = ds.map(lambda image, texts: (inputs(image), texts))
        total, split = len(captions), "test"
    elif kind == "path":
        paths, captions = read_karpathy(value, config.split, config.image_root)
        paths, captions = paths[:limit], captions[:limit]
        ds = tf.data.Dataset.from_tensor_slices((paths, _ragged(captions)))
        ds = ds.map(lambda path, texts: (inputs(sources.read_image(path)), texts),
                    num_parallel_calls=tf.data.AUTOTUNE)
        total, split = len(paths), config.split
    else:
        ds, info, split, total = sources.load_tfds(value, config.split, config.data_dir,
                                                   config.download, limit)
        if "captions" not in info.features:
            raise ValueError(f"dataset {config.dataset!r} has no 'captions' feature: "
                             "expected an image-caption set such as tfds:coco_captions")
        ds = ds.map(lambda ex: (inputs(sources.rgb(ex["image"])), ex["captions"]["text"]),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.ragged_batch(config.batch_size).prefetch(tf.data.AUTOTUNE), total, split


def evaluate_retrieval(config=None, verbose=1):
    """Retrieval recall@k, both directions, of a preset (or `.keras` model).

    Args:
        config: a `RetrievalEvalConfig` (default: the shipped
            `shapes_clip_tiny` on the shapes test split).
        verbose: 0 silent, 1 live progress bars while encoding, 2 one
            line per bar.

    Returns:
        dict as `kerasmm.recipes.evaluation.evaluation_results`: `metrics`
        holds CLIP_benchmark's `image_retrieval_recall@k` and
        `text_retrieval_recall@k` for each `k` of `config.recall_k`; also
        `split`, `num_examples` (images) and `num_captions`. Written to
        `config.output_path` as JSON when it is set.

    Example:

    >>> config = RetrievalEvalConfig(num_examples=32, recall_k=(1, 5))
    >>> results = evaluate_retrieval(config, verbose=0)
    >>> sorted(results["metrics"])[:2], results["num_captions"]
    (['image_retrieval_recall@1', 'image_retrieval_recall@5'], 32)
    """
    config = config or RetrievalEvalConfig()
    model, preprocessor = load_model_and_preprocessor(config.preset, config.model_path)
    ds, total, split = _captioned_images(config, preprocessor)
    if total is not None and max(config.recall_k) > total:
        raise ValueError(f"recall_k must be at most the number of images ({total}). "
                         f"Received: recall_k={config.recall_k}")
    images, caption_batches = encode_images(model, ds, config.batch_size, total, verbose)
    captions, text_to_image = [], []
    rows = (texts for batch in caption_batches for texts in batch.to_list())
    for image, texts in enumerate(rows):
        captions += [text.decode("utf-8") for text in texts]
        text_to_image += [image] * len(texts)
    texts = encode_texts(model, captions, prompt_tokenizer(preprocessor), config.batch_size,
                         verbose)
    metrics = zero_shot_retrieval_metrics(images, texts, np.asarray(text_to_image, "int64"),
                                          recall_k_list=config.recall_k)
    results = evaluation_results(TASK, metrics, config, model, split=split,
                                 num_examples=len(images), num_captions=len(captions))
    if config.output_path:
        write_results(results, config.output_path)
    return results
