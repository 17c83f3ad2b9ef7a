"""A video encoder from any image tower: frames sampled uniformly, pooled over time."""

import keras
import numpy as np
from keras import ops

from kerasmm.layers import LearnedPositionEmbedding
from kerasmm.layers import SelfAttention
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_layer
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank
from kerasmm.utils.checks import check_rate

POOLINGS = ("mean", "transformer")


def uniform_frame_indices(num_input_frames, num_frames):
    """Indices of `num_frames` frames spread evenly over `num_input_frames`.

    The centre of each of `num_frames` equal segments (frames repeat when
    there are fewer input frames than asked for).

    Example:

    >>> uniform_frame_indices(8, 4).tolist()
    [1, 3, 5, 7]
    """
    segments = (np.arange(num_frames) + 0.5) * num_input_frames / num_frames
    return np.minimum(segments.astype("int32"), num_input_frames - 1)


@keras.saving.register_keras_serializable(package="kerasmm")
class VideoEncoder(keras.Model):
    """Encodes clips `(B, T, H, W, C)` with an image tower applied to each frame.

    `num_frames` frames are sampled uniformly from the clip's `T`
    (`uniform_frame_indices`), each goes through `image_encoder` (any Keras
    image model: one returning vectors `(B, D)`, tokens `(B, N, D)`, or a
    kerasmm tower's `{"pooled", "tokens"}`), then frames are combined:

    - `pooling="mean"`: the temporal mean, so the output ignores frame
      order. `tokens` are the image tower's tokens averaged over frames
      `(B, N, D)` (`N = 1` for a tower returning vectors), `pooled` the
      mean of the frames' vectors.
    - `pooling="transformer"`: the frames' vectors plus learned frame
      positions go through `num_layers` pre-LN transformer blocks and a
      final LayerNorm; `tokens` are the `(B, num_frames, D)` results,
      `pooled` their mean. Frame order counts (a shape moving left vs
      right).

    It returns what a kerasmm image tower returns, so the captioners
    (`CoCa`'s `vision_encoder`) and the contrastive models take it in place
    of one; build it first on the clip shape (`encoder.build((None, T, H,
    W, 3))`), which they read to check their inputs.

    Args:
        image_encoder: a Keras layer or model taking `(B, H, W, C)` frames.
        num_frames: int, frames sampled per clip.
        pooling: `"mean"` or `"transformer"`.
        num_layers: int, transformer blocks (`pooling="transformer"`).
        num_heads: int, attention heads; must divide the frame width.
        intermediate_dim: int, the blocks' MLP width (default 4 x width).
        dropout: float, dropout in the transformer blocks.
        output_tokens: bool. If True return `{"pooled": (B, D), "tokens":
            (B, T', D)}`, else the pooled `(B, D)`.

    Call arguments:
        videos: float `(B, T, H, W, C)`, `T` static.
        training: Python bool.

    Example:

    >>> frame_encoder = kerasmm.models.build_conv_encoder(
    ...     image_size=16, conv_widths=(4, 8), output_dim=8)
    >>> encoder = kerasmm.models.VideoEncoder(
    ...     frame_encoder, num_frames=2, pooling="transformer", num_heads=2)
    >>> outputs = encoder(np.zeros((3, 6, 16, 16, 3), "float32"))
    >>> tuple(outputs["tokens"].shape), tuple(outputs["pooled"].shape)
    ((3, 2, 8), (3, 8))

    Reference:
        [Bertasius et al., 2021](https://arxiv.org/abs/2102.05095) (TimeSformer's
        uniform frame sampling), [Luo et al., 2021](https://arxiv.org/abs/2104.08860)
        (CLIP4Clip: mean pooling vs a temporal transformer over CLIP frames).
    """

    def __init__(
        self,
        image_encoder,
        num_frames,
        pooling="mean",
        num_layers=1,
        num_heads=4,
        intermediate_dim=None,
        dropout=0.0,
        output_tokens=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_encoder = check_layer("image_encoder", image_encoder)
        self.num_frames = check_positive_int("num_frames", num_frames)
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.intermediate_dim = check_positive_int(
            "intermediate_dim", intermediate_dim, allow_none=True)
        self.dropout = check_rate("dropout", dropout)
        self.output_tokens = check_bool("output_tokens", output_tokens)
        # === Layers ===
        if self.pooling == "transformer":
            self.frame_positions = LearnedPositionEmbedding(
                self.num_frames, name="frame_positions", dtype=self.dtype_policy)
            self.temporal_blocks = [
                SelfAttention(self.num_heads, intermediate_dim=self.intermediate_dim,
                              dropout=self.dropout, activation="gelu",
                              name=f"temporal_block_{i}", dtype=self.dtype_policy)
                for i in range(self.num_layers)
            ]
            self.final_norm = keras.layers.LayerNormalization(
                epsilon=1e-5, name="final_norm", dtype=self.dtype_policy)

    def _check_videos(self, shape):
        check_rank("videos", shape, 5)
        if shape[1] is None:
            raise ValueError(
                "videos must have a static number of frames (axis 1). "
                f"Received: videos with shape {tuple(shape)}"
            )

    def build(self, input_shape):
        self._check_videos(input_shape)
        frame_shape = (None,) + tuple(input_shape[2:])
        if not self.image_encoder.built:
            self.image_encoder.build(frame_shape)
        if self.pooling == "transformer":
            spec = self.image_encoder.compute_output_spec(
                keras.KerasTensor(frame_shape, dtype=self.compute_dtype))
            pooled, _ = self._split(spec)
            width = pooled.shape[-1]
            if width % self.num_heads:
                raise ValueError(
                    "num_heads must divide the image encoder's output width. "
                    f"Received: num_heads={self.num_heads}, width={width}"
                )
            sequence = (None, self.num_frames, width)
            self.frame_positions.build(sequence)
            for block in self.temporal_blocks:
                block.build(sequence)
            self.final_norm.build(sequence)
        self.built = True

    @staticmethod
    def _split(outputs):
        """`(vectors, tokens or None)` of an image tower's output."""
        if isinstance(outputs, dict):
            return outputs["pooled"], outputs.get("tokens")
        if len(outputs.shape) == 3:
            return ops.mean(outputs, axis=1), outputs
        return outputs, None

    def call(self, videos, training=None):
        self._check_videos(videos.shape)
        index = uniform_frame_indices(videos.shape[1], self.num_frames)
        frames = ops.take(videos, index, axis=1)
        frames = ops.reshape(frames, (-1,) + tuple(videos.shape[2:]))
        vectors, tokens = self._split(self.image_encoder(frames, training=training))
        vectors = ops.reshape(vectors, (-1, self.num_frames, vectors.shape[-1]))
        if self.pooling == "mean":
            pooled = ops.mean(vectors, axis=1)
            if tokens is None:
                tokens = pooled[:, None, :]
            else:
                tokens = ops.reshape(tokens, (-1, self.num_frames) + tuple(tokens.shape[1:]))
                tokens = ops.mean(tokens, axis=1)
        else:
            tokens = vectors + ops.cast(self.frame_positions(vectors), vectors.dtype)
            for block in self.temporal_blocks:
                tokens = block(tokens, training=training)
            tokens = self.final_norm(tokens)
            pooled = ops.mean(tokens, axis=1)
        return {"pooled": pooled, "tokens": tokens} if self.output_tokens else pooled

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update({
            "image_encoder": keras.saving.serialize_keras_object(self.image_encoder),
            "num_frames": self.num_frames,
            "pooling": self.pooling,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "output_tokens": self.output_tokens,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["image_encoder"], dict):
            config["image_encoder"] = keras.saving.deserialize_keras_object(
                config["image_encoder"])
        return cls(**config)
