"""InfoNCE: softmax contrastive loss with a fixed temperature."""

import keras
from keras import ops

from kerasmm.losses.contrastive_loss import ContrastiveLoss
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_number


@keras.saving.register_keras_serializable(package="kerasmm")
class InfoNCE(ContrastiveLoss):
    """InfoNCE loss of anchors against the positives of the global batch.

    With (optionally L2-normalised) anchors `a`, positives `p` and logits
    `z = a @ p.T / temperature` over the global batch, the loss of anchor
    `i` is the cross-entropy of picking its own positive among all
    positives:

        loss_i = logsumexp_j(z_ij) - z_ii

    (one direction, anchor -> positive, as in CPC and SimCLR's NT-Xent
    without the anchor-anchor negatives). With `symmetric=True` the loss is
    `(CE anchor->positive + CE positive->anchor) / 2`, i.e. CLIP's loss
    with a fixed temperature. Each replica computes its own anchors' rows
    against the gathered positives, so the result equals one device on the
    global batch. `y_true` is ignored.

    Args:
        temperature: positive float, fixed (not learned).
        symmetric: bool, also use the positive -> anchor direction.
        normalize: bool, L2-normalise anchors and positives first (cosine
            similarity, as SimCLR). Harmless on already normalised inputs.
        chunk_size: `None` or a positive int; compute the rows `chunk_size`
            columns at a time, with the same value and gradient.
        name: optional name of the loss.
        reduction: Keras reduction; keep the default for the global-batch
            guarantee.

    Call arguments:
        y_true: ignored (may be `None`).
        y_pred: one of a `(batch, 2, dim)` tensor (anchors at `[:, 0]`,
            positives at `[:, 1]`: works with `compile(loss=InfoNCE())` on
            any single-output model), a 2-tuple `(anchors, positives)`, or
            a CLIP output dict (anchors are `"image_embeddings"`, positives
            `"text_embeddings"`; `"logit_scale"` is ignored).

    Example:

    >>> pairs = np.random.default_rng(0).normal(size=(8, 2, 16)).astype("float32")
    >>> loss = kerasmm.losses.InfoNCE(temperature=0.1)(None, pairs)
    >>> bool(float(loss) > 0)
    True
    >>> aligned = np.stack([np.eye(8, 16), np.eye(8, 16)], axis=1).astype("float32")
    >>> float(kerasmm.losses.InfoNCE(temperature=0.1)(None, aligned)) < 1e-3
    True

    Reference:
        - [van den Oord et al., 2018](https://arxiv.org/abs/1807.03748)
        - [Chen et al., 2020 (SimCLR)](https://arxiv.org/abs/2002.05709)
    """

    accepts_pairs = True

    def __init__(self, temperature=0.1, symmetric=False, normalize=True,
                 chunk_size=None, name=None,
                 reduction="sum_over_batch_size"):
        super().__init__(chunk_size=chunk_size, name=name,
                         reduction=reduction)
        self.temperature = check_number("temperature", temperature, minimum=0,
                                        exclusive_minimum=True)
        self.symmetric = check_bool("symmetric", symmetric)
        self.normalize = check_bool("normalize", normalize)

    def call(self, y_true, y_pred):
        anchors, positives, _ = self._pair(y_pred)
        if self.normalize:
            anchors = ops.normalize(anchors, axis=-1)
            positives = ops.normalize(positives, axis=-1)
        scale = ops.convert_to_tensor(1.0 / self.temperature, "float32")
        loss = self._softmax_rows(anchors, positives, scale)
        if self.symmetric:
            loss = (loss + self._softmax_rows(positives, anchors, scale)) / 2.0
        return loss

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "temperature": self.temperature,
                "symmetric": self.symmetric,
                "normalize": self.normalize,
            }
        )
        return config
