"""VQA v2's soft-score loss: binary cross-entropy on `min(1, count / 3)`."""

import keras
from keras import ops

from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_number


def vqa_soft_scores(answer_counts, full_credit_count=3):
    """VQA v2's soft target of each answer: `min(1, count / full_credit_count)`.

    `answer_counts` `(..., num_answers)` is how many of the annotators (10
    in VQA v2) gave each answer.

    >>> scores = vqa_soft_scores(np.array([[0.0, 1.0, 2.0, 3.0, 7.0]]))
    >>> [round(float(x), 3) for x in ops.convert_to_numpy(scores)[0]]
    [0.0, 0.333, 0.667, 1.0, 1.0]
    """
    counts = ops.cast(answer_counts, "float32")
    return ops.minimum(1.0, counts / float(full_credit_count))


@keras.saving.register_keras_serializable(package="kerasmm")
class VQASoftScoreLoss(keras.losses.Loss):
    """Binary cross-entropy of answer logits against VQA v2's soft scores.

    Each of the `num_answers` logits is an independent sigmoid whose target
    is `min(1, count / 3)` (`vqa_soft_scores`); the loss of an example is
    the *sum* over answers of the element-wise binary cross-entropy (as
    ViLT and bottom-up-attention: the mean times `num_answers`), and the
    batch loss the mean over examples.

    Args:
        from_counts: bool; `y_true` holds annotator counts per answer (True)
            or the soft scores themselves, in [0, 1] (False).
        full_credit_count: number > 0 of annotators that give full credit (3).
        name, reduction, dtype: as `keras.losses.Loss`.

    Call arguments:
        y_true: float `(B, num_answers)`, counts or soft scores.
        y_pred: float `(B, num_answers)` logits (`VQAClassifier`'s output).

    Example:
    >>> loss = VQASoftScoreLoss()
    >>> counts = np.array([[3.0, 0.0]])
    >>> logits = np.array([[0.0, 0.0]], "float32")
    >>> round(float(loss(counts, logits)), 4), round(2 * float(np.log(2)), 4)
    (1.3863, 1.3863)
    """

    def __init__(self, from_counts=True, full_credit_count=3, name="vqa_soft_score_loss",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_counts = check_bool("from_counts", from_counts)
        self.full_credit_count = check_number("full_credit_count", full_credit_count,
                                              minimum=0, exclusive_minimum=True)

    def call(self, y_true, y_pred):
        logits = ops.cast(y_pred, "float32")
        if self.from_counts:
            targets = vqa_soft_scores(y_true, self.full_credit_count)
        else:
            targets = ops.cast(y_true, "float32")
        # log(1 + exp(-|z|)) + max(z, 0) - z * t: the stable form of BCE on logits.
        elementwise = ops.softplus(-ops.abs(logits)) + ops.relu(logits) - logits * targets
        return ops.sum(elementwise, axis=-1)

    def get_config(self):
        return {**super().get_config(), "from_counts": self.from_counts,
                "full_credit_count": self.full_credit_count}
