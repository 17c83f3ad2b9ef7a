"""AST's input tokens: overlapping spectrogram patches, class, distillation, positions."""

import keras
from keras import ops

from kerasmm.models.clip.clip_utils import normal
from kerasmm.utils.checks import check_positive_int


def patch_grid(num_mel_bins, max_length, patch_size, frequency_stride, time_stride):
    """`(frequency patches, time patches)` of a `(max_length, num_mel_bins)` input."""
    return ((num_mel_bins - patch_size) // frequency_stride + 1,
            (max_length - patch_size) // time_stride + 1)


@keras.saving.register_keras_serializable(package="kerasmm")
class ASTEmbedding(keras.layers.Layer):
    """Tokens of the Audio Spectrogram Transformer (Hugging Face `ASTEmbeddings`).

    The features `(B, frames, mel)` are seen as a one-channel picture of
    `mel` rows (frequency) and `frames` columns (time); a `patch_size`
    square convolution with strides `(frequency_stride, time_stride)` cuts
    overlapping patches, flattened frequency-major. A class token and a
    distillation token (DeiT's) go first, then learned positions are added
    to all `2 + patches` tokens.

    Args:
        num_mel_bins: int, the features' mel bins.
        max_length: int, the features' frames.
        patch_size: int, side of the square patches.
        frequency_stride: int, stride along the mel axis.
        time_stride: int, stride along the frame axis.
        hidden_dim: int, token width.

    Call arguments:
        features: float `(B, max_length, num_mel_bins)`.

    Returns:
        `(B, 2 + patches, hidden_dim)`.

    Example:
    >>> layer = ASTEmbedding(num_mel_bins=20, max_length=30, patch_size=8,
    ...                      frequency_stride=6, time_stride=11, hidden_dim=4)
    >>> tuple(layer(np.zeros((2, 30, 20), "float32")).shape)  # 3 x 3 patches
    (2, 11, 4)
    """

    def __init__(self, num_mel_bins, max_length, patch_size, frequency_stride, time_stride,
                 hidden_dim, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("num_mel_bins", num_mel_bins), ("max_length", max_length),
                            ("patch_size", patch_size), ("frequency_stride", frequency_stride),
                            ("time_stride", time_stride), ("hidden_dim", hidden_dim)):
            check_positive_int(name, value)
        if patch_size > min(num_mel_bins, max_length):
            raise ValueError(f"patch_size must be <= num_mel_bins and max_length. Received: "
                             f"patch_size={patch_size}, num_mel_bins={num_mel_bins}, "
                             f"max_length={max_length}")
        self.num_mel_bins = num_mel_bins
        self.max_length = max_length
        self.patch_size = patch_size
        self.frequency_stride = frequency_stride
        self.time_stride = time_stride
        self.hidden_dim = hidden_dim
        self.grid = patch_grid(num_mel_bins, max_length, patch_size, frequency_stride,
                               time_stride)
        self.patch_embedding = keras.layers.Conv2D(
            hidden_dim, patch_size, strides=(frequency_stride, time_stride),
            name="patch_embedding", dtype=self.dtype_policy)

    def build(self, input_shape=None):
        self.patch_embedding.build((None, self.num_mel_bins, self.max_length, 1))
        self.class_token = self.add_weight(shape=(self.hidden_dim,), name="class_token",
                                           initializer=normal(0.02))
        self.distillation_token = self.add_weight(
            shape=(self.hidden_dim,), name="distillation_token", initializer=normal(0.02))
        self.position_embedding = self.add_weight(
            shape=(self.grid[0] * self.grid[1] + 2, self.hidden_dim),
            name="position_embedding", initializer=normal(0.02))

    def call(self, features):
        shape = tuple(features.shape)
        if len(shape) != 3 or shape[1:] != (self.max_length, self.num_mel_bins):
            raise ValueError(
                f"features must have shape (batch, max_length={self.max_length}, "
                f"num_mel_bins={self.num_mel_bins}) (the preprocessor pads or truncates "
                f"to max_length). Received: features with shape {shape}")
        # (B, frames, mel) -> (B, mel, frames, 1): rows are frequencies.
        x = ops.transpose(ops.cast(features, self.compute_dtype), (0, 2, 1))[..., None]
        x = self.patch_embedding(x)
        x = ops.reshape(x, (-1, self.grid[0] * self.grid[1], self.hidden_dim))
        tokens = ops.stack([ops.cast(self.class_token, x.dtype),
                            ops.cast(self.distillation_token, x.dtype)])
        tokens = ops.broadcast_to(tokens[None],
                                  (ops.shape(x)[0], 2, self.hidden_dim))
        x = ops.concatenate([tokens, x], axis=1)
        return x + ops.cast(self.position_embedding, x.dtype)[None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.grid[0] * self.grid[1] + 2, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "num_mel_bins", "max_length", "patch_size", "frequency_stride", "time_stride",
            "hidden_dim")})
        return config
