"""Kaldi's filter-bank features (`compute-fbank-feats`) as a Keras layer."""

import keras

from kerasmm.preprocessing.audio_features import LogMelSpectrogram
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_number

# Kaldi floors mel energies at float32's machine epsilon before the log.
KALDI_EPSILON = 1.1920928955078125e-07
# `LogMelSpectrogram` arguments the Kaldi arguments determine.
DERIVED = ("frame_length", "frame_step", "fft_length", "periodic_window", "center", "power",
           "min_frequency", "max_frequency", "mel_scale", "mel_norm",
           "triangularize_in_mel_space", "log", "mel_floor", "top_db", "pad_mode")


@keras.saving.register_keras_serializable(package="kerasmm")
class KaldiFilterBank(LogMelSpectrogram):
    """Kaldi-style log mel filter banks: `(B, samples)` -> `(B, frames, num_mel_bins)`.

    As `torchaudio.compliance.kaldi.fbank` (and Kaldi's
    `compute-fbank-feats`) with `snip_edges=True`: frames of
    `frame_length_ms` every `frame_shift_ms` (no padding: `frames = 1 +
    (samples - frame_length) // frame_shift`), each frame's mean removed,
    pre-emphasis 0.97 (first sample against itself), a symmetric window
    (Kaldi's `"povey"` by default; AST uses `"hann"`), zero-padded to the
    next power of two, power spectrum, triangular filters in Kaldi's mel
    scale (1127 ln(1 + f / 700), triangles in mel space) between
    `low_freq` and `high_freq` (`<= 0`: Nyquist plus it), energies floored
    at float32 epsilon, natural log. `dither` adds Gaussian noise of that
    standard deviation only in training (Kaldi dithers by default;
    inference here never does).

    Hugging Face's `ASTFeatureExtractor` without torchaudio computes
    exactly these steps with `window="hann"` in numpy
    (`transformers.audio_utils.spectrogram`).

    Args:
        sample_rate: int, samples per second.
        num_mel_bins: int, number of filters.
        frame_length_ms: float, frame length in milliseconds.
        frame_shift_ms: float, frame shift in milliseconds.
        window: `"povey"`, `"hann"`, `"hamming"` or `"rectangular"`.
        preemphasis: float in [0, 1), pre-emphasis coefficient.
        remove_dc_offset: bool, subtract each frame's mean.
        low_freq: float, lowest filter edge in hertz.
        high_freq: float, highest edge; `<= 0` means Nyquist + high_freq.
        dither: float >= 0, training-time dither.
        round_to_power_of_two: bool, FFT size the next power of two.
        use_log_fbank: bool, log energies (else the energies).

    Example:
    >>> layer = KaldiFilterBank(num_mel_bins=23)
    >>> tuple(layer(np.zeros((1, 16000), "float32")).shape)
    (1, 98, 23)
    """

    def __init__(self, sample_rate=16000, num_mel_bins=128, frame_length_ms=25.0,
                 frame_shift_ms=10.0, window="povey", preemphasis=0.97, remove_dc_offset=True,
                 low_freq=20.0, high_freq=0.0, dither=0.0, round_to_power_of_two=True,
                 use_log_fbank=True, **kwargs):
        for name in DERIVED:
            if name in kwargs:
                raise TypeError(f"KaldiFilterBank sets {name} itself; use the Kaldi arguments "
                                f"(frame_length_ms, low_freq, ...). Received: {name}="
                                f"{kwargs[name]!r}")
        frame_length_ms = check_number("frame_length_ms", frame_length_ms, minimum=0,
                                       exclusive_minimum=True)
        frame_shift_ms = check_number("frame_shift_ms", frame_shift_ms, minimum=0,
                                      exclusive_minimum=True)
        check_number("sample_rate", sample_rate, minimum=0, exclusive_minimum=True)
        frame_length = int(sample_rate * frame_length_ms * 0.001)
        frame_step = int(sample_rate * frame_shift_ms * 0.001)
        round_to_power_of_two = check_bool("round_to_power_of_two", round_to_power_of_two)
        fft_length = (1 << max(0, frame_length - 1).bit_length() if round_to_power_of_two
                      else frame_length)
        high_freq = check_number("high_freq", high_freq)
        nyquist = sample_rate / 2
        max_frequency = high_freq if high_freq > 0 else nyquist + high_freq
        self.frame_length_ms = frame_length_ms
        self.frame_shift_ms = frame_shift_ms
        self.low_freq = check_number("low_freq", low_freq, minimum=0)
        self.high_freq = high_freq
        self.round_to_power_of_two = round_to_power_of_two
        self.use_log_fbank = check_bool("use_log_fbank", use_log_fbank)
        super().__init__(
            sample_rate=sample_rate, num_mel_bins=num_mel_bins, frame_length=frame_length,
            frame_step=frame_step, fft_length=fft_length, window=window,
            periodic_window=False, center=False, power=2.0, min_frequency=low_freq,
            max_frequency=max_frequency, mel_scale="kaldi", triangularize_in_mel_space=True,
            remove_dc_offset=remove_dc_offset, preemphasis=preemphasis, dither=dither,
            log="log" if use_log_fbank else None, mel_floor=KALDI_EPSILON, **kwargs)

    def get_config(self):
        config = super().get_config()
        for name in DERIVED:
            del config[name]
        config.update({name: getattr(self, name) for name in (
            "frame_length_ms", "frame_shift_ms", "low_freq", "high_freq",
            "round_to_power_of_two", "use_log_fbank")})
        return config
