"""`ViLTMaskedLM`: word logits at every text position (ViLT's MLM head)."""

import keras
from keras import ops

from kerasmm.layers import get_activation
from kerasmm.tasks.fusion_task import FusionTask
from kerasmm.utils.checks import check_bool


@keras.saving.register_keras_serializable(package="kerasmm")
class ViLTMaskedLM(FusionTask):
    """Masked language modelling on a fusion backbone with a word embedding.

    As Hugging Face's `ViltForMaskedLM`: the text part of the backbone's
    `"sequence_output"` goes through a transform (dense, the backbone's
    activation, LayerNorm) and a decoder to the vocabulary, whose weight is
    the backbone's word embedding transposed (`tie_weights=True`, as
    Hugging Face ties them) or its own, plus a bias.
    `ViLTMaskedLM.from_preset("vilt_b32_mlm")` loads ViLT's.

    Args:
        backbone: `kerasmm.models.ViLT` (or a backbone with
            `token_embedding`, `vocabulary_size`, `activation` and
            `layer_norm_epsilon`), text tokens first in its sequence.
        tie_weights: bool, decode with the word embedding.

    Returns:
        float32 logits `(B, L, vocabulary_size)` for the `L` text tokens.

    Example:
    >>> from kerasmm.models import ViLT
    >>> model = ViLTMaskedLM(ViLT(vocabulary_size=50, image_size=32, patch_size=16,
    ...     hidden_dim=8, num_layers=1, num_heads=2, max_sequence_length=6))
    >>> tuple(model({"images": np.zeros((2, 32, 32, 3), "float32"),
    ...              "token_ids": np.array([[1, 5, 2], [1, 2, 0]])}).shape)
    (2, 3, 50)
    """

    def __init__(self, backbone, tie_weights=True, **kwargs):
        super().__init__(backbone, **kwargs)
        self.tie_weights = check_bool("tie_weights", tie_weights)
        width, dtype = backbone.hidden_dim, self.dtype_policy
        self.transform_dense = keras.layers.Dense(
            width, activation=get_activation(backbone.activation), name="transform_dense",
            dtype=dtype)
        self.transform_dense.build((None, width))
        self.transform_norm = keras.layers.LayerNormalization(
            epsilon=backbone.layer_norm_epsilon, name="transform_norm", dtype=dtype)
        self.transform_norm.build((None, width))
        self.decoder = None
        if not self.tie_weights:
            self.decoder = keras.layers.Dense(backbone.vocabulary_size, use_bias=False,
                                              name="decoder", dtype=dtype)
            self.decoder.build((None, width))
        self.decoder_bias = self.add_weight(shape=(backbone.vocabulary_size,),
                                            initializer="zeros", name="decoder_bias")
        self.built = True

    def call(self, inputs, training=None):
        sequence = self.backbone(inputs, training=training)["sequence_output"]
        text = sequence[:, :ops.shape(inputs["token_ids"])[1]]
        x = self.transform_norm(self.transform_dense(text))
        if self.decoder is None:
            table = ops.cast(self.backbone.token_embedding.embeddings, x.dtype)
            logits = ops.matmul(x, ops.transpose(table))
        else:
            logits = self.decoder(x)
        return ops.cast(logits, "float32") + ops.cast(self.decoder_bias, "float32")

    def get_config(self):
        return {**super().get_config(), "tie_weights": self.tie_weights}
