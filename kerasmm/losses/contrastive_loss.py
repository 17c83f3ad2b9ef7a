"""Base class of the global-batch contrastive losses."""

import warnings

import keras
from keras import ops

from kerasmm.distribute import all_gather
from kerasmm.losses.chunked_logits import row_reduce
from kerasmm.utils.constants import LOGIT_SCALE_MAX
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.constants import LOGIT_SCALE_MIN
from kerasmm.utils.tensor_checks import static_size

IMAGE_KEY = "image_embeddings"
TEXT_KEY = "text_embeddings"
SCALE_KEY = "logit_scale"
BIAS_KEY = "logit_bias"


@keras.saving.register_keras_serializable(package="kerasmm")
class ContrastiveLoss(keras.losses.Loss):
    """Base class of the kerasmm contrastive losses.

    A contrastive loss scores every pair of a batch of paired embeddings
    (image/text, anchor/positive). `y_pred` is the model output holding both
    sides (for CLIP the dict `{"image_embeddings", "text_embeddings",
    "logit_scale"[, "logit_bias"]}`); `y_true` is ignored and may be `None`,
    so datasets can yield features only.

    `call` returns one loss per example for *this replica's rows of the
    global logit matrix*: the other side's embeddings are gathered from all
    replicas with `kerasmm.distribute.all_gather` (with gradient), and this
    replica's positives sit at columns `offset + arange(local_batch)`. Keras
    then averages over the local batch and divides by the number of
    replicas, so with N replicas the loss and its gradients equal one-device
    training on the global batch. Logits and losses are computed in float32
    whatever the input dtype (mixed precision).

    Models whose output is a dict should mix in
    `kerasmm.losses.ContrastiveLossMixin`, which hands the whole dict to the
    loss (plain Keras would apply the loss to each dict entry separately).

    Subclasses implement `call(y_true, y_pred)` and may use the helpers
    `_pair(y_pred)` (validated float32 embeddings) and `_softmax_rows`.

    Args:
        chunk_size: `None` or a positive int: process the columns of the
            logit matrix `chunk_size` at a time so that peak memory grows
            with `local_batch * chunk_size` instead of
            `local_batch * global_batch`. Same value and gradient.
        name: optional name of the loss.
        reduction: Keras reduction of the per-example losses. Keep the
            default `"sum_over_batch_size"` for the global-batch guarantee.

    Reference:
        - [Radford et al., 2021](https://arxiv.org/abs/2103.00020)
    """

    # Whether `y_pred` may also be a `(batch, 2, dim)` tensor or a 2-tuple.
    accepts_pairs = False

    def __init__(self, chunk_size=None, name=None,
                 reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.chunk_size = check_positive_int("chunk_size", chunk_size, allow_none=True)
        # One warning per loss object for a batch of 1, not one per step.
        self._warned_batch_of_one = False

    def __call__(self, y_true, y_pred, sample_weight=None):
        # y_true is ignored; it is often None (datasets of features only),
        # which Keras' Loss.__call__ would try to convert to a tensor.
        return super().__call__(0.0, y_pred, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update({"chunk_size": self.chunk_size})
        return config

    # === Inputs ===

    def _pair(self, y_pred):
        """Returns `(first, second, outputs)` from `y_pred`, validated.

        `first`/`second` are float32 `(batch, dim)` embeddings (image/text or
        anchor/positive); `outputs` is the dict `y_pred` (empty for tensor
        and tuple inputs).
        """
        if isinstance(y_pred, dict):
            for key in (IMAGE_KEY, TEXT_KEY):
                if key not in y_pred:
                    raise ValueError(
                        f"y_pred must be a dict with the keys '{IMAGE_KEY}' "
                        f"and '{TEXT_KEY}'. Missing: '{key}'. Received: "
                        f"y_pred keys={sorted(y_pred)}"
                    )
            first, second = y_pred[IMAGE_KEY], y_pred[TEXT_KEY]
            names = (IMAGE_KEY, TEXT_KEY)
            outputs = y_pred
        elif self.accepts_pairs and isinstance(y_pred, (list, tuple)):
            if len(y_pred) != 2:
                raise ValueError(
                    "y_pred as a tuple must hold 2 tensors (anchors, "
                    f"positives). Received: len(y_pred)={len(y_pred)}"
                )
            first, second = y_pred
            names = ("anchors", "positives")
            outputs = {}
        elif self.accepts_pairs:
            y_pred = ops.convert_to_tensor(y_pred)
            shape = tuple(y_pred.shape)
            if len(shape) != 3 or shape[1] != 2:
                raise ValueError(
                    "y_pred as a tensor must have shape (batch, 2, dim): "
                    "anchors at [:, 0], positives at [:, 1]. Received: "
                    f"y_pred.shape={shape}"
                )
            first, second = y_pred[:, 0], y_pred[:, 1]
            names = ("anchors", "positives")
            outputs = {}
        else:
            raise ValueError(
                f"{self.__class__.__name__} expects y_pred to be a dict with "
                f"the keys '{IMAGE_KEY}', '{TEXT_KEY}' and '{SCALE_KEY}'. "
                f"Received: y_pred of type {type(y_pred).__name__}"
            )
        first = ops.cast(first, "float32")
        second = ops.cast(second, "float32")
        _check_pair(first, second, names)
        return first, second, outputs

    def _required(self, outputs, key):
        if key not in outputs:
            raise ValueError(
                f"{self.__class__.__name__} needs y_pred['{key}']. "
                f"Received: y_pred keys={sorted(outputs)}"
            )
        # A functional model may broadcast the scalar over the batch.
        return ops.mean(ops.cast(outputs[key], "float32"))

    def _check_global_batch(self, all_keys, softmax=False):
        """Refuses an empty global batch; with `softmax`, warns (once per
        loss object) on a batch of 1, whose only logit is its positive.

        Only batch sizes known when the loss is traced or run are checked:
        always on JAX and eagerly; inside a TensorFlow graph only when the
        dataset's batch dimension is static (`drop_remainder=True`).
        """
        size = static_size(ops.shape(all_keys)[0])
        name = type(self).__name__
        if size == 0:
            raise ValueError(
                f"{name} got an empty batch: there is no pair to contrast. "
                "Received: y_pred with batch size 0"
            )
        if size == 1 and softmax and not self._warned_batch_of_one:
            self._warned_batch_of_one = True
            warnings.warn(
                f"{name} got a (global) batch of 1: with no negatives the loss "
                "is 0 and nothing is learned. Train with batches of at least 2.",
                stacklevel=2,
            )

    # === Math ===

    def _softmax_rows(self, queries, keys, scale):
        """Cross-entropy of each local query row against the global keys.

        Gathers `keys` across replicas; row `i`'s positive is global key
        `offset + i`. Returns per-row losses `(local_batch,)`.
        """
        all_keys, offset = all_gather(keys)
        self._check_global_batch(all_keys, softmax=True)
        positive_logits = scale * positive_dots(queries, all_keys, offset)
        lse = row_reduce(queries, all_keys, scale, ops.zeros(()),
                         "logsumexp", self.chunk_size)
        return lse - positive_logits


def positive_dots(queries, all_keys, offset):
    """`<queries[i], all_keys[offset + i]>` for each local row `i`."""
    positions = offset + ops.arange(ops.shape(queries)[0], dtype="int32")
    positives = ops.take(all_keys, positions, axis=0)
    return ops.sum(queries * positives, axis=1)


def _check_pair(first, second, names):
    # Static shapes: unknown dimensions are None and are not checked.
    first_shape = tuple(first.shape)
    second_shape = tuple(second.shape)
    for name, shape in zip(names, (first_shape, second_shape)):
        if len(shape) != 2:
            raise ValueError(
                f"{name} must be a 2D tensor (batch, dim). "
                f"Received: {name}.shape={shape}"
            )
    received = (
        f"Received: {names[0]}.shape={first_shape}, "
        f"{names[1]}.shape={second_shape}"
    )
    if None not in (first_shape[1], second_shape[1]) and (
        first_shape[1] != second_shape[1]
    ):
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same width. {received}"
        )
    if None not in (first_shape[0], second_shape[0]) and (
        first_shape[0] != second_shape[0]
    ):
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same batch size. "
            f"{received}"
        )


def clip_scale(logit_scale):
    """`exp(logit_scale)`, `logit_scale` clamped to `[LOGIT_SCALE_MIN,
    LOGIT_SCALE_MAX]` = `[0, ln 100]` (open_clip's range): the one clamp
    `kerasmm.losses.CLIPLoss` and `kerasmm.models.CLIP` share."""
    return ops.exp(ops.clip(logit_scale, LOGIT_SCALE_MIN, LOGIT_SCALE_MAX))
