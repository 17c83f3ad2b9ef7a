"""Perceiver IO basic decoder: position queries over an output grid."""

import math

import keras
from keras import ops

from kerasmm.layers.adapter_base import PositionOptions
from kerasmm.utils.checks import check_choice
from kerasmm.layers.decoder_base import BaseDecoder
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_int_tuple

POSITION_GRIDS = ("linspace", "index")


@keras.saving.register_keras_serializable(package="kerasmm")
class BasicDecoder(BaseDecoder):
    """Queries from position encodings of an output grid, e.g. one per pixel.

    Hugging Face's / DeepMind's `BasicDecoder`: the queries are a learned
    `(prod(output_index_dims), position_dim)` table or Fourier features of
    the grid positions (optionally projected); they cross-attend to the
    latents, and a final Dense maps each output to `output_num_channels`.

    With `subsampled_points` (flat grid indices), only those outputs are
    decoded; their Fourier positions are DeepMind's `-1 + 2 * index / size`.
    The full grid uses `linspace(-1, 1, size)` per dimension, unless
    `position_grid="index"`: then it uses the subsampled positions of every
    point, so a full decode equals the concatenation of all chunks (what
    DeepMind's multimodal autoencoder was trained and evaluated with).

    Args:
        output_num_channels: channels of each output (after the final
            projection).
        output_index_dims: the output grid, an int or a tuple, e.g. `(H, W)`.
        position_encoding: `"learned"` or `"fourier"`.
        num_bands, max_resolution, concat_pos, sine_only: Fourier options.
        position_grid: Fourier positions of the full grid: `"linspace"`
            (`linspace(-1, 1, size)`, DeepMind's `build_linear_positions`)
            or `"index"` (`-1 + 2 * index / size`, the positions of
            subsampled decoding). Learned tables ignore it.
        position_dim: learned table width; defaults to the latent width.
        project_pos_dim: optional Dense on the position features.
        final_project: if False, no final Dense: outputs are the attention
            block's `query_dim` channels.
        output_shape: optional shape (no batch; may hold one -1) to reshape
            the outputs to, e.g. `(-1,)` to flatten audio patches to samples.
            Otherwise the outputs are `(B, *output_index_dims, C)`, or
            `(B, n, C)` when subsampled.
        num_heads, qk_channels, v_channels, widening_factor,
        use_query_residual, dropout: the cross-attention (see `BaseDecoder`).

    Call arguments:
        latents: `(B, N, D)`.
        inputs: unused; accepted for a uniform decoder interface.
        subsampled_points: optional int `(n,)` flat output indices.

    Example:
    >>> decoder = BasicDecoder(output_num_channels=3, output_index_dims=(4, 4),
    ...                        position_encoding="fourier", num_bands=2)
    >>> tuple(decoder(keras.random.normal((2, 8, 16))).shape)
    (2, 4, 4, 3)

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    def __init__(self, output_num_channels=None, output_index_dims=1,
                 position_encoding="learned", num_bands=64, max_resolution=None,
                 concat_pos=True, sine_only=False, position_dim=None,
                 project_pos_dim=None, final_project=True, output_shape=None,
                 num_heads=1, qk_channels=None, v_channels=None, widening_factor=1,
                 use_query_residual=False, dropout=0.0, position_grid="linspace", **kwargs):
        super().__init__(num_heads=num_heads, qk_channels=qk_channels,
                         v_channels=v_channels, widening_factor=widening_factor,
                         use_query_residual=use_query_residual, dropout=dropout, **kwargs)
        if position_encoding is None:
            raise ValueError(
                "BasicDecoder needs a position_encoding to build its queries: "
                "'learned' or 'fourier'. Received: position_encoding=None"
            )
        self._positions = PositionOptions(position_encoding, num_bands, max_resolution,
                                          concat_pos, sine_only, position_dim,
                                          project_pos_dim)
        check_choice("position_grid", position_grid, POSITION_GRIDS)
        self.output_index_dims = check_int_tuple("output_index_dims", output_index_dims)
        self._positions.check_resolution(self.output_index_dims)
        if final_project:
            check_positive_int("output_num_channels", output_num_channels)
        if output_shape is not None:
            output_shape = tuple(output_shape)
            if sum(d == -1 for d in output_shape) > 1 or any(
                    not isinstance(d, int) or (d <= 0 and d != -1) for d in output_shape):
                raise ValueError(
                    "output_shape must be positive integers with at most one -1. "
                    f"Received: output_shape={output_shape}"
                )
        self.output_num_channels = output_num_channels
        self.final_project = bool(final_project)
        self.output_shape = output_shape
        self.position_grid = position_grid

    def build_queries(self, latent_dim, input_dim=None):
        self.query_dim = self._positions.build(
            self, self.output_index_dims, self._positions.position_dim or latent_dim)

    def queries(self, latents, inputs=None, subsampled_points=None):
        if subsampled_points is None and self.position_grid == "index" and \
                self._positions.position_encoding == "fourier":
            subsampled_points = ops.arange(math.prod(self.output_index_dims), dtype="int32")
        pos = self._positions.encode(self, latents, subsampled_points, self.output_index_dims)
        return ops.cast(pos, self.compute_dtype)

    def build_postprocess(self, width):
        self.final_projection = None
        if self.final_project:
            self.final_projection = keras.layers.Dense(
                self.output_num_channels, name="final_projection", dtype=self.dtype_policy)
            self.final_projection.build((None, None, width))

    def postprocess(self, x, subsampled_points=None):
        if self.final_projection is not None:
            x = self.final_projection(x)
        if self.output_shape is not None:
            return ops.reshape(x, (ops.shape(x)[0], *self.output_shape))
        if subsampled_points is None and len(self.output_index_dims) > 1:
            return ops.reshape(x, (-1, *self.output_index_dims, x.shape[-1]))
        return x

    def compute_output_shape(self, latents_shape):
        channels = self.output_num_channels if self.final_project else (
            self.query_dim or self._positions.width(
                self.output_index_dims, self._positions.position_dim or latents_shape[-1]))
        batch = latents_shape[0]
        if self.output_shape is not None:
            shape = list(self.output_shape)
            if -1 in shape:
                known = math.prod(d for d in shape if d != -1)
                shape[shape.index(-1)] = math.prod(self.output_index_dims) * channels // known
            return (batch, *shape)
        return (batch, *self.output_index_dims, channels)

    def get_config(self):
        config = super().get_config()
        config.update(self._positions.config())
        config.update({
            "output_num_channels": self.output_num_channels,
            "output_index_dims": self.output_index_dims,
            "final_project": self.final_project,
            "output_shape": self.output_shape,
            "position_grid": self.position_grid,
        })
        return config
