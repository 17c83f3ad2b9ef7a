"""Noise-contrastive estimation with in-batch noise samples."""

import keras
from keras import ops

from kerasmm.distribute import all_gather
from kerasmm.losses.chunked_logits import row_sum
from kerasmm.losses.contrastive_loss import ContrastiveLoss
from kerasmm.losses.contrastive_loss import positive_dots
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.tensor_checks import check_batch_at_least


@keras.saving.register_keras_serializable(package="kerasmm")
class NCELoss(ContrastiveLoss):
    """Noise-contrastive estimation (Gutmann & Hyvarinen, 2010).

    NCE fits an unnormalised model `exp(s(a, p))` of how well positive `p`
    goes with anchor `a` by logistic discrimination of the true pair against
    `k = num_noise_samples` noise pairs. Here the score is
    `s(a, p) = <a, p> / temperature` and the noise distribution `q` is
    uniform over the *other* items of the global batch, `q = 1 / (B - 1)`
    for a global batch of `B` pairs. The classifier's logit for a pair is
    `s - log(k * q)`, so the loss of anchor `i` is

        loss_i = softplus(-(s(a_i, p_i) - log(k q)))
                 + sum_{m=1..k} softplus(s(a_i, p_{n_im}) - log(k q))

    i.e. `-log h(true pair) - sum_m log(1 - h(noise pair m))` with
    `h = sigmoid(logit)`: the sample version of the NCE objective
    `J = E_data[log h] + k E_q[log(1 - h)]`.

    Noise indices `n_im` are drawn with replacement, uniformly among the
    global batch minus `i`: `n_im = (i + d_im) mod B` with offsets `d_im`
    uniform in `[1, B - 1]`, drawn statelessly from `seed` (so the loss is
    a deterministic function of its inputs and `seed`; batches are shuffled,
    so the noise pairs still change every step). The offsets are drawn for
    the whole global batch and each replica takes its own rows, so the loss
    equals one device on the global batch. See `noise_indices`.
    `y_true` is ignored.

    Args:
        num_noise_samples: positive int `k`, noise samples per true pair.
        temperature: positive float, fixed.
        normalize: bool, L2-normalise anchors and positives first.
        seed: non-negative int seed of the noise draw.
        name: optional name of the loss.
        reduction: Keras reduction; keep the default for the global-batch
            guarantee.

    Call arguments:
        y_true: ignored (may be `None`).
        y_pred: a `(batch, 2, dim)` tensor (anchors at `[:, 0]`, positives
            at `[:, 1]`), a 2-tuple `(anchors, positives)`, or a CLIP output
            dict (anchors are `"image_embeddings"`, positives
            `"text_embeddings"`; `"logit_scale"` is ignored).

    Example:

    >>> pairs = np.random.default_rng(0).normal(size=(8, 2, 16)).astype("float32")
    >>> loss = kerasmm.losses.NCELoss(num_noise_samples=4)(None, pairs)
    >>> tuple(loss.shape), bool(np.isfinite(loss)) and float(loss) > 0
    ((), True)

    Reference:
        - [Gutmann & Hyvarinen, 2010](
          https://proceedings.mlr.press/v9/gutmann10a.html)
    """

    accepts_pairs = True

    def __init__(self, num_noise_samples, temperature=0.1, normalize=True,
                 seed=0, name=None, reduction="sum_over_batch_size"):
        super().__init__(chunk_size=None, name=name, reduction=reduction)
        self.num_noise_samples = check_positive_int("num_noise_samples", num_noise_samples)
        self.temperature = check_number("temperature", temperature, minimum=0,
                                        exclusive_minimum=True)
        self.normalize = check_bool("normalize", normalize)
        self.seed = check_int("seed", seed, minimum=0)

    def noise_indices(self, global_batch_size):
        """Noise item indices `(global_batch_size, num_noise_samples)`.

        Row `i` holds indices uniform over `{0..B-1} \\ {i}`, drawn with
        replacement; the same `seed` and batch size give the same indices.
        """
        offsets = keras.random.randint(
            (global_batch_size, self.num_noise_samples),
            minval=1,
            maxval=global_batch_size,
            dtype="int32",
            seed=self.seed,
        )
        rows = ops.arange(global_batch_size, dtype="int32")[:, None]
        return (rows + offsets) % global_batch_size

    def call(self, y_true, y_pred):
        anchors, positives, _ = self._pair(y_pred)
        if self.normalize:
            anchors = ops.normalize(anchors, axis=-1)
            positives = ops.normalize(positives, axis=-1)
        all_positives, offset = all_gather(positives)
        self._check_global_batch(all_positives)
        # Also inside a graph whose batch size is known only when it runs.
        global_batch_size = check_batch_at_least(
            "global batch size", ops.shape(all_positives)[0], 2,
            "NCELoss draws its noise from the other items of the batch")
        rows = offset + ops.arange(ops.shape(anchors)[0], dtype="int32")
        noise = ops.take(self.noise_indices(global_batch_size), rows, axis=0)
        noise_embeddings = ops.take(all_positives, noise, axis=0)

        positive_scores = positive_dots(anchors, all_positives, offset)
        noise_scores = ops.einsum("bd,bkd->bk", anchors, noise_embeddings)
        log_kq = ops.log(
            self.num_noise_samples
            / (ops.cast(global_batch_size, "float32") - 1.0)
        )
        positive_logits = positive_scores / self.temperature - log_kq
        noise_logits = noise_scores / self.temperature - log_kq
        # `row_sum`, not ops.sum: XLA may fuse the row sums into the batch
        # mean and lose small terms (see `chunked_logits.row_sum`).
        return ops.softplus(-positive_logits) + row_sum(ops.softplus(noise_logits))

    def get_config(self):
        config = super().get_config()
        del config["chunk_size"]
        config.update(
            {
                "num_noise_samples": self.num_noise_samples,
                "temperature": self.temperature,
                "normalize": self.normalize,
                "seed": self.seed,
            }
        )
        return config
