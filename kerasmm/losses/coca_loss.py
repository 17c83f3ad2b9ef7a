"""CoCa's loss: CLIP's contrastive loss plus a captioning cross-entropy."""

import keras
from keras import ops

from kerasmm.distribute import all_gather
from kerasmm.losses.clip_loss import CLIPLoss
from kerasmm.utils.checks import check_number

LOGITS_KEY = "caption_logits"
LABELS_KEY = "caption_labels"
MASK_KEY = "caption_mask"


@keras.saving.register_keras_serializable(package="kerasmm")
class CoCaLoss(CLIPLoss):
    """`contrastive_loss_weight * CLIPLoss + caption_loss_weight * caption CE`.

    As open_clip's `CoCaLoss`. The contrastive part is `CLIPLoss` (its
    global-batch gathering under a distribution strategy included). The
    captioning part is the mean token cross-entropy of `caption_logits`
    against `caption_labels` over the tokens where `caption_mask` is True
    (padding is left out), averaged over the tokens of the *global* batch:
    each replica's rows are scaled by the gathered token count, so N
    replicas give the loss of one device on the whole batch (open_clip
    instead averages each worker's token mean). `y_true` is ignored.

    Args:
        caption_loss_weight: float >= 0.
        contrastive_loss_weight: float >= 0.
        chunk_size: see `CLIPLoss`.
        name, reduction: as `keras.losses.Loss`.

    Call arguments:
        y_true: ignored.
        y_pred: dict with CLIP's `"image_embeddings"`, `"text_embeddings"`,
            `"logit_scale"`, and `"caption_logits"` `(B, T, V)`,
            `"caption_labels"` int `(B, T)`, `"caption_mask"` bool `(B, T)`
            (what `kerasmm.models.CoCa` returns).

    Example:
    >>> outputs = {"image_embeddings": np.eye(2, 4, dtype="float32"),
    ...            "text_embeddings": np.eye(2, 4, dtype="float32"),
    ...            "logit_scale": np.float32(0.0),
    ...            "caption_logits": np.zeros((2, 3, 5), "float32"),
    ...            "caption_labels": np.ones((2, 3), "int32"),
    ...            "caption_mask": np.array([[1, 1, 0], [1, 0, 0]], bool)}
    >>> loss = kerasmm.losses.CoCaLoss(caption_loss_weight=2.0)(None, outputs)
    >>> # Uniform logits: caption CE = log 5; scale 1, cosines I: CLIP CE = log(1 + 1/e).
    >>> clip = np.log(1 + np.exp(-1.0))
    >>> bool(abs(float(loss) - (clip + 2 * np.log(5))) < 1e-5)
    True

    Reference:
        Yu et al., "CoCa: Contrastive Captioners are Image-Text Foundation
        Models", 2022; open_clip `loss.py: CoCaLoss`.
    """

    def __init__(self, caption_loss_weight=2.0, contrastive_loss_weight=1.0, chunk_size=None,
                 name=None, reduction="sum_over_batch_size"):
        super().__init__(chunk_size=chunk_size, name=name, reduction=reduction)
        self.caption_loss_weight = check_number(
            "caption_loss_weight", caption_loss_weight, minimum=0.0)
        self.contrastive_loss_weight = check_number(
            "contrastive_loss_weight", contrastive_loss_weight, minimum=0.0)

    def call(self, y_true, y_pred):
        contrastive = super().call(y_true, y_pred)
        return (self.contrastive_loss_weight * contrastive
                + self.caption_loss_weight * self._caption_rows(y_pred))

    def _caption_rows(self, outputs):
        """Per-row token CE sums, scaled so their global-batch mean is the token mean."""
        logits = ops.cast(self._required_tensor(outputs, LOGITS_KEY), "float32")
        labels = ops.cast(self._required_tensor(outputs, LABELS_KEY), "int32")
        mask = ops.cast(self._required_tensor(outputs, MASK_KEY), "float32")
        target = ops.take_along_axis(logits, labels[:, :, None], axis=-1)[:, :, 0]
        token_losses = ops.logsumexp(logits, axis=-1) - target
        row_sums = ops.sum(token_losses * mask, axis=1)
        counts, _ = all_gather(ops.sum(mask, axis=1))
        global_batch = ops.cast(ops.shape(counts)[0], "float32")
        return row_sums * global_batch / ops.maximum(ops.sum(counts), 1.0)

    def _required_tensor(self, outputs, key):
        if key not in outputs:
            raise ValueError(
                f"CoCaLoss needs y_pred['{key}'] (a kerasmm.models.CoCa output). "
                f"Received: y_pred keys={sorted(outputs)}")
        return outputs[key]

    def get_config(self):
        config = super().get_config()
        config.update({"caption_loss_weight": self.caption_loss_weight,
                       "contrastive_loss_weight": self.contrastive_loss_weight})
        return config
