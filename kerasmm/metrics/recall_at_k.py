"""In-batch Recall@K of paired embeddings."""

import keras
from keras import ops

DIRECTIONS = ("image_to_text", "text_to_image")
_SHORT = {"image_to_text": "i2t", "text_to_image": "t2i"}


@keras.saving.register_keras_serializable(package="kerasmm")
class RecallAtK(keras.metrics.Metric):
    """Fraction of queries whose paired item ranks in the top `k` of a batch.

    Each batch gives a similarity matrix `S = img @ txt.T` whose correct
    pairs sit on the diagonal. For `direction="image_to_text"` image `i`
    is a hit when fewer than `k` texts score strictly higher than text `i`
    (ties count in the query's favour); `"text_to_image"` ranks images for
    each text. The result is hits / queries over all batches seen, which is
    the average of the per-batch recalls for equal-size batches
    (`drop_remainder=True`).

    The negatives are those of the batch the metric sees: under a
    distribution strategy, each replica's local batch. Use
    `kerasmm.metrics.retrieval_recall` for recall over a whole split.

    In `compile(metrics=[...])` of a model that mixes in
    `kerasmm.losses.ContrastiveLossMixin`, the metric receives the model's
    whole output dict (`takes_output_dict = True`).

    Args:
        k: positive int.
        direction: `"image_to_text"` or `"text_to_image"`.
        name: metric name, default `"i2t_recall@{k}"` / `"t2i_recall@{k}"`.
        dtype: dtype of the metric's state and result.

    Call arguments (`update_state`):
        y_true: ignored (may be `None`).
        y_pred: dict with `"image_embeddings"` and `"text_embeddings"`, each
            `(batch, dim)`, or a 2-tuple `(image_embeddings,
            text_embeddings)`.
        sample_weight: unused.

    Example:

    >>> metric = kerasmm.metrics.RecallAtK(k=1)
    >>> embeddings = np.eye(4, dtype="float32")
    >>> metric.update_state(None, {"image_embeddings": embeddings,
    ...                            "text_embeddings": embeddings})
    >>> float(metric.result())
    1.0

    Reference:
        - [Radford et al., 2021](https://arxiv.org/abs/2103.00020)
    """

    takes_output_dict = True

    def __init__(self, k=1, direction="image_to_text", name=None, dtype=None):
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"k must be a positive integer. Received: k={k}")
        if direction not in DIRECTIONS:
            raise ValueError(
                f"direction must be one of {DIRECTIONS}. "
                f"Received: direction={direction}"
            )
        name = name or f"{_SHORT[direction]}_recall@{k}"
        super().__init__(name=name, dtype=dtype)
        self.k = k
        self.direction = direction
        self.hits = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="hits",
            aggregation="sum",
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="count",
            aggregation="sum",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        images, texts = _embeddings(y_pred)
        if self.direction == "text_to_image":
            images, texts = texts, images
        similarity = ops.matmul(images, ops.transpose(texts))
        positive = ops.diagonal(similarity)
        higher = ops.sum(
            ops.cast(similarity > positive[:, None], "int32"), axis=1
        )
        hits = ops.sum(ops.cast(higher < self.k, self.dtype))
        self.hits.assign_add(hits)
        self.count.assign_add(ops.cast(ops.shape(images)[0], self.dtype))

    def result(self):
        return ops.divide_no_nan(self.hits, self.count)

    def get_config(self):
        config = super().get_config()
        config.update({"k": self.k, "direction": self.direction})
        return config


def _embeddings(y_pred):
    if isinstance(y_pred, dict):
        for key in ("image_embeddings", "text_embeddings"):
            if key not in y_pred:
                raise ValueError(
                    f"y_pred must hold '{key}'. "
                    f"Received: y_pred keys={sorted(y_pred)}"
                )
        images, texts = y_pred["image_embeddings"], y_pred["text_embeddings"]
    elif isinstance(y_pred, (list, tuple)) and len(y_pred) == 2:
        images, texts = y_pred
    else:
        raise ValueError(
            "y_pred must be a dict with 'image_embeddings' and "
            "'text_embeddings' or a 2-tuple of them. "
            f"Received: y_pred of type {type(y_pred).__name__}"
        )
    images = ops.cast(images, "float32")
    texts = ops.cast(texts, "float32")
    if len(images.shape) != 2 or len(texts.shape) != 2:
        raise ValueError(
            "image_embeddings and text_embeddings must be 2D (batch, dim). "
            f"Received: image_embeddings.shape={tuple(images.shape)}, "
            f"text_embeddings.shape={tuple(texts.shape)}"
        )
    return images, texts
