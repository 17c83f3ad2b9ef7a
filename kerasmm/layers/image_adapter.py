"""Perceiver IO image adapter (Hugging Face `PerceiverImagePreprocessor`)."""

import keras
from keras import ops

from kerasmm.layers.adapter_base import BaseAdapter
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_images
from kerasmm.utils.checks import check_divisible
from kerasmm.layers.adapter_base import space_to_depth
from kerasmm.utils.checks import check_positive_int

PREPROCESSINGS = ("pixels", "patches", "conv1x1", "conv")


def _image_shape(image_shape):
    values = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else ()
    if len(values) != 3 or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0
                               for v in values):
        raise ValueError(
            "image_shape must be (height, width, channels), positive integers. "
            f"Received: image_shape={image_shape!r}"
        )
    return values


def _conv_stem_size(n):
    """Output side of the 'conv' stem: pad 3, 7x7 stride 2, then 3x3 stride 2 max-pool."""
    n = (n + 6 - 7) // 2 + 1
    return (n - 3) // 2 + 1


@keras.saving.register_keras_serializable(package="kerasmm")
class ImageAdapter(BaseAdapter):
    """Images to a Perceiver input array: features per pixel plus positions.

    Follows Hugging Face's `PerceiverImagePreprocessor` (channels-last here):

    - `"pixels"`: every `spatial_downsample`-th pixel, raw channels.
    - `"patches"`: space-to-depth, `spatial_downsample x spatial_downsample`
      blocks folded into channels, ordered `(row, column, channel)`.
    - `"conv1x1"`: a 1x1 convolution to `out_channels` with stride
      `spatial_downsample` (the vision-perceiver-learned checkpoint).
    - `"conv"`: zero-pad 3, 7x7 stride-2 convolution without bias, batch
      normalization, ReLU, 3x3 stride-2 max-pool (valid), a 4x downsampling
      stem (the vision-perceiver-conv checkpoint; a 224 image gives 55x55).

    Position features (Fourier over the downsampled grid, or a learned table)
    are then concatenated or added (see `BaseAdapter`).

    Args:
        image_shape: `(height, width, channels)` of the input images.
        preprocessing: `"pixels"`, `"patches"`, `"conv1x1"` or `"conv"`.
        position_encoding: `"fourier"`, `"learned"` or None.
        num_bands: Fourier bands per spatial dimension.
        max_resolution: Fourier resolution per dimension; defaults to the
            downsampled grid.
        concat_pos: prepend raw positions to the Fourier features.
        sine_only: Fourier sines only.
        position_dim: learned table width; defaults to the feature width.
        project_pos_dim: optional Dense on the position features.
        concat_or_add_pos: `"concat"` or `"add"`.
        spatial_downsample: stride for `"pixels"` and `"conv1x1"`, block size
            for `"patches"`; must be 1 for `"conv"` (its stem is fixed).
        out_channels: output channels of `"conv1x1"` and `"conv"`.
        use_batchnorm: batch normalization in the `"conv"` stem.

    Call arguments:
        images: float `(B, height, width, channels)`, already preprocessed;
            integer images are refused.

    Returns:
        `{"features": (B, M, output_dim)}`.

    Example:
    >>> adapter = ImageAdapter((8, 8, 3), preprocessing="patches",
    ...                        spatial_downsample=2, num_bands=4)
    >>> out = adapter(keras.random.normal((2, 8, 8, 3)))
    >>> tuple(out["features"].shape)  # 4x4 patches of 2*2*3 values, + 2 + 2*2*4 positions
    (2, 16, 30)

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    def __init__(self, image_shape, preprocessing="pixels", position_encoding="fourier",
                 num_bands=64, max_resolution=None, concat_pos=True, sine_only=False,
                 position_dim=None, project_pos_dim=None, concat_or_add_pos="concat",
                 spatial_downsample=1, out_channels=64, use_batchnorm=True, **kwargs):
        super().__init__(position_encoding=position_encoding, num_bands=num_bands,
                         max_resolution=max_resolution, concat_pos=concat_pos,
                         sine_only=sine_only, position_dim=position_dim,
                         project_pos_dim=project_pos_dim,
                         concat_or_add_pos=concat_or_add_pos, **kwargs)
        self.image_shape = _image_shape(image_shape)
        check_choice("preprocessing", preprocessing, PREPROCESSINGS)
        check_positive_int("spatial_downsample", spatial_downsample)
        check_positive_int("out_channels", out_channels)
        if preprocessing == "conv" and spatial_downsample != 1:
            raise ValueError(
                "preprocessing='conv' downsamples 4x with a fixed stem; "
                f"spatial_downsample must be 1. Received: spatial_downsample={spatial_downsample}"
            )
        if preprocessing == "patches":
            for side in self.image_shape[:2]:
                check_divisible("image side", side, "spatial_downsample", spatial_downsample)
        self.preprocessing = preprocessing
        self.spatial_downsample = spatial_downsample
        self.out_channels = out_channels
        self.use_batchnorm = bool(use_batchnorm)
        self._output_dim = self._feature_width(*self._grid_and_channels())

    def _grid_and_channels(self):
        height, width, channels = self.image_shape
        s = self.spatial_downsample
        if self.preprocessing == "conv":
            return (_conv_stem_size(height), _conv_stem_size(width)), self.out_channels
        if self.preprocessing == "patches":
            return (height // s, width // s), channels * s * s
        grid = (-(-height // s), -(-width // s))
        return grid, self.out_channels if self.preprocessing == "conv1x1" else channels

    def _check_images(self, shape, dtype=None):
        check_images("images", shape, self.image_shape,
                     f"image_shape={self.image_shape}", dtype)

    def build(self, input_shape):
        self._check_images(input_shape)
        dtype = self.dtype_policy
        grid, channels = self._grid_and_channels()
        if self.preprocessing == "conv1x1":
            self.conv1x1 = keras.layers.Conv2D(
                self.out_channels, 1, strides=self.spatial_downsample, name="conv1x1",
                dtype=dtype)
            self.conv1x1.build(input_shape)
        elif self.preprocessing == "conv":
            self.conv = keras.layers.Conv2D(self.out_channels, 7, strides=2,
                                            use_bias=False, name="conv", dtype=dtype)
            height, width = self.image_shape[:2]
            self.conv.build((None, height + 6, width + 6, self.image_shape[2]))
            self.batchnorm = None
            if self.use_batchnorm:
                # PyTorch BatchNorm2d defaults: eps 1e-5, momentum 0.1.
                self.batchnorm = keras.layers.BatchNormalization(
                    epsilon=1e-5, momentum=0.9, name="batchnorm", dtype=dtype)
                self.batchnorm.build(self.conv.compute_output_shape(
                    (None, height + 6, width + 6, self.image_shape[2])))
        self._build_positions(grid, channels)

    def _preprocess(self, images, training):
        s = self.spatial_downsample
        if self.preprocessing == "pixels":
            return images[:, ::s, ::s, :] if s > 1 else images
        if self.preprocessing == "patches":
            return space_to_depth(images, (s, s))
        if self.preprocessing == "conv1x1":
            return self.conv1x1(images)
        x = ops.pad(images, [[0, 0], [3, 3], [3, 3], [0, 0]])
        x = self.conv(x)
        if self.batchnorm is not None:
            x = self.batchnorm(x, training=training)
        x = ops.relu(x)
        return ops.max_pool(x, pool_size=3, strides=2, padding="valid")

    def call(self, images, training=None):
        self._check_images(images.shape, images.dtype)
        x = self._preprocess(ops.cast(images, self.compute_dtype), training)
        return {"features": self._with_positions(self._flatten(x))}

    def compute_output_shape(self, input_shape):
        self._check_images(input_shape)
        grid, _ = self._grid_and_channels()
        return {"features": (input_shape[0], grid[0] * grid[1], self.output_dim)}

    def get_config(self):
        config = super().get_config()
        config.update({
            "image_shape": self.image_shape,
            "preprocessing": self.preprocessing,
            "spatial_downsample": self.spatial_downsample,
            "out_channels": self.out_channels,
            "use_batchnorm": self.use_batchnorm,
        })
        return config
