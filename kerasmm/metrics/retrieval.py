"""Retrieval recall over a whole split, in chunks."""

import numpy as np
from keras import ops


def retrieval_recall(image_embeddings, text_embeddings, text_to_image=None,
                     ks=(1, 5, 10), chunk_size=1024):
    """Image->text and text->image Recall@K over a whole evaluation split.

    Follows the CLIP / COCO protocol: similarities are dot products (pass
    L2-normalised embeddings for cosine similarity). A caption is a
    text->image hit at `k` when fewer than `k` images score strictly higher
    than its own image. An image is an image->text hit at `k` when any of
    its captions ranks in its top `k`, i.e. when fewer than `k` captions
    score strictly higher than its best-scoring own caption. Ties count in
    the query's favour.

    The similarity matrix is never built whole: queries are processed
    `chunk_size` at a time, so memory is `chunk_size * max(N, M)` floats
    (25k captions x 5k images runs in a few hundred MB).

    Args:
        image_embeddings: `(N, dim)` array or tensor.
        text_embeddings: `(M, dim)` array or tensor.
        text_to_image: `(M,)` ints, the image index of each caption
            (several captions per image allowed). `None` means caption `i`
            belongs to image `i` (then `M == N`).
        ks: positive ints.
        chunk_size: positive int, queries per chunk.

    Returns:
        dict of floats `{"i2t_recall@1": ..., "t2i_recall@1": ..., ...}`
        with one `i2t` and one `t2i` entry for each `k` in `ks`.

    Example:

    >>> images = np.eye(3, dtype="float32")
    >>> texts = np.repeat(images, 2, axis=0)      # two captions per image
    >>> recall = kerasmm.metrics.retrieval_recall(
    ...     images, texts, text_to_image=[0, 0, 1, 1, 2, 2], ks=(1,))
    >>> {key: float(value) for key, value in sorted(recall.items())}
    {'i2t_recall@1': 1.0, 't2i_recall@1': 1.0}
    """
    images = np.asarray(ops.convert_to_numpy(image_embeddings), "float32")
    texts = np.asarray(ops.convert_to_numpy(text_embeddings), "float32")
    if images.ndim != 2 or texts.ndim != 2 or images.shape[1] != texts.shape[1]:
        raise ValueError(
            "image_embeddings and text_embeddings must be 2D with the same "
            f"width. Received: image_embeddings.shape={images.shape}, "
            f"text_embeddings.shape={texts.shape}"
        )
    num_images, num_texts = len(images), len(texts)
    text_to_image = _check_text_to_image(text_to_image, num_images, num_texts)
    ks = tuple(ks)
    if not ks or any(
        isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0
        for k in ks
    ):
        raise ValueError(
            f"ks must be a non-empty sequence of positive integers. "
            f"Received: ks={ks}"
        )
    if isinstance(chunk_size, bool) or not isinstance(
        chunk_size, (int, np.integer)
    ) or chunk_size <= 0:
        raise ValueError(
            f"chunk_size must be a positive integer. "
            f"Received: chunk_size={chunk_size}"
        )

    # text -> image: rank of each caption's own image.
    t2i_rank = np.empty(num_texts, dtype="int64")
    for start in range(0, num_texts, chunk_size):
        stop = min(start + chunk_size, num_texts)
        similarity = texts[start:stop] @ images.T
        own = similarity[np.arange(stop - start), text_to_image[start:stop]]
        t2i_rank[start:stop] = np.sum(similarity > own[:, None], axis=1)

    # image -> text: rank of each image's best own caption.
    i2t_rank = np.empty(num_images, dtype="int64")
    for start in range(0, num_images, chunk_size):
        stop = min(start + chunk_size, num_images)
        similarity = images[start:stop] @ texts.T
        own = text_to_image[None, :] == np.arange(start, stop)[:, None]
        best_own = np.max(np.where(own, similarity, -np.inf), axis=1)
        i2t_rank[start:stop] = np.sum(similarity > best_own[:, None], axis=1)

    results = {}
    for k in ks:
        results[f"i2t_recall@{k}"] = float(np.mean(i2t_rank < k))
        results[f"t2i_recall@{k}"] = float(np.mean(t2i_rank < k))
    return results


def _check_text_to_image(text_to_image, num_images, num_texts):
    if text_to_image is None:
        if num_texts != num_images:
            raise ValueError(
                "Without text_to_image, there must be one caption per image. "
                f"Received: {num_images} images, {num_texts} captions"
            )
        return np.arange(num_texts)
    text_to_image = np.asarray(text_to_image)
    if text_to_image.shape != (num_texts,) or not np.issubdtype(
        text_to_image.dtype, np.integer
    ):
        raise ValueError(
            "text_to_image must hold one integer image index per caption. "
            f"Received: text_to_image of shape {text_to_image.shape} and "
            f"dtype {text_to_image.dtype} for {num_texts} captions"
        )
    if num_texts and (text_to_image.min() < 0
                      or text_to_image.max() >= num_images):
        raise ValueError(
            f"text_to_image values must be in [0, {num_images}). Received: "
            f"min={text_to_image.min()}, max={text_to_image.max()}"
        )
    captioned = np.bincount(text_to_image, minlength=num_images)
    if np.any(captioned == 0):
        missing = np.flatnonzero(captioned == 0)
        raise ValueError(
            "Every image needs at least one caption in text_to_image. "
            f"Received: images without captions {missing[:10].tolist()}"
        )
    return text_to_image
