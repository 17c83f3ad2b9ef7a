"""`MultimodalClassifier`: classes of one or more images with a text."""

import keras
from keras import ops

from kerasmm.tasks.classifier_head import ClassifierHead
from kerasmm.tasks.fusion_task import FusionTask
from kerasmm.utils.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasmm")
class MultimodalClassifier(FusionTask):
    """Classification of a text with `num_images` images (sentiment, NLVR2).

    With several images the backbone runs once per image, image `i` with
    modality type `i + 1`, and the pooled outputs are concatenated, as
    Hugging Face's `ViltForImagesAndTextClassification`; a `ClassifierHead`
    (width `num_images * backbone.hidden_dim`) gives the logits.
    `MultimodalClassifier.from_preset("vilt_b32_nlvr2")` loads ViLT's.

    Args:
        backbone: a fusion model (`kerasmm.models.ViLT`, ...); for
            `num_images > 1` its call takes `image_token_type`.
        num_classes: int, number of classes.
        num_images: int, images per example.

    Call arguments:
        inputs: what the backbone takes; for `num_images > 1`, `"images"`
            is `(B, num_images, H, W, 3)` and an optional `"pixel_mask"`
            `(B, num_images, H, W)`.

    Returns:
        float32 logits `(B, num_classes)`.

    Example:
    >>> from kerasmm.models import ViLT
    >>> model = MultimodalClassifier(ViLT(vocabulary_size=50, image_size=32,
    ...     patch_size=16, hidden_dim=8, num_layers=1, num_heads=2, max_sequence_length=6,
    ...     modality_type_vocabulary_size=3), num_classes=2, num_images=2)
    >>> tuple(model({"images": np.zeros((2, 2, 32, 32, 3), "float32"),
    ...              "token_ids": np.array([[1, 5, 2], [1, 2, 0]])}).shape)
    (2, 2)
    """

    def __init__(self, backbone, num_classes, num_images=1, **kwargs):
        super().__init__(backbone, **kwargs)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.num_images = check_positive_int("num_images", num_images)
        width = num_images * backbone.hidden_dim
        self.classifier = ClassifierHead(width, num_classes, name="classifier",
                                         dtype=self.dtype_policy)
        self.classifier.build((None, width))
        self.built = True

    def _pooled(self, inputs, training):
        if self.num_images == 1:
            return self.backbone(inputs, training=training)["pooled_output"]
        images = inputs["images"]
        if len(images.shape) != 5 or images.shape[1] != self.num_images:
            raise ValueError(
                f"images must have shape (batch, num_images={self.num_images}, height, "
                f"width, 3). Received: images with shape {tuple(images.shape)}")
        pixel_mask = inputs.get("pixel_mask")
        pooled = []
        for i in range(self.num_images):
            single = {**inputs, "images": images[:, i]}
            if pixel_mask is not None:
                single["pixel_mask"] = pixel_mask[:, i]
            outputs = self.backbone(single, image_token_type=i + 1, training=training)
            pooled.append(outputs["pooled_output"])
        return ops.concatenate(pooled, axis=-1)

    def call(self, inputs, training=None):
        return self.classifier(self._pooled(inputs, training))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "num_images": self.num_images}
