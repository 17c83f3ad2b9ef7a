"""Position encodings: sinusoidal, learned, and N-D Fourier features (Perceiver)."""

import math

import keras
import numpy as np
from keras import ops

from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_int_tuple
from kerasmm.utils.checks import check_min_rank


def default_initializer(initializer):
    """`initializer`, or truncated normal with std 0.02 (DeepMind's init_scale)."""
    if initializer is None:
        return keras.initializers.TruncatedNormal(stddev=0.02)
    return keras.initializers.get(initializer)


@keras.saving.register_keras_serializable(package="kerasmm")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Fixed sine/cosine position encoding of Vaswani et al.

    For position `pos` and channel `j`, with `i = j // 2` and `d` the width:
    `angle = pos / max_wavelength ** (2 * i / d)`; channel `2i` holds
    `sin(angle)` and channel `2i + 1` holds `cos(angle)`. Any sequence length
    works at call time and any width, odd too (the last channel is then a sine).

    Like keras-hub's `SinePositionEncoding`, the layer returns the encoding
    (not `x + encoding`): the `(L, D)` table broadcast to the shape of `x`,
    in the layer's compute dtype. Add it to `x` yourself.

    Args:
        max_wavelength: the longest wavelength, `10000` in the paper.

    Call arguments:
        x: a tensor `(..., L, D)`; only its shape is used.

    Example:
    >>> x = keras.random.normal((2, 5, 7))
    >>> encoding = SinusoidalPositionEncoding()(x)
    >>> tuple(encoding.shape)
    (2, 5, 7)
    >>> y = x + encoding

    Reference:
        Vaswani et al., "Attention Is All You Need", 2017.
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        if (isinstance(max_wavelength, bool)
                or not isinstance(max_wavelength, (int, float))
                or max_wavelength <= 0):
            raise ValueError(
                "max_wavelength must be a positive number. "
                f"Received: max_wavelength={max_wavelength!r}"
            )
        self.max_wavelength = max_wavelength

    def build(self, input_shape):
        check_min_rank("x", input_shape, 2)
        if input_shape[-1] is None:
            raise ValueError(
                "The last dimension of x must be known. Received: x with shape "
                f"{tuple(input_shape)}"
            )

    def call(self, x):
        check_min_rank("x", x.shape, 2)
        shape = ops.shape(x)
        length, width = shape[-2], x.shape[-1]
        channels = ops.arange(width, dtype="float32")
        # 2 * (j // 2) / d, computed in float32 whatever the compute dtype.
        exponent = 2.0 * ops.floor(channels / 2.0) / float(width)
        inverse_freq = ops.power(float(self.max_wavelength), -exponent)
        positions = ops.arange(length, dtype="float32")
        angles = positions[:, None] * inverse_freq[None, :]
        is_cos = ops.equal(ops.mod(ops.arange(width), 2), 1)
        encoding = ops.where(is_cos[None, :], ops.cos(angles), ops.sin(angles))
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["max_wavelength"] = self.max_wavelength
        return config


@keras.saving.register_keras_serializable(package="kerasmm")
class LearnedPositionEmbedding(keras.layers.Layer):
    """A trainable `(sequence_length, D)` position table.

    `D` is the width of the input. A call on `x` of length `L <=
    sequence_length` returns the first `L` rows broadcast to the shape of
    `x` (not `x + embedding`; add it yourself), as keras-hub's
    `PositionEmbedding` and DeepMind's `TrainablePositionEncoding` do.

    Args:
        sequence_length: the longest sequence the table covers.
        initializer: initializer of the table. Defaults to a truncated normal
            with standard deviation 0.02 (DeepMind's `init_scale`).

    Call arguments:
        x: a tensor `(..., L, D)`; only its shape is used.

    Example:
    >>> x = keras.random.normal((2, 5, 8))
    >>> layer = LearnedPositionEmbedding(sequence_length=16)
    >>> tuple(layer(x).shape)
    (2, 5, 8)
    >>> tuple(layer.embeddings.shape)
    (16, 8)

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021 (`TrainablePositionEncoding`).
    """

    def __init__(self, sequence_length, initializer=None, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("sequence_length", sequence_length)
        self.sequence_length = sequence_length
        self.initializer = default_initializer(initializer)

    def _check_length(self, shape):
        length = shape[-2]
        if length is not None and length > self.sequence_length:
            raise ValueError(
                "The input length must not exceed sequence_length. Received: "
                f"input length={length}, sequence_length={self.sequence_length}"
            )

    def build(self, input_shape):
        check_min_rank("x", input_shape, 2)
        self._check_length(input_shape)
        if input_shape[-1] is None:
            raise ValueError(
                "The last dimension of x must be known. Received: x with shape "
                f"{tuple(input_shape)}"
            )
        self.embeddings = self.add_weight(
            shape=(self.sequence_length, input_shape[-1]),
            initializer=self.initializer, name="embeddings")

    def call(self, x):
        check_min_rank("x", x.shape, 2)
        self._check_length(x.shape)
        if x.shape[-1] is not None and x.shape[-1] != self.embeddings.shape[-1]:
            raise ValueError(
                "The width of x must match the width the layer was built with. "
                f"Received: x with width {x.shape[-1]}, built with "
                f"{self.embeddings.shape[-1]}"
            )
        shape = ops.shape(x)
        table = ops.cast(self.embeddings, self.compute_dtype)
        table = ops.slice(table, (0, 0), (shape[-2], self.embeddings.shape[-1]))
        return ops.broadcast_to(table, shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "sequence_length": self.sequence_length,
            "initializer": keras.initializers.serialize(self.initializer),
        })
        return config


def sincos_2d_positions(grid_size, dim):
    """Fixed 2D sine-cosine positions of a `grid_size x grid_size` patch grid.

    MAE's `get_2d_sincos_pos_embed` (He et al. 2022; also MoCo v3): the
    first `dim / 2` channels encode the column and the last `dim / 2` the
    row, each as `[sin(p * w_k), cos(p * w_k)]` with
    `w_k = 10000 ** (-k / (dim / 4))`, `k < dim / 4`. Patches are in
    row-major order, as `PatchEmbedding` returns them. A table whose dot
    products fall off with distance along both axes, as a start for a
    learned position table trained from scratch (a normal table of std 0.02
    is nearly invisible beside a convolutional stem's tokens).

    Args:
        grid_size: int, patches per side.
        dim: int, a multiple of 4: the width of each position.

    Returns:
        NumPy float32 `(grid_size * grid_size, dim)`.

    Example:
    >>> table = sincos_2d_positions(4, 8)
    >>> table.shape, float(table[0, 0]), float(table[0, 1])
    ((16, 8), 0.0, 0.0)
    """
    grid_size = check_positive_int("grid_size", grid_size)
    if check_positive_int("dim", dim) % 4:
        raise ValueError(f"dim must be a multiple of 4. Received: dim={dim}")
    omega = 1.0 / 10000 ** (np.arange(dim // 4, dtype="float64") / (dim / 4))
    rows, cols = np.meshgrid(np.arange(grid_size), np.arange(grid_size), indexing="ij")

    def encode(positions):
        angles = np.outer(positions.ravel(), omega)
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    return np.concatenate([encode(cols), encode(rows)], axis=1).astype("float32")


def build_linear_positions(index_dims, output_range=(-1.0, 1.0)):
    """Positions on a grid, `linspace(*output_range, n)` per index dimension.

    DeepMind's `perceiver/position_encoding.py: build_linear_positions`.

    Returns:
        float32 `(*index_dims, len(index_dims))`, meshgrid with 'ij' indexing.
    """
    ranges = [ops.linspace(output_range[0], output_range[1], n, dtype="float32")
              for n in index_dims]
    return ops.stack(ops.meshgrid(*ranges, indexing="ij"), axis=-1)


def generate_fourier_features(pos, num_bands, max_resolution, concat_pos=True,
                              sine_only=False):
    """Fourier features of positions, DeepMind's `generate_fourier_features`.

    Args:
        pos: float `(..., n, d)` positions.
        num_bands: number of frequency bands K per dimension.
        max_resolution: d resolutions; dimension i uses the frequencies
            `linspace(1, max_resolution[i] / 2, K)` (up to its Nyquist frequency).
        concat_pos: prepend the raw positions.
        sine_only: sines only instead of sines then cosines.

    Returns:
        `(..., n, C)` ordered as `[pos_1..pos_d, sin(pi f_k pos_i) for i, k,
        cos(pi f_k pos_i) for i, k]`, with k varying fastest.
    """
    freq_bands = ops.stack([
        ops.linspace(1.0, res / 2, num_bands, dtype="float32")
        for res in max_resolution], axis=0)
    features = pos[..., None] * freq_bands
    features = ops.reshape(features, tuple(ops.shape(pos)[:-1]) + (-1,))
    if sine_only:
        features = ops.sin(math.pi * features)
    else:
        features = ops.concatenate(
            [ops.sin(math.pi * features), ops.cos(math.pi * features)], axis=-1)
    if concat_pos:
        features = ops.concatenate([pos, features], axis=-1)
    return features


@keras.saving.register_keras_serializable(package="kerasmm")
class FourierPositionEncoding(keras.layers.Layer):
    """N-D Fourier feature position encoding, exactly as DeepMind's Perceiver.

    Positions are `linspace(-1, 1, n)` per index dimension on an 'ij'
    meshgrid, flattened row-major to `prod(index_dims)` points. Dimension `i`
    uses the `num_bands` frequencies `linspace(1, max_resolution[i] / 2,
    num_bands)`. The channels are `[pos (d, if concat_pos), sin(pi f pos)
    (d * num_bands), cos(pi f pos) (d * num_bands, unless sine_only)]`, each
    feature block ordered dimension-major, band-minor.

    Args:
        index_dims: the grid shape, an int or a tuple, e.g. `(224, 224)`.
        num_bands: number of frequency bands per dimension.
        max_resolution: per-dimension resolution that sets the highest
            frequency. Defaults to `index_dims`.
        concat_pos: prepend the raw positions to the features.
        sine_only: use sines only (no cosines).

    Call arguments:
        inputs: any tensor whose first dimension is the batch; only its batch
            size is used.
        pos: optional custom positions, `(n, d)` or `(batch, n, d)` with
            `d = len(index_dims)`, replacing the linear grid (DeepMind's
            `pos` argument).

    Returns:
        `(batch, prod(index_dims), output_dim)` (or `(batch, n, output_dim)`
        with `pos`), in the layer's compute dtype.

    Example:
    >>> layer = FourierPositionEncoding(index_dims=(4, 6), num_bands=3)
    >>> images = keras.random.normal((2, 4, 6, 3))
    >>> tuple(layer(images).shape)
    (2, 24, 14)
    >>> layer.output_dim
    14

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021; `perceiver/position_encoding.py` in
        github.com/google-deepmind/deepmind-research.
    """

    def __init__(self, index_dims, num_bands, max_resolution=None, concat_pos=True,
                 sine_only=False, **kwargs):
        super().__init__(**kwargs)
        self.index_dims = check_int_tuple("index_dims", index_dims)
        check_positive_int("num_bands", num_bands)
        if max_resolution is not None:
            max_resolution = check_int_tuple("max_resolution", max_resolution)
            if len(max_resolution) != len(self.index_dims):
                raise ValueError(
                    "max_resolution must have one entry per index dimension. "
                    f"Received: max_resolution={max_resolution}, "
                    f"index_dims={self.index_dims}"
                )
        self.num_bands = num_bands
        self.max_resolution = max_resolution
        self.concat_pos = bool(concat_pos)
        self.sine_only = bool(sine_only)
        # Keep a custom `pos` in float32 under mixed precision: a float16
        # position times a high frequency would lose the phase. (The layer has
        # no variables, so this only affects its inputs.)
        self.autocast = False

    @property
    def output_dim(self):
        """Number of channels of the encoding."""
        d = len(self.index_dims)
        bands = d * self.num_bands * (1 if self.sine_only else 2)
        return bands + (d if self.concat_pos else 0)

    def _check_pos(self, inputs_shape, pos_shape):
        d = len(self.index_dims)
        if len(pos_shape) not in (2, 3) or pos_shape[-1] != d:
            raise ValueError(
                f"pos must have shape (n, {d}) or (batch, n, {d}) to match "
                f"index_dims={self.index_dims}. Received: pos with shape "
                f"{tuple(pos_shape)}"
            )
        if len(pos_shape) == 3 and None not in (pos_shape[0], inputs_shape[0]) \
                and pos_shape[0] != inputs_shape[0]:
            raise ValueError(
                "pos and inputs must have the same batch size. Received: pos "
                f"batch={pos_shape[0]}, inputs batch={inputs_shape[0]}"
            )

    def call(self, inputs, pos=None):
        check_min_rank("inputs", inputs.shape, 1)
        if pos is None:
            pos = build_linear_positions(self.index_dims)
            pos = ops.reshape(pos, (-1, len(self.index_dims)))
        else:
            self._check_pos(inputs.shape, pos.shape)
            pos = ops.cast(pos, "float32")
        features = generate_fourier_features(
            pos, self.num_bands, self.max_resolution or self.index_dims,
            concat_pos=self.concat_pos, sine_only=self.sine_only)
        if len(features.shape) == 2:
            batch = ops.shape(inputs)[0]
            features = ops.broadcast_to(
                features[None], (batch,) + tuple(ops.shape(features)))
        return ops.cast(features, self.compute_dtype)

    def compute_output_shape(self, inputs_shape, pos_shape=None):
        if pos_shape is None:
            length = 1
            for n in self.index_dims:
                length *= n
            return (inputs_shape[0], length, self.output_dim)
        self._check_pos(inputs_shape, pos_shape)
        if len(pos_shape) == 3:
            return (pos_shape[0], pos_shape[1], self.output_dim)
        return (inputs_shape[0], pos_shape[0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "index_dims": self.index_dims,
            "num_bands": self.num_bands,
            "max_resolution": self.max_resolution,
            "concat_pos": self.concat_pos,
            "sine_only": self.sine_only,
        })
        return config
