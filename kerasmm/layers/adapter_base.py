"""What the Perceiver IO input adapters share: position features and their options.

Every adapter is a Keras layer whose `call` returns a dict:

- `"features"`: `(B, M, C)` the array the encoder's cross-attention reads;
- `"padding_mask"`: bool `(B, M)`, True at real positions; present only when
  the input can be padded (text, or a multimodal input containing text).

`adapter.output_dim` is `C` (known once the adapter is built; earlier too when
the constructor arguments fix it).
"""

import math

import keras
from keras import ops

from kerasmm.layers.latents import LatentArray
from kerasmm.utils.checks import check_positive_int
from kerasmm.layers.position import FourierPositionEncoding
from kerasmm.utils.checks import check_int_tuple
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_divisible

POSITION_ENCODINGS = ("fourier", "learned", None)


def space_to_depth(x, block_sizes):
    """Folds non-overlapping blocks of the index dimensions into channels.

    Args:
        x: channels-last `(B, n_1, ..., n_d, C)` with static index sizes,
            each divisible by its block size.
        block_sizes: d block sizes `(b_1, ..., b_d)`.

    Returns:
        `(B, n_1 / b_1, ..., n_d / b_d, b_1 * ... * b_d * C)`, each new channel
        vector ordered `(b_1, ..., b_d, C)` as DeepMind's and Hugging Face's
        `space_to_depth`.
    """
    d = len(block_sizes)
    dims = tuple(x.shape[1:-1])
    channels = x.shape[-1]
    split = []
    for n, b in zip(dims, block_sizes):
        split += [n // b, b]
    x = ops.reshape(x, (-1, *split, channels))
    outer = [1 + 2 * i for i in range(d)]
    inner = [2 + 2 * i for i in range(d)]
    x = ops.transpose(x, [0] + outer + inner + [2 * d + 1])
    return ops.reshape(
        x, (-1, *[n // b for n, b in zip(dims, block_sizes)],
            math.prod(block_sizes) * channels))


def grid_positions(subsampled_points, index_dims):
    """DeepMind's positions of flat indices: `-1 + 2 * coordinate / size`.

    Args:
        subsampled_points: int `(n,)` indices into the flattened grid.
        index_dims: the grid shape.

    Returns:
        float32 `(n, len(index_dims))`.
    """
    points = ops.cast(subsampled_points, "int32")
    coords, stride = [], math.prod(index_dims)
    for size in index_dims:
        stride //= size
        coords.append((points // stride) % size)
    pos = ops.cast(ops.stack(coords, axis=-1), "float32")
    return -1.0 + 2.0 * pos / ops.convert_to_tensor(index_dims, "float32")


class PositionOptions:
    """Validated position encoding options, shared by adapters and decoders.

    `position_encoding`: `"fourier"` (DeepMind's Fourier features, no
    weights), `"learned"` (a trainable `(prod(index_dims), position_dim)`
    table) or None. `project_pos_dim`: optional Dense applied to the encoding.
    """

    def __init__(self, position_encoding, num_bands, max_resolution, concat_pos,
                 sine_only, position_dim, project_pos_dim):
        check_choice("position_encoding", position_encoding, POSITION_ENCODINGS)
        check_positive_int("num_bands", num_bands)
        check_positive_int("position_dim", position_dim, allow_none=True)
        check_positive_int("project_pos_dim", project_pos_dim, allow_none=True)
        if max_resolution is not None:
            max_resolution = check_int_tuple("max_resolution", max_resolution)
        self.position_encoding = position_encoding
        self.num_bands = num_bands
        self.max_resolution = max_resolution
        self.concat_pos = bool(concat_pos)
        self.sine_only = bool(sine_only)
        self.position_dim = position_dim
        self.project_pos_dim = project_pos_dim

    def config(self):
        return {
            "position_encoding": self.position_encoding,
            "num_bands": self.num_bands,
            "max_resolution": self.max_resolution,
            "concat_pos": self.concat_pos,
            "sine_only": self.sine_only,
            "position_dim": self.position_dim,
            "project_pos_dim": self.project_pos_dim,
        }

    def check_resolution(self, index_dims):
        if self.max_resolution is not None and len(self.max_resolution) != len(index_dims):
            raise ValueError(
                "max_resolution must have one entry per index dimension "
                f"{tuple(index_dims)}. Received: max_resolution={self.max_resolution}"
            )

    def width(self, index_dims, default_dim):
        """Width of the position features (0 without an encoding)."""
        if self.position_encoding is None:
            return 0
        if self.project_pos_dim:
            return self.project_pos_dim
        if self.position_encoding == "learned":
            return self.position_dim or default_dim
        d = len(index_dims)
        return d * self.num_bands * (1 if self.sine_only else 2) + (d if self.concat_pos else 0)

    def build(self, owner, index_dims, default_dim):
        """Creates the encoding (and projection) layers on `owner`.

        Sets `owner.position_encoding_layer` and `owner.position_projection`
        (or None) and returns the width of the position features.
        """
        self.check_resolution(index_dims)
        dtype = owner.dtype_policy
        if self.position_encoding is None:
            owner.position_encoding_layer, owner.position_projection = None, None
            return 0
        if self.position_encoding == "fourier":
            layer = FourierPositionEncoding(
                index_dims, self.num_bands, max_resolution=self.max_resolution,
                concat_pos=self.concat_pos, sine_only=self.sine_only,
                name="position_encoding", dtype=dtype)
            width = layer.output_dim
        else:
            width = self.position_dim or default_dim
            layer = LatentArray(math.prod(index_dims), width,
                                name="position_embeddings", dtype=dtype)
            layer.build((None,))
        owner.position_encoding_layer = layer
        owner.position_projection = None
        if self.project_pos_dim:
            owner.position_projection = keras.layers.Dense(
                self.project_pos_dim, name="position_projection", dtype=dtype)
            owner.position_projection.build((None, None, width))
            width = self.project_pos_dim
        return width

    def encode(self, owner, reference, subsampled_points=None, index_dims=None):
        """Position features `(B, N, width)` for the batch of `reference`."""
        layer = owner.position_encoding_layer
        if subsampled_points is None:
            pos = layer(reference)
        elif self.position_encoding == "fourier":
            pos = layer(reference, pos=grid_positions(subsampled_points, index_dims))
        else:
            pos = ops.take(layer(reference), ops.cast(subsampled_points, "int32"), axis=1)
        if owner.position_projection is not None:
            pos = owner.position_projection(pos)
        return pos


class BaseAdapter(keras.layers.Layer):
    """Position features added to or concatenated with flattened inputs.

    Args:
        position_encoding: `"fourier"`, `"learned"` or None.
        num_bands: Fourier frequency bands per index dimension.
        max_resolution: Fourier resolution per index dimension (sets the
            highest frequency). Defaults to the index dimensions.
        concat_pos: prepend the raw positions to the Fourier features.
        sine_only: Fourier sines only.
        position_dim: width of the learned table. Defaults to the input's
            channel count.
        project_pos_dim: if set, a Dense projects the position features to
            this width.
        concat_or_add_pos: `"concat"` (channels: input + position) or
            `"add"` (widths must match).
    """

    def __init__(self, position_encoding="fourier", num_bands=64, max_resolution=None,
                 concat_pos=True, sine_only=False, position_dim=None,
                 project_pos_dim=None, concat_or_add_pos="concat", **kwargs):
        super().__init__(**kwargs)
        self._positions = PositionOptions(position_encoding, num_bands, max_resolution,
                                          concat_pos, sine_only, position_dim,
                                          project_pos_dim)
        check_choice("concat_or_add_pos", concat_or_add_pos, ("concat", "add"))
        self.position_encoding = position_encoding
        self.num_bands = num_bands
        self.max_resolution = self._positions.max_resolution
        self.concat_pos = self._positions.concat_pos
        self.sine_only = self._positions.sine_only
        self.position_dim = position_dim
        self.project_pos_dim = project_pos_dim
        self.concat_or_add_pos = concat_or_add_pos
        self._output_dim = None

    @property
    def output_dim(self):
        """Channels of the features; None until known."""
        return self._output_dim

    def _feature_width(self, index_dims, input_dim):
        """Output width for `input_dim` input channels; checks `"add"` widths."""
        self._positions.check_resolution(index_dims)
        width = self._positions.width(index_dims, input_dim)
        if self.position_encoding is None:
            return input_dim
        if self.concat_or_add_pos == "add":
            if width != input_dim:
                raise ValueError(
                    "With concat_or_add_pos='add', the position features must be "
                    f"as wide as the input features. Received: position width={width}, "
                    f"input width={input_dim} (set position_dim or project_pos_dim)"
                )
            return input_dim
        return input_dim + width

    def _build_positions(self, index_dims, input_dim):
        self._output_dim = self._feature_width(index_dims, input_dim)
        self._positions.build(self, index_dims, input_dim)

    def _with_positions(self, x):
        """`x` `(B, N, C)` with position features concatenated or added."""
        x = ops.cast(x, self.compute_dtype)
        if self.position_encoding is None:
            return x
        pos = ops.cast(self._positions.encode(self, x), self.compute_dtype)
        if self.concat_or_add_pos == "add":
            return x + pos
        return ops.concatenate([x, pos], axis=-1)

    def _flatten(self, x):
        """`(B, n_1, ..., n_d, C)` -> `(B, n_1 * ... * n_d, C)`."""
        return ops.reshape(x, (-1, math.prod(x.shape[1:-1]), x.shape[-1]))

    def get_config(self):
        config = super().get_config()
        config.update(self._positions.config())
        config["concat_or_add_pos"] = self.concat_or_add_pos
        return config
