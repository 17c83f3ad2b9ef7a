"""CLIP_benchmark's zero-shot metrics, in numpy, with its metric keys.

The definitions are those of LAION's CLIP_benchmark
(`clip_benchmark/metrics/zeroshot_classification.py` and
`zeroshot_retrieval.py`), so a kerasmm evaluation JSON can sit next to
CLIP_benchmark's results. Where CLIP_benchmark leaves the order of tied
scores to `torch.topk`, these functions fix it: among equal scores the
lower index ranks first (as `argmax` does).
"""

import numpy as np
from keras import ops

from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank


def zero_shot_classification_metrics(logits, labels):
    """`acc1`, `acc5` and `mean_per_class_recall` of zero-shot logits.

    As CLIP_benchmark: `acc{k}` is the fraction of examples whose label is
    among the `k` highest logits (`acc5` is NaN with fewer than 5 classes);
    `mean_per_class_recall` is the recall of the top-1 prediction averaged
    over the classes present in `labels` (scikit-learn's
    `balanced_accuracy_score`). Ties rank the lower class index first.

    Args:
        logits: `(num_examples, num_classes)` scores (e.g. `100 *
            image_embeddings @ class_embeddings.T`; any monotonic scale
            gives the same metrics).
        labels: `(num_examples,)` integer class indices.

    Returns:
        dict of floats `{"acc1", "acc5", "mean_per_class_recall"}`.

    Example:

    >>> logits = np.array([[3., 1., 0., 0., 0., 2.],
    ...                    [0., 1., 3., 0., 0., 0.],
    ...                    [1., 1., 0., 0., 0., 0.],   # a tie: class 0 ranks first
    ...                    [2., 0., 0., 0., 0., 0.]])
    >>> metrics = zero_shot_classification_metrics(logits, [0, 2, 1, 0])
    >>> {key: round(value, 4) for key, value in metrics.items()}
    {'acc1': 0.75, 'acc5': 1.0, 'mean_per_class_recall': 0.6667}
    """
    logits = _float_matrix("logits", logits)
    labels = np.asarray(ops.convert_to_numpy(labels))
    if labels.shape != logits.shape[:1] or len(labels) == 0:
        raise ValueError(
            "labels must be (num_examples,) for logits (num_examples, "
            "num_classes), with at least one example. Received: "
            f"logits.shape={logits.shape}, labels.shape={labels.shape}"
        )
    num_classes = logits.shape[1]
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or \
            labels.max() >= num_classes:
        raise ValueError(
            f"labels must be integers in [0, {num_classes}). Received: "
            f"labels of dtype {labels.dtype} in [{labels.min()}, {labels.max()}]"
        )
    own = logits[np.arange(len(labels)), labels][:, None]
    classes = np.arange(num_classes)[None, :]
    rank = np.sum((logits > own) | ((logits == own) & (classes < labels[:, None])), axis=1)
    top1 = rank == 0
    recalls = [np.mean(top1[labels == c]) for c in np.unique(labels)]
    return {
        "acc1": float(np.mean(rank < 1)),
        "acc5": float(np.mean(rank < 5)) if num_classes >= 5 else float("nan"),
        "mean_per_class_recall": float(np.mean(recalls)),
    }


def zero_shot_retrieval_metrics(image_embeddings, text_embeddings,
                                text_to_image=None, recall_k_list=(1, 5, 10),
                                chunk_size=1024):
    """CLIP_benchmark's `image_retrieval_recall@k` and `text_retrieval_recall@k`.

    Scores are `text_embeddings @ image_embeddings.T` (pass L2-normalised
    embeddings, as CLIP_benchmark does). `image_retrieval_recall@k` is the
    fraction of captions whose own image is among the `k` best-scoring
    images; `text_retrieval_recall@k` the fraction of images with at least
    one of their captions among the `k` best-scoring captions. An image
    without captions counts as a miss (CLIP_benchmark's 0/0 recall). Ties
    rank the lower index first. Memory is `chunk_size * max(N, M)` floats.

    Args:
        image_embeddings: `(N, dim)`.
        text_embeddings: `(M, dim)`.
        text_to_image: `(M,)` ints, the image of each caption (several
            captions per image allowed); `None` means caption `i` belongs
            to image `i`.
        recall_k_list: positive ints, each at most `N` (`torch.topk`
            refuses larger `k`).
        chunk_size: positive int, queries scored at a time.

    Returns:
        dict of floats with `image_retrieval_recall@{k}` and
        `text_retrieval_recall@{k}` for each `k`.

    Example:

    >>> images = np.eye(3, dtype="float32")
    >>> texts = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 0]], "float32")
    >>> metrics = zero_shot_retrieval_metrics(
    ...     images, texts, text_to_image=[0, 0, 1, 2], recall_k_list=(1,))
    >>> {key: round(value, 4) for key, value in metrics.items()}
    {'image_retrieval_recall@1': 0.5, 'text_retrieval_recall@1': 0.6667}
    """
    images = _float_matrix("image_embeddings", image_embeddings)
    texts = _float_matrix("text_embeddings", text_embeddings)
    num_images, num_texts = len(images), len(texts)
    if images.shape[1] != texts.shape[1] or (text_to_image is None
                                             and num_texts != num_images):
        raise ValueError(
            "image_embeddings and text_embeddings must have the same width, "
            "and as many rows unless text_to_image is given. Received: "
            f"image_embeddings.shape={images.shape}, "
            f"text_embeddings.shape={texts.shape}"
        )
    text_to_image = np.arange(num_texts) if text_to_image is None else \
        np.asarray(text_to_image)
    if text_to_image.shape != (num_texts,) or not np.issubdtype(
            text_to_image.dtype, np.integer) or (num_texts and (
            text_to_image.min() < 0 or text_to_image.max() >= num_images)):
        raise ValueError(
            f"text_to_image must hold one image index in [0, {num_images}) per "
            f"caption ({num_texts}). Received: text_to_image={text_to_image!r}"
        )
    recall_k_list = [check_positive_int("recall_k_list", k) for k in recall_k_list]
    if not recall_k_list or max(recall_k_list) > num_images:
        raise ValueError(
            f"recall_k_list must hold ks in [1, {num_images}] (the number of "
            f"images). Received: recall_k_list={recall_k_list}"
        )
    chunk_size = check_positive_int("chunk_size", chunk_size)

    # Captions as queries: the position of each caption's own image.
    image_rank = np.empty(num_texts, "int64")
    for start in range(0, num_texts, chunk_size):
        scores = texts[start:start + chunk_size] @ images.T
        own = text_to_image[start:start + chunk_size]
        image_rank[start:start + len(scores)] = _first_position(scores, own[:, None] ==
                                                                np.arange(num_images))
    # Images as queries: the position of each image's first-ranked caption.
    text_rank = np.empty(num_images, "int64")
    for start in range(0, num_images, chunk_size):
        scores = images[start:start + chunk_size] @ texts.T
        ids = np.arange(start, start + len(scores))
        text_rank[start:start + len(scores)] = _first_position(
            scores, text_to_image[None, :] == ids[:, None])

    metrics = {}
    for k in recall_k_list:
        metrics[f"image_retrieval_recall@{k}"] = float(np.mean(image_rank < k))
        metrics[f"text_retrieval_recall@{k}"] = float(np.mean(text_rank < k))
    return metrics


def _first_position(scores, positive):
    """Per row, the position of the first positive in the ranking of `scores`
    (descending, ties by lower index); `scores.shape[1]` if there is none."""
    best = np.max(np.where(positive, scores, -np.inf), axis=1, keepdims=True)
    columns = np.arange(scores.shape[1])
    first = np.min(np.where(positive & (scores == best), columns, scores.shape[1]),
                   axis=1, keepdims=True)
    rank = np.sum((scores > best) | ((scores == best) & (columns < first)), axis=1)
    return np.where(np.any(positive, axis=1), rank, scores.shape[1])


def _float_matrix(name, value):
    value = np.asarray(ops.convert_to_numpy(value), "float32")
    check_rank(name, value.shape, 2)
    return value
