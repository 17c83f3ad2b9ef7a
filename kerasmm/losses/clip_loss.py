"""CLIP's symmetric softmax contrastive loss over the global batch."""

import keras

from kerasmm.losses.contrastive_loss import SCALE_KEY
from kerasmm.losses.contrastive_loss import ContrastiveLoss
from kerasmm.losses.contrastive_loss import clip_scale


@keras.saving.register_keras_serializable(package="kerasmm")
class CLIPLoss(ContrastiveLoss):
    """Symmetric cross-entropy over `exp(logit_scale) * img @ txt.T`.

    With `s = exp(min(logit_scale, log(100)))` and logits
    `z = s * image_embeddings @ text_embeddings.T` over the global batch,
    the loss of example `i` is

        (CE(z[i, :], i) + CE(z.T[i, :], i)) / 2

    where `CE(row, i) = logsumexp(row) - row[i]`: image `i` must pick its
    text among all texts and text `i` its image among all images. The mean
    over examples equals the CLIP paper's
    `(mean CE image->text + mean CE text->image) / 2`. Under a distribution
    strategy each replica computes its own images' rows against the gathered
    texts and its own texts' rows against the gathered images (open_clip's
    `local_loss` with `gather_with_grad`), so the result equals one device
    on the global batch. `y_true` is ignored.

    Args:
        chunk_size: `None` or a positive int; compute the logit rows
            `chunk_size` columns at a time (peak memory
            `local_batch * chunk_size`), with the same value and gradient.
        name: optional name of the loss.
        reduction: Keras reduction; keep the default for the global-batch
            guarantee.

    Call arguments:
        y_true: ignored (may be `None`).
        y_pred: dict with `"image_embeddings"` `(batch, dim)`,
            `"text_embeddings"` `(batch, dim)` (normally L2-normalised) and
            `"logit_scale"` (scalar, the log of the inverse temperature).

    Example:

    >>> outputs = {
    ...     "image_embeddings": np.eye(4, 8, dtype="float32"),
    ...     "text_embeddings": np.eye(4, 8, dtype="float32"),
    ...     "logit_scale": np.float32(np.log(1 / 0.07)),
    ... }
    >>> # Matching pairs at cosine 1, others at 0: loss = log(1 + 3 exp(-1/0.07)).
    >>> loss = kerasmm.losses.CLIPLoss()(None, outputs)
    >>> bool(abs(float(loss) - np.log1p(3 * np.exp(-1 / 0.07))) < 1e-6)
    True

    Reference:
        - [Radford et al., 2021](https://arxiv.org/abs/2103.00020)
        - [open_clip `ClipLoss`](https://github.com/mlfoundations/open_clip)
    """

    def call(self, y_true, y_pred):
        images, texts, outputs = self._pair(y_pred)
        scale = clip_scale(self._required(outputs, SCALE_KEY))
        image_to_text = self._softmax_rows(images, texts, scale)
        text_to_image = self._softmax_rows(texts, images, scale)
        return (image_to_text + text_to_image) / 2.0
