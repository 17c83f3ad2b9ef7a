"""Batching helpers shared by the CLIP tasks (host-side loops over a dataset)."""

import numpy as np
from keras import ops
from keras import tree


def is_dataset(x):
    """True for a `tf.data.Dataset` (checked without importing TensorFlow)."""
    return type(x).__module__.startswith("tensorflow") and hasattr(x, "element_spec")


def iterate_batches(data, batch_size):
    """Yields batches of `data`: an array (sliced) or a dataset (as batched).

    A dataset may yield image batches, `(images, labels)` tuples (labels are
    dropped here) or dicts with an `"images"` key.
    """
    if is_dataset(data):
        for batch in data:
            if isinstance(batch, (tuple, list)):
                batch = batch[0]
            if isinstance(batch, dict):
                batch = batch["images"]
            yield batch
        return
    for start in range(0, len(data), batch_size):
        yield data[start:start + batch_size]


def text_batches(texts, tokenizer, batch_size):
    """Yields token-id batches from strings (tokenized) or token ids."""
    if isinstance(texts, str):
        texts = [texts]
    if isinstance(texts, dict):
        count = len(texts["token_ids"])
        for start in range(0, count, batch_size):
            yield {k: v[start:start + batch_size] for k, v in texts.items()}
        return
    if isinstance(texts, (list, tuple)) and not texts:
        return  # No texts: no batches (an empty result), tokenizer or not.
    strings = isinstance(texts, (list, tuple)) and all(
        isinstance(t, (str, bytes)) for t in texts)
    if strings and tokenizer is None:
        raise ValueError(
            "Texts given as strings need a tokenizer. Received: tokenizer=None; "
            "pass a tokenizer or token ids of shape (num_texts, length)"
        )
    if not strings:
        texts = np.asarray(texts)
        if texts.ndim != 2 or texts.dtype.kind not in "iu":
            raise ValueError(
                "texts must be strings or int token ids of shape (num_texts, "
                f"length). Received: texts with shape {texts.shape} and dtype "
                f"{texts.dtype}"
            )
    for start in range(0, len(texts), batch_size):
        batch = texts[start:start + batch_size]
        if strings:
            # Tokenizers may return tf.Tensors; numpy feeds every backend.
            batch = tree.map_structure(np.asarray, tokenizer(list(batch)))
        yield batch


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def encode_in_batches(encode, batches, batch_size, width, total=None):
    """`encode` over `batches`, concatenated into a numpy `(N, width)` array.

    When there is more than one batch (`total > batch_size`), a short last
    batch is padded to `batch_size` by repeating its last row and the extra
    outputs are dropped: the model then sees one batch shape only (one TF
    trace, one set of JAX compilations instead of two).
    """
    outputs = []
    for batch in batches:
        count = len(tree.flatten(batch)[0])
        if total is not None and total > batch_size and count < batch_size:
            batch = tree.map_structure(
                lambda x: _pad_rows(np.asarray(x), batch_size), batch)
        outputs.append(to_numpy(encode(batch))[:count])
    if not outputs:
        return np.zeros((0, width), "float32")
    return np.concatenate(outputs, axis=0)


def _pad_rows(x, size):
    return np.concatenate([x, np.repeat(x[-1:], size - len(x), axis=0)], axis=0)


def is_empty(data):
    """True for an array with no rows or a dataset known to be empty."""
    if is_dataset(data):
        return int(data.cardinality()) == 0
    shape = getattr(data, "shape", None)
    return shape is not None and len(shape) > 0 and shape[0] == 0


def num_items(data):
    """Number of images or texts in `data`; None for a dataset (0 for one
    known to be empty)."""
    if is_dataset(data):
        return 0 if int(data.cardinality()) == 0 else None
    if isinstance(data, str):
        return 1
    if isinstance(data, dict):
        return len(data["token_ids"])
    return len(data)
