"""Waveform operations in `keras.ops`: resampling, padding and cropping.

`resample` is a polyphase windowed-sinc resampler, the method and filter
of `scipy.signal.resample_poly` (defaults: Kaiser window, beta 5, half
length `10 * max(up, down)` input-rate samples at the upsampled rate):
same outputs to float32 rounding.
"""

import math

import numpy as np
from keras import ops

from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_positive_int

PADDINGS = ("repeatpad", "repeat", "pad")


def _lowpass(up, down):
    """scipy's `firwin(2 * half + 1, 1 / max(up, down), window=("kaiser", 5.0)) * up`."""
    rate = max(up, down)
    half = 10 * rate
    taps = np.arange(2 * half + 1, dtype=np.float64) - half
    h = np.sinc(taps / rate) / rate * np.kaiser(2 * half + 1, 5.0)
    return h / h.sum() * up, half


def polyphase_filters(up, down):
    """`(filters (up, taps), offset)`: row r holds the taps of output
    phase r; see `resample`."""
    h, half = _lowpass(up, down)
    pre_pad = down - half % down
    h = np.concatenate([np.zeros(pre_pad), h])
    taps = -(-len(h) // up)
    h = np.concatenate([h, np.zeros(taps * up - len(h))])
    return h.reshape(taps, up).T.astype("float32"), (half + pre_pad) // down


def resample(waveform, from_rate, to_rate):
    """Resamples `waveform` `(..., samples)` from `from_rate` to `to_rate` hertz.

    Polyphase filtering with scipy's `resample_poly` filter (see the
    module docstring): the rates' ratio is reduced to `up / down`, and
    output sample `i` is `sum_t H[r_i, t] * x[j_i - t]` with `r_i`, `j_i`
    the phase and last input sample of upsampled position
    `(i + offset) * down`. Output length `ceil(samples * up / down)`.
    Float32, `keras.ops` only (in a model, or `tf.data` on TensorFlow).

    Args:
        waveform: float `(..., samples)`.
        from_rate: int, the waveform's sample rate.
        to_rate: int, the sample rate wanted.

    Example:
    >>> tuple(resample(np.zeros((2, 441), "float32"), 44100, 16000).shape)
    (2, 160)
    """
    from_rate = check_positive_int("from_rate", from_rate)
    to_rate = check_positive_int("to_rate", to_rate)
    waveform = ops.cast(waveform, "float32")
    if from_rate == to_rate:
        return waveform
    divisor = math.gcd(from_rate, to_rate)
    up, down = to_rate // divisor, from_rate // divisor
    filters, offset = polyphase_filters(up, down)
    taps = filters.shape[1]
    samples = ops.shape(waveform)[-1]
    count = (samples * up + down - 1) // down
    position = (ops.arange(count, dtype="int32") + offset) * down
    phase, last = position % up, position // up
    indices = last[:, None] - ops.arange(taps, dtype="int32")[None, :]
    valid = ops.logical_and(indices >= 0, indices < samples)
    weights = ops.where(valid, ops.take(ops.convert_to_tensor(filters), phase, axis=0), 0.0)
    gathered = ops.take(waveform, ops.clip(indices, 0, samples - 1), axis=-1)
    return ops.sum(gathered * weights, axis=-1)


def pad_or_repeat(waveform, length, padding="repeatpad"):
    """Waveforms `(B, samples)` shorter than `length`, made `length` long.

    As Hugging Face's `ClapFeatureExtractor`: `"repeatpad"` repeats the
    waveform `length // samples` times then pads with zeros, `"repeat"`
    repeats it and cuts at `length`, `"pad"` pads with zeros. A waveform
    of `length` samples or more is returned unchanged (see `crop`).

    Example:
    >>> ops.convert_to_numpy(pad_or_repeat(np.array([[1., 2.]]), 5)).tolist()
    [[1.0, 2.0, 1.0, 2.0, 0.0]]
    """
    length = check_positive_int("length", length)
    check_choice("padding", padding, PADDINGS)
    samples = waveform.shape[-1]
    if samples is None:
        raise ValueError("pad_or_repeat needs a static number of samples. Received: "
                         f"waveform with shape {tuple(waveform.shape)}")
    if samples >= length:
        return waveform
    if padding != "pad":
        repeats = length // samples + (1 if padding == "repeat" else 0)
        waveform = ops.tile(waveform, [1] * (len(waveform.shape) - 1) + [repeats])
        waveform = waveform[..., :length]
    extra = length - waveform.shape[-1]
    return ops.pad(waveform, [[0, 0]] * (len(waveform.shape) - 1) + [[0, extra]])


def crop(waveform, length, offset=0):
    """`waveform[..., offset:offset + length]`, checked to fit.

    `ClapFeatureExtractor`'s `"rand_trunc"` crops at a random offset
    (`np.random.randint(0, samples - length + 1)`); pass the offset you
    draw (a fixed one, e.g. 0 or the centre, at evaluation).
    """
    length = check_positive_int("length", length)
    offset = check_int("offset", offset, minimum=0)
    samples = waveform.shape[-1]
    if samples is not None and offset + length > samples:
        raise ValueError(f"offset + length must be <= the waveform's {samples} samples. "
                         f"Received: offset={offset}, length={length}")
    return waveform[..., offset:offset + length]
