"""Perceiver IO label adapter: a class vector as a one-position input."""

import keras
from keras import ops

from kerasmm.utils.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasmm")
class LabelAdapter(keras.layers.Layer):
    """A `(B, num_classes)` label vector as a `(B, 1, num_classes)` input array.

    Hugging Face's `PerceiverOneHotPreprocessor`: the label modality of the
    multimodal autoencoder (one-hot labels, or zeros when the label is
    unknown). No weights, no positions.

    Args:
        num_classes: length of the label vector.

    Call arguments:
        labels: float `(B, num_classes)`.

    Returns:
        `{"features": (B, 1, num_classes)}`.

    Example:
    >>> tuple(LabelAdapter(num_classes=5)(keras.ops.eye(5)[:2])["features"].shape)
    (2, 1, 5)
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("num_classes", num_classes)
        self.num_classes = num_classes

    @property
    def output_dim(self):
        return self.num_classes

    def _check(self, shape):
        if len(shape) != 2 or shape[1] != self.num_classes:
            raise ValueError(
                "labels must have shape (batch, num_classes). Received: "
                f"num_classes={self.num_classes}, labels with shape {tuple(shape)}"
            )

    def build(self, input_shape):
        self._check(input_shape)

    def call(self, labels):
        self._check(labels.shape)
        return {"features": ops.cast(labels, self.compute_dtype)[:, None, :]}

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return {"features": (input_shape[0], 1, self.num_classes)}

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config
