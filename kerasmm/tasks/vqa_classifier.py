"""`VQAClassifier`: logits over an answer vocabulary from a fusion backbone."""

import keras

from kerasmm.tasks.classifier_head import ClassifierHead
from kerasmm.tasks.fusion_task import FusionTask
from kerasmm.utils.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasmm")
class VQAClassifier(FusionTask):
    """Visual question answering as classification over `num_answers`.

    A `ClassifierHead` (width `2 * backbone.hidden_dim`) on the backbone's
    `"pooled_output"`, as Hugging Face's `ViltForQuestionAnswering`. Train
    with sparse categorical cross-entropy (one answer, `from_logits=True`)
    or, as VQA v2, with `kerasmm.losses.VQASoftScoreLoss()`: binary
    cross-entropy on the soft scores `min(1, count / 3)` of per-answer
    annotator counts `(B, num_answers)`.
    `VQAClassifier.from_preset("vilt_b32_vqa")` (or a Hugging Face
    `ViltForQuestionAnswering` directory) loads ViLT's.

    Args:
        backbone: a fusion model (`kerasmm.models.ViLT`, ...).
        num_answers: int, size of the answer vocabulary.

    Call arguments:
        inputs: what the backbone takes (ViLT: `"images"`, `"token_ids"`,
            optional `"padding_mask"`, `"pixel_mask"`).

    Returns:
        float32 logits `(B, num_answers)`.

    Example:
    >>> from kerasmm.models import ViLT
    >>> model = VQAClassifier(ViLT(vocabulary_size=50, image_size=32, patch_size=16,
    ...     hidden_dim=8, num_layers=1, num_heads=2, max_sequence_length=6), num_answers=5)
    >>> tuple(model({"images": np.zeros((2, 32, 32, 3), "float32"),
    ...              "token_ids": np.array([[1, 5, 2], [1, 2, 0]])}).shape)
    (2, 5)
    """

    def __init__(self, backbone, num_answers, **kwargs):
        super().__init__(backbone, **kwargs)
        self.num_answers = check_positive_int("num_answers", num_answers)
        self.classifier = ClassifierHead(2 * backbone.hidden_dim, num_answers,
                                         name="classifier", dtype=self.dtype_policy)
        self.classifier.build((None, backbone.hidden_dim))
        self.built = True

    def call(self, inputs, training=None):
        return self.classifier(self.backbone(inputs, training=training)["pooled_output"])

    def get_config(self):
        return {**super().get_config(), "num_answers": self.num_answers}
