"""`AudioClassifier`: class logits from an audio backbone's pooled output."""

import keras
from keras import ops

from kerasmm.models.ast import AST_PRESETS
from kerasmm.tasks.fusion_task import FusionTask
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_strings


@keras.saving.register_keras_serializable(package="kerasmm")
class AudioClassifier(FusionTask):
    """Audio classification: `LayerNorm -> Dense(num_classes)` on the pooled output.

    The head of Hugging Face's `ASTForAudioClassification` (`ASTMLPHead`),
    on a backbone returning `"pooled_output"` (`kerasmm.models.
    AudioSpectrogramTransformer`). Multi-label sets (AudioSet) train with
    `binary_crossentropy(from_logits=True)`, single-label ones with sparse
    categorical cross-entropy. `AudioClassifier.from_preset("ast_audioset")`
    (or a Hugging Face `ASTForAudioClassification` directory) loads AST's;
    `kerasmm.models.ASTPreprocessor.from_preset` of the same preset turns
    waveforms into its features.

    Args:
        backbone: an audio model with a `hidden_dim` whose call returns
            `{"pooled_output": (B, hidden_dim), ...}`.
        num_classes: int, number of classes.
        class_names: optional list of `num_classes` strings (the preset's
            labels), for reading predictions.
        layer_norm_epsilon: float, the head's LayerNorm epsilon (default:
            the backbone's).

    Call arguments:
        features: what the backbone takes: `(B, frames, mel_bins)`.

    Returns:
        float32 logits `(B, num_classes)`.

    Example:
    >>> from kerasmm.models import AudioSpectrogramTransformer
    >>> model = AudioClassifier(AudioSpectrogramTransformer(
    ...     num_mel_bins=20, max_length=30, patch_size=8, frequency_stride=6,
    ...     time_stride=11, hidden_dim=8, num_layers=1, num_heads=2), num_classes=3)
    >>> tuple(model(np.zeros((2, 30, 20), "float32")).shape)
    (2, 3)
    """

    family_presets = AST_PRESETS

    def __init__(self, backbone, num_classes, class_names=None, layer_norm_epsilon=None,
                 **kwargs):
        super().__init__(backbone, **kwargs)
        self.num_classes = check_positive_int("num_classes", num_classes)
        if class_names is not None:
            class_names = check_strings("class_names", class_names)
            if len(class_names) != num_classes:
                raise ValueError(f"class_names must hold num_classes={num_classes} names. "
                                 f"Received: {len(class_names)} names")
        self.class_names = class_names
        if layer_norm_epsilon is None:
            layer_norm_epsilon = getattr(backbone, "layer_norm_epsilon", 1e-12)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        dtype = self.dtype_policy
        self.head_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="head_norm", dtype=dtype)
        self.head = keras.layers.Dense(num_classes, name="head", dtype=dtype)
        self.head_norm.build((None, backbone.hidden_dim))
        self.head.build((None, backbone.hidden_dim))
        self.built = True

    def call(self, features, training=None):
        pooled = self.backbone(features, training=training)["pooled_output"]
        return ops.cast(self.head(self.head_norm(pooled)), "float32")

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "class_names": self.class_names,
                "layer_norm_epsilon": self.layer_norm_epsilon}
