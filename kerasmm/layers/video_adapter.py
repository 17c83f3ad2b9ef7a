"""Perceiver IO video adapter: space-time patches plus 3-D positions."""

import keras
from keras import ops

from kerasmm.layers.adapter_base import BaseAdapter
from kerasmm.utils.checks import check_divisible
from kerasmm.utils.checks import check_images
from kerasmm.layers.adapter_base import space_to_depth
from kerasmm.utils.checks import check_positive_int


def _video_shape(video_shape):
    values = tuple(video_shape) if isinstance(video_shape, (tuple, list)) else ()
    if len(values) != 4 or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0
                               for v in values):
        raise ValueError(
            "video_shape must be (frames, height, width, channels), positive "
            f"integers. Received: video_shape={video_shape!r}"
        )
    return values


@keras.saving.register_keras_serializable(package="kerasmm")
class VideoAdapter(BaseAdapter):
    """Videos to a Perceiver input array of space-time patches plus positions.

    Hugging Face's `PerceiverImagePreprocessor` on 5-D input with
    `prep_type="patches"`: blocks of `temporal_downsample` frames x
    `spatial_downsample` x `spatial_downsample` pixels are folded into
    channels (ordered frame, row, column, channel), then 3-D position
    features over the `(T', H', W')` patch grid are concatenated or added.

    Args:
        video_shape: `(frames, height, width, channels)`.
        temporal_downsample: frames per patch; must divide `frames`.
        spatial_downsample: patch side in pixels; must divide height and width.
        position_encoding: `"fourier"`, `"learned"` or None.
        num_bands: Fourier bands per dimension.
        max_resolution: Fourier resolution per dimension (3 values); defaults
            to the patch grid. DeepMind's multimodal model passes
            `(frames, height, width)`.
        concat_pos, sine_only, position_dim, project_pos_dim,
        concat_or_add_pos: see `BaseAdapter`.

    Call arguments:
        video: float `(B, frames, height, width, channels)`, already
            preprocessed; integer videos are refused.

    Returns:
        `{"features": (B, T' * H' * W', output_dim)}`.

    Example:
    >>> adapter = VideoAdapter((4, 8, 8, 3), temporal_downsample=2,
    ...                        spatial_downsample=4, num_bands=2)
    >>> tuple(adapter(keras.random.normal((1, 4, 8, 8, 3)))["features"].shape)
    (1, 8, 111)

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    def __init__(self, video_shape, temporal_downsample=1, spatial_downsample=4,
                 position_encoding="fourier", num_bands=32, max_resolution=None,
                 concat_pos=True, sine_only=False, position_dim=None,
                 project_pos_dim=None, concat_or_add_pos="concat", **kwargs):
        super().__init__(position_encoding=position_encoding, num_bands=num_bands,
                         max_resolution=max_resolution, concat_pos=concat_pos,
                         sine_only=sine_only, position_dim=position_dim,
                         project_pos_dim=project_pos_dim,
                         concat_or_add_pos=concat_or_add_pos, **kwargs)
        self.video_shape = _video_shape(video_shape)
        check_positive_int("temporal_downsample", temporal_downsample)
        check_positive_int("spatial_downsample", spatial_downsample)
        frames, height, width, _ = self.video_shape
        check_divisible("frames", frames, "temporal_downsample", temporal_downsample)
        check_divisible("height", height, "spatial_downsample", spatial_downsample)
        check_divisible("width", width, "spatial_downsample", spatial_downsample)
        self.temporal_downsample = temporal_downsample
        self.spatial_downsample = spatial_downsample
        self._output_dim = self._feature_width(*self._grid_and_channels())

    def _grid_and_channels(self):
        frames, height, width, channels = self.video_shape
        t, s = self.temporal_downsample, self.spatial_downsample
        return (frames // t, height // s, width // s), channels * t * s * s

    def _check_video(self, shape, dtype=None):
        check_images("video", shape, self.video_shape,
                     f"video_shape={self.video_shape}", dtype)

    def build(self, input_shape):
        self._check_video(input_shape)
        self._build_positions(*self._grid_and_channels())

    def call(self, video):
        self._check_video(video.shape, video.dtype)
        blocks = (self.temporal_downsample,) + (self.spatial_downsample,) * 2
        x = space_to_depth(ops.cast(video, self.compute_dtype), blocks)
        return {"features": self._with_positions(self._flatten(x))}

    def compute_output_shape(self, input_shape):
        self._check_video(input_shape)
        grid, _ = self._grid_and_channels()
        return {"features": (input_shape[0], grid[0] * grid[1] * grid[2], self.output_dim)}

    def get_config(self):
        config = super().get_config()
        config.update({
            "video_shape": self.video_shape,
            "temporal_downsample": self.temporal_downsample,
            "spatial_downsample": self.spatial_downsample,
        })
        return config
