"""SigLIP's pairwise sigmoid loss over the global batch."""

import keras
from keras import ops

from kerasmm.distribute import all_gather
from kerasmm.losses.chunked_logits import row_reduce
from kerasmm.losses.chunked_logits import row_sum
from kerasmm.losses.contrastive_loss import BIAS_KEY
from kerasmm.losses.contrastive_loss import SCALE_KEY
from kerasmm.losses.contrastive_loss import ContrastiveLoss
from kerasmm.losses.contrastive_loss import positive_dots


@keras.saving.register_keras_serializable(package="kerasmm")
class SigLIPLoss(ContrastiveLoss):
    """Pairwise sigmoid loss with a learnable temperature and bias.

    With logits `z = exp(logit_scale) * img @ txt.T + logit_bias` over the
    global batch and labels `y_ij = +1` for `i == j`, `-1` otherwise, the
    loss of image `i` is the sum over *all* texts of the global batch

        loss_i = -sum_j log_sigmoid(y_ij * z_ij)

    and the batch loss is the mean over images: exactly big_vision's
    `mean(-sum(log_sigmoid(m1_diag1 * logits), axis=-1))`, which is the
    paper's `-sum(log_sigmoid(labels * logits)) / n`. Each replica computes
    its own images' rows against the gathered texts, so the result equals
    one device on the global batch.

    The learnable `logit_scale` (init `log(10)`) and `logit_bias` (init -10)
    live in the model, not in the loss; `logit_scale` is not clamped (as in
    big_vision). `y_true` is ignored.

    Args:
        chunk_size: `None` or a positive int; compute the rows `chunk_size`
            columns at a time (peak memory `local_batch * chunk_size`), with
            the same value and gradient.
        name: optional name of the loss.
        reduction: Keras reduction; keep the default for the global-batch
            guarantee.

    Call arguments:
        y_true: ignored (may be `None`).
        y_pred: dict with `"image_embeddings"` `(batch, dim)`,
            `"text_embeddings"` `(batch, dim)`, `"logit_scale"` (scalar log
            temperature) and `"logit_bias"` (scalar).

    Example:

    >>> outputs = {
    ...     "image_embeddings": np.eye(4, 8, dtype="float32"),
    ...     "text_embeddings": np.eye(4, 8, dtype="float32"),
    ...     "logit_scale": np.float32(np.log(10.0)),
    ...     "logit_bias": np.float32(-10.0),
    ... }
    >>> loss = kerasmm.losses.SigLIPLoss()(None, outputs)
    >>> # Positives at logit 0 (log 2 each), negatives at -10 (about 4.5e-5 each):
    >>> bool(round(float(loss), 4) == round(np.log(2) + 3 * np.log1p(np.exp(-10.0)), 4))
    True

    Reference:
        - [Zhai et al., 2023](https://arxiv.org/abs/2303.15343)
        - [big_vision `siglip.py`](https://github.com/google-research/big_vision)
    """

    def call(self, y_true, y_pred):
        images, texts, outputs = self._pair(y_pred)
        if BIAS_KEY not in outputs:
            raise ValueError(
                "SigLIPLoss needs y_pred['logit_bias']: build the model with "
                "a learnable bias (init -10) next to logit_scale (init "
                f"log(10)). Received: y_pred keys={sorted(outputs)}"
            )
        scale = ops.exp(self._required(outputs, SCALE_KEY))
        bias = self._required(outputs, BIAS_KEY)
        all_texts, offset = all_gather(texts)
        self._check_global_batch(all_texts)
        if self.chunk_size is None:
            logits = scale * ops.matmul(images, ops.transpose(all_texts)) + bias
            rows = offset + ops.arange(ops.shape(images)[0], dtype="int32")
            labels = 2.0 * ops.one_hot(rows, ops.shape(all_texts)[0]) - 1.0
            # -log_sigmoid(x) = softplus(-x); `row_sum`, not ops.sum: see there.
            return row_sum(ops.softplus(-labels * logits))
        # -sum_j log_sigmoid(y_ij z_ij) = sum_j softplus(z_ij) - z_ii, since
        # softplus(-z) - softplus(z) = -z: negatives need no labels.
        positives = positive_dots(images, all_texts, offset)
        positive_logits = scale * positives + bias
        negatives = row_reduce(images, all_texts, scale, bias, "softplus",
                               self.chunk_size)
        return negatives - positive_logits
