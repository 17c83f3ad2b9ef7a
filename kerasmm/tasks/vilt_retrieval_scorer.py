"""`ViLTRetrievalScorer`: one image-text matching score from a fusion backbone."""

import keras

from kerasmm.tasks.fusion_task import FusionTask


@keras.saving.register_keras_serializable(package="kerasmm")
class ViLTRetrievalScorer(FusionTask):
    """How well a text matches an image: a Dense to one logit on the
    backbone's `"pooled_output"` (Hugging Face's
    `ViltForImageAndTextRetrieval`, its `rank_output`). Scores compare
    across candidates: rank the images for a text (or texts for an image)
    by it. `ViLTRetrievalScorer.from_preset("vilt_b32_coco_retrieval")`
    loads ViLT's.

    Args:
        backbone: a fusion model (`kerasmm.models.ViLT`, ...).

    Returns:
        float32 logits `(B, 1)`.

    Example:
    >>> from kerasmm.models import ViLT
    >>> model = ViLTRetrievalScorer(ViLT(vocabulary_size=50, image_size=32,
    ...     patch_size=16, hidden_dim=8, num_layers=1, num_heads=2, max_sequence_length=6))
    >>> tuple(model({"images": np.zeros((2, 32, 32, 3), "float32"),
    ...              "token_ids": np.array([[1, 5, 2], [1, 2, 0]])}).shape)
    (2, 1)
    """

    def __init__(self, backbone, **kwargs):
        super().__init__(backbone, **kwargs)
        self.rank_output = keras.layers.Dense(1, name="rank_output", dtype=self.dtype_policy)
        self.rank_output.build((None, backbone.hidden_dim))
        self.built = True

    def call(self, inputs, training=None):
        pooled = self.backbone(inputs, training=training)["pooled_output"]
        return keras.ops.cast(self.rank_output(pooled), "float32")
