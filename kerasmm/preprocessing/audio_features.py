"""Waveform -> (log-)mel spectrogram as a Keras layer (`LogMelSpectrogram`).

The filter banks and windows are numpy constants computed once, in float64
as Hugging Face's `transformers.audio_utils` computes them; the layer's
math is `keras.ops` (framing by gather, `ops.rfft`, a matmul with the
filter bank), so it runs inside a model on every backend and, on the
TensorFlow backend, inside `tf.data.Dataset.map`.
"""

import keras
import numpy as np
from keras import ops

from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int

MEL_SCALES = ("htk", "kaldi", "slaney")
WINDOWS = ("hann", "hamming", "povey", "rectangular")
LOG_MODES = ("log", "log10", "db", None)


# === Constants (numpy, float64) ===


def hertz_to_mel(frequency, mel_scale="htk"):
    """Hertz to mels: `"htk"` (2595 log10), `"kaldi"` (1127 ln) or
    `"slaney"` (linear below 1 kHz, logarithmic above, as librosa)."""
    frequency = np.asarray(frequency, np.float64)
    if mel_scale == "htk":
        return 2595.0 * np.log10(1.0 + frequency / 700.0)
    if mel_scale == "kaldi":
        return 1127.0 * np.log(1.0 + frequency / 700.0)
    logstep = 27.0 / np.log(6.4)
    return np.where(frequency >= 1000.0,
                    15.0 + np.log(np.maximum(frequency, 1e-10) / 1000.0) * logstep,
                    3.0 * frequency / 200.0)


def mel_to_hertz(mels, mel_scale="htk"):
    """The inverse of `hertz_to_mel`."""
    mels = np.asarray(mels, np.float64)
    if mel_scale == "htk":
        return 700.0 * (np.power(10.0, mels / 2595.0) - 1.0)
    if mel_scale == "kaldi":
        return 700.0 * (np.exp(mels / 1127.0) - 1.0)
    logstep = np.log(6.4) / 27.0
    return np.where(mels >= 15.0, 1000.0 * np.exp(logstep * (mels - 15.0)), 200.0 * mels / 3.0)


def mel_filter_bank(num_frequency_bins, num_mel_bins, min_frequency, max_frequency,
                    sample_rate, mel_scale="htk", norm=None, triangularize_in_mel_space=False):
    """Triangular mel filters, `(num_frequency_bins, num_mel_bins)` float64.

    As `transformers.audio_utils.mel_filter_bank`: `num_mel_bins + 2`
    edges equally spaced in mels between `min_frequency` and
    `max_frequency`; triangles in hertz (torchaudio's and librosa's), or in
    mels when `triangularize_in_mel_space` (Kaldi's); `norm="slaney"`
    divides each by its width in hertz (librosa's area normalisation).
    """
    mel_edges = np.linspace(hertz_to_mel(min_frequency, mel_scale),
                            hertz_to_mel(max_frequency, mel_scale), num_mel_bins + 2)
    edges = mel_to_hertz(mel_edges, mel_scale)
    if triangularize_in_mel_space:
        bin_width = sample_rate / ((num_frequency_bins - 1) * 2)
        bins = hertz_to_mel(bin_width * np.arange(num_frequency_bins), mel_scale)
        points = mel_edges
    else:
        bins = np.linspace(0, sample_rate // 2, num_frequency_bins)
        points = edges
    gaps = np.diff(points)
    slopes = points[None, :] - bins[:, None]
    down = -slopes[:, :-2] / gaps[:-1]
    up = slopes[:, 2:] / gaps[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    if norm == "slaney":
        filters *= 2.0 / (edges[2:] - edges[:-2])[None, :]
    return filters


def window_function(name, length, periodic=True):
    """A window of `length` samples, float64: `"hann"`, `"hamming"`,
    `"povey"` (Kaldi's: Hann to the power 0.85) or `"rectangular"`;
    `periodic` (for spectral analysis) or symmetric."""
    size = length + 1 if periodic else length
    if name == "rectangular":
        window = np.ones(size)
    elif name == "hamming":
        window = np.hamming(size)
    else:
        window = np.hanning(size)
        if name == "povey":
            window = window ** 0.85
    return window[:-1] if periodic else window


# === The layer ===


@keras.saving.register_keras_serializable(package="kerasmm")
class LogMelSpectrogram(keras.layers.Layer):
    """Waveforms `(B, samples)` -> (log-)mel spectrograms `(B, frames, num_mel_bins)`.

    The steps of `transformers.audio_utils.spectrogram`: optionally pad
    `frame_length // 2` on each side (`center`), cut frames of
    `frame_length` every `frame_step` samples, per frame subtract its mean
    (`remove_dc_offset`) and pre-emphasise (`x[i] -= preemphasis *
    x[i-1]`, `x[0] *= 1 - preemphasis`), multiply by the window, zero-pad
    to `fft_length`, take `|rfft| ** power`, apply the mel filters, floor at
    `mel_floor` and take the log (`"log"`, `"log10"` or decibels `"db"`,
    then clipped to `top_db` below each example's maximum).

    Computed in float32 whatever the dtype policy. Hugging Face computes
    in float64 with a complex64 FFT: the features agree to ~1e-5 where the
    energy is far above the floor (see the parity tests).

    Args:
        sample_rate: int, samples per second.
        num_mel_bins: int, number of mel filters.
        frame_length: int, samples per frame (the window's length).
        frame_step: int, samples between frame starts (hop).
        fft_length: int >= frame_length, FFT size (default frame_length).
        window: `"hann"`, `"hamming"`, `"povey"` or `"rectangular"`.
        periodic_window: bool, periodic (True) or symmetric window.
        center: bool, pad `frame_length // 2` samples on both sides.
        pad_mode: `"reflect"` or `"constant"`, the padding of `center`.
        power: 1.0 (magnitude) or 2.0 (power).
        min_frequency: float, lowest filter edge in hertz.
        max_frequency: float, highest edge (default `sample_rate / 2`).
        mel_scale: `"htk"`, `"kaldi"` or `"slaney"`.
        mel_norm: None or `"slaney"` (area normalisation).
        triangularize_in_mel_space: bool, triangles in mels (Kaldi).
        remove_dc_offset: bool, subtract each frame's mean.
        preemphasis: None or float in [0, 1), pre-emphasis coefficient.
        dither: float >= 0, Gaussian noise added to frames in training
            only (0: none; inference never dithers).
        log: `"log"`, `"log10"`, `"db"` or None (mel energies).
        mel_floor: float > 0, the floor applied before the log.
        top_db: None or float > 0, dynamic range kept with `"db"`.

    Call arguments:
        waveform: float `(B, samples)` or `(samples,)`.

    Returns:
        float32 `(B, frames, num_mel_bins)` (or `(frames, num_mel_bins)`),
        `frames = 1 + (samples + 2 * pad - frame_length) // frame_step`.

    Example:
    >>> layer = LogMelSpectrogram(sample_rate=8000, num_mel_bins=16, frame_length=200,
    ...                           frame_step=80, fft_length=256)
    >>> tuple(layer(np.zeros((2, 8000), "float32")).shape)
    (2, 98, 16)
    """

    def __init__(self, sample_rate=16000, num_mel_bins=128, frame_length=400, frame_step=160,
                 fft_length=None, window="hann", periodic_window=True, center=False,
                 pad_mode="reflect", power=2.0, min_frequency=0.0, max_frequency=None,
                 mel_scale="htk", mel_norm=None, triangularize_in_mel_space=False,
                 remove_dc_offset=False, preemphasis=None, dither=0.0, log="log",
                 mel_floor=1e-10, top_db=None, **kwargs):
        kwargs.setdefault("dtype", "float32")  # Spectra overflow float16.
        super().__init__(**kwargs)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.num_mel_bins = check_positive_int("num_mel_bins", num_mel_bins)
        self.frame_length = check_positive_int("frame_length", frame_length)
        self.frame_step = check_positive_int("frame_step", frame_step)
        self.fft_length = check_positive_int("fft_length", fft_length or frame_length)
        if self.fft_length < self.frame_length:
            raise ValueError(f"fft_length must be >= frame_length={frame_length}. "
                             f"Received: fft_length={fft_length}")
        self.window = check_choice("window", window, WINDOWS)
        self.periodic_window = check_bool("periodic_window", periodic_window)
        self.center = check_bool("center", center)
        self.pad_mode = check_choice("pad_mode", pad_mode, ("reflect", "constant"))
        self.power = check_choice("power", power, (1.0, 2.0))
        self.min_frequency = check_number("min_frequency", min_frequency, minimum=0)
        nyquist = sample_rate / 2
        self.max_frequency = check_number("max_frequency", max_frequency, allow_none=True)
        if self.max_frequency is not None and not (self.min_frequency < self.max_frequency
                                                   <= nyquist):
            raise ValueError(f"max_frequency must be in (min_frequency, sample_rate / 2 = "
                             f"{nyquist}]. Received: max_frequency={max_frequency}")
        self.mel_scale = check_choice("mel_scale", mel_scale, MEL_SCALES)
        self.mel_norm = check_choice("mel_norm", mel_norm, (None, "slaney"))
        self.triangularize_in_mel_space = check_bool("triangularize_in_mel_space",
                                                     triangularize_in_mel_space)
        self.remove_dc_offset = check_bool("remove_dc_offset", remove_dc_offset)
        self.preemphasis = check_number("preemphasis", preemphasis, minimum=0, allow_none=True)
        if self.preemphasis is not None and self.preemphasis >= 1:
            raise ValueError(f"preemphasis must be in [0, 1). Received: preemphasis={preemphasis}")
        self.dither = check_number("dither", dither, minimum=0)
        self.log = check_choice("log", log, LOG_MODES)
        self.mel_floor = check_number("mel_floor", mel_floor, minimum=0, exclusive_minimum=True)
        self.top_db = check_number("top_db", top_db, minimum=0, exclusive_minimum=True,
                                   allow_none=True)
        if self.top_db is not None and self.log != "db":
            raise ValueError(f"top_db needs log='db'. Received: top_db={top_db}, log={log!r}")
        # Some filters may hold no bin (AST's 128 Kaldi bins at 16 kHz): as
        # Kaldi and Hugging Face, their energy is the floor.
        self._filters = self.filter_bank()
        self._window = window_function(window, frame_length, periodic_window)
        if self.dither:
            self.seed_generator = keras.random.SeedGenerator(0)
        self.built = True

    def filter_bank(self):
        """The mel filters, `(fft_length // 2 + 1, num_mel_bins)` float64."""
        return mel_filter_bank(
            self.fft_length // 2 + 1, self.num_mel_bins, self.min_frequency,
            self.max_frequency or self.sample_rate / 2, self.sample_rate, self.mel_scale,
            self.mel_norm, self.triangularize_in_mel_space)

    def num_frames(self, num_samples):
        """Frames of a waveform of `num_samples` samples (None if unknown)."""
        if num_samples is None:
            return None
        padded = num_samples + (2 * (self.frame_length // 2) if self.center else 0)
        return max(0, 1 + (padded - self.frame_length) // self.frame_step)

    def frames(self, waveform):
        """`(B, frames, frame_length)` float32 frames of `(B, samples)`."""
        if self.center:
            pad = self.frame_length // 2
            waveform = ops.pad(waveform, [[0, 0], [pad, pad]], mode=self.pad_mode)
        count = 1 + (ops.shape(waveform)[1] - self.frame_length) // self.frame_step
        starts = ops.arange(count, dtype="int32") * self.frame_step
        indices = starts[:, None] + ops.arange(self.frame_length, dtype="int32")[None, :]
        return ops.take(waveform, indices, axis=1)

    def call(self, waveform, training=None):
        waveform = ops.cast(waveform, self.compute_dtype)
        rank = len(waveform.shape)
        if rank not in (1, 2):
            raise ValueError(f"waveform must have rank 1 (samples,) or 2 (batch, samples). "
                             f"Received: waveform with shape {tuple(waveform.shape)}")
        if rank == 1:
            return self.call(waveform[None], training=training)[0]
        samples = waveform.shape[1]
        if samples is not None and samples < self.frame_length - (
                2 * (self.frame_length // 2) if self.center else 0):
            raise ValueError(f"waveform must have at least frame_length={self.frame_length} "
                             f"samples. Received: waveform with shape {tuple(waveform.shape)}")
        x = self.frames(waveform)
        if training and self.dither:
            x = x + self.dither * keras.random.normal(ops.shape(x), seed=self.seed_generator)
        if self.remove_dc_offset:
            x = x - ops.mean(x, axis=-1, keepdims=True)
        if self.preemphasis is not None:
            previous = ops.concatenate([x[..., :1], x[..., :-1]], axis=-1)
            x = x - self.preemphasis * previous
        x = x * ops.convert_to_tensor(self._window, self.compute_dtype)
        real, imag = ops.rfft(x, fft_length=self.fft_length)
        spectrum = real * real + imag * imag
        if self.power == 1.0:
            spectrum = ops.sqrt(spectrum)
        filters = ops.convert_to_tensor(self._filters, self.compute_dtype)
        mel = ops.maximum(ops.matmul(spectrum, filters), self.mel_floor)
        if self.log == "log":
            return ops.log(mel)
        if self.log == "log10":
            return ops.log10(mel)
        if self.log == "db":
            decibels = 10.0 * ops.log10(mel)
            if self.top_db is not None:
                peak = ops.max(decibels, axis=(1, 2), keepdims=True)
                decibels = ops.maximum(decibels, peak - self.top_db)
            return decibels
        return mel

    def compute_output_shape(self, input_shape):
        frames = (self.num_frames(input_shape[-1]),) + (self.num_mel_bins,)
        return tuple(input_shape[:-1]) + frames

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "sample_rate", "num_mel_bins", "frame_length", "frame_step", "fft_length",
            "window", "periodic_window", "center", "pad_mode", "power", "min_frequency",
            "max_frequency", "mel_scale", "mel_norm", "triangularize_in_mel_space",
            "remove_dc_offset", "preemphasis", "dither", "log", "mel_floor", "top_db")})
        return config
