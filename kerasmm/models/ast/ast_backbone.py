"""The Audio Spectrogram Transformer (Hugging Face `ASTModel`)."""

import keras

from kerasmm.layers import SelfAttention
from kerasmm.models.ast.ast_embedding import ASTEmbedding
from kerasmm.models.clip.clip_utils import check_tower_args
from kerasmm.models.clip.clip_utils import layer_norm
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rate

# Constructor arguments, stored under their names (`get_config`).
AST_ARGS = ("num_mel_bins", "max_length", "patch_size", "frequency_stride", "time_stride",
            "hidden_dim", "num_layers", "num_heads", "intermediate_dim", "activation",
            "layer_norm_epsilon", "dropout")


@keras.saving.register_keras_serializable(package="kerasmm")
class AudioSpectrogramTransformer(keras.Model):
    """AST: a ViT over overlapping patches of a log-mel spectrogram.

    As Hugging Face's `ASTModel`: `ASTEmbedding` (patches cut with separate
    frequency and time strides, class and distillation tokens, learned
    positions), `num_layers` pre-LN blocks (`kerasmm.layers.SelfAttention`,
    ViT's), a final LayerNorm; the pooled output is the mean of the class
    and distillation tokens.

    Args:
        num_mel_bins: int, mel bins of the input features.
        max_length: int, frames of the input features (positions are
            learned for exactly this many).
        patch_size: int, side of the square patches (16).
        frequency_stride: int, patch stride along the mel axis (10).
        time_stride: int, patch stride along the frame axis (10).
        hidden_dim: int, transformer width.
        num_layers: int, number of blocks.
        num_heads: int, attention heads; must divide `hidden_dim`.
        intermediate_dim: int, MLP width (default `4 * hidden_dim`).
        activation: MLP activation (exact `"gelu"` for AST).
        layer_norm_epsilon: float > 0, epsilon of every LayerNorm.
        dropout: float in [0, 1), dropout after embeddings, attention, MLP.

    Call arguments:
        features: float `(B, max_length, num_mel_bins)`, e.g. from
            `kerasmm.models.ASTPreprocessor`.

    Returns:
        `{"sequence_output": (B, 2 + patches, hidden_dim),
        "pooled_output": (B, hidden_dim)}`.

    Example:
    >>> model = AudioSpectrogramTransformer(num_mel_bins=20, max_length=30, patch_size=8,
    ...     frequency_stride=6, time_stride=11, hidden_dim=8, num_layers=1, num_heads=2)
    >>> outputs = model(np.zeros((2, 30, 20), "float32"))
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((2, 11, 8), (2, 8))

    Reference:
        Gong, Chung and Glass, "AST: Audio Spectrogram Transformer",
        Interspeech 2021.
    """

    def __init__(self, num_mel_bins=128, max_length=1024, patch_size=16, frequency_stride=10,
                 time_stride=10, hidden_dim=768, num_layers=12, num_heads=12,
                 intermediate_dim=None, activation="gelu", layer_norm_epsilon=1e-12,
                 dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_tower_args(num_heads, "hidden_dim", hidden_dim, activation, num_layers=num_layers)
        check_positive_int("intermediate_dim", intermediate_dim, allow_none=True)
        (self.num_mel_bins, self.max_length, self.patch_size, self.frequency_stride,
         self.time_stride) = (num_mel_bins, max_length, patch_size, frequency_stride,
                              time_stride)
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim or 4 * hidden_dim
        self.activation = activation
        self.layer_norm_epsilon = check_number(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0, exclusive_minimum=True)
        self.dropout = check_rate("dropout", dropout)
        dtype = self.dtype_policy

        # === Layers ===
        self.embedding = ASTEmbedding(num_mel_bins, max_length, patch_size, frequency_stride,
                                      time_stride, hidden_dim, name="embedding", dtype=dtype)
        block = {"intermediate_dim": self.intermediate_dim, "activation": activation,
                 "dropout": dropout, "layer_norm_epsilon": layer_norm_epsilon, "dtype": dtype}
        self.blocks = [SelfAttention(num_heads, name=f"block_{i}", **block)
                       for i in range(num_layers)]
        self.embedding_dropout = keras.layers.Dropout(dropout, dtype=dtype)
        self.final_norm = layer_norm(layer_norm_epsilon, "final_norm", dtype)
        self.build(None)

    @property
    def num_patches(self):
        return self.embedding.grid[0] * self.embedding.grid[1]

    def build(self, input_shape=None):
        if self.built:
            return
        self.embedding.build()
        sequence = (None, self.num_patches + 2, self.hidden_dim)
        for block in self.blocks:
            block.build(sequence)
        self.final_norm.build(sequence)
        self.built = True

    def call(self, features, training=None):
        x = self.embedding_dropout(self.embedding(features), training=training)
        for block in self.blocks:
            x = block(x, training=training)
        x = self.final_norm(x)
        return {"sequence_output": x, "pooled_output": (x[:, 0] + x[:, 1]) / 2}

    def compute_output_spec(self, features, training=None):
        batch = features.shape[0]
        return {
            "sequence_output": keras.KerasTensor(
                (batch, self.num_patches + 2, self.hidden_dim), dtype=self.compute_dtype),
            "pooled_output": keras.KerasTensor((batch, self.hidden_dim),
                                               dtype=self.compute_dtype),
        }

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in AST_ARGS})
        return config
