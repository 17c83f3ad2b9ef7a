"""AST's preprocessor: waveforms -> normalised Kaldi filter banks."""

import keras
from keras import ops

from kerasmm.models.ast.ast_presets import AST_PRESETS
from kerasmm.presets import load
from kerasmm.presets.build import check_overrides
from kerasmm.presets.preprocessor import Preprocessor
from kerasmm.preprocessing.audio_kaldi import KaldiFilterBank
from kerasmm.preprocessing.audio_ops import resample
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int

# AudioSet's log-mel statistics (Hugging Face `ASTFeatureExtractor`'s defaults).
AUDIOSET_MEAN = -4.2677393
AUDIOSET_STD = 4.5689974
_CONSTANTS = ("sample_rate", "num_mel_bins", "max_length", "mean", "std", "do_normalize")


@keras.saving.register_keras_serializable(package="kerasmm")
class ASTPreprocessor(Preprocessor):
    """Turns waveforms into the features of `AudioSpectrogramTransformer`.

    As Hugging Face's `ASTFeatureExtractor`: Kaldi filter banks
    (`kerasmm.preprocessing.KaldiFilterBank` with a symmetric Hann window,
    25 ms frames every 10 ms, 512-point FFT, 20 Hz to Nyquist), zero frames
    appended up to `max_length` or frames beyond it dropped, then
    `(x - mean) / (2 * std)`. A waveform at another `sample_rate` (call
    argument) is first resampled (`kerasmm.preprocessing.resample`).

    The filter banks are computed in `feature_dtype` (float64 by default,
    as Hugging Face's numpy path; features equal to ~1e-6) and returned as
    float32. On JAX, float64 needs `jax_enable_x64` (else float32: equal to
    ~1e-5 except in bins near the energy floor, up to ~3e-4). Keras ops:
    eagerly on any backend, and in `tf.data` on TensorFlow.

    Args:
        sample_rate: int, the model's sample rate (16000).
        num_mel_bins: int, mel bins (128).
        max_length: int, frames (1024: 10.24 s).
        mean: float, subtracted from the log energies.
        std: float, the log energies are divided by twice it.
        do_normalize: bool, apply `mean` and `std`.
        feature_dtype: `"float64"` or `"float32"`, the filter banks' dtype.

    Call arguments:
        waveform: float `(B, samples)` or `(samples,)`, mono, in [-1, 1].
        sample_rate: int, the waveform's rate (default `sample_rate`).

    Returns:
        float32 `(B, max_length, num_mel_bins)` (or without `B`).

    Example:
    >>> preprocessor = ASTPreprocessor(num_mel_bins=32, max_length=50)
    >>> tuple(preprocessor(np.zeros((2, 4000), "float32")).shape)
    (2, 50, 32)
    >>> tuple(preprocessor(np.zeros((2, 2000), "float32"), sample_rate=8000).shape)
    (2, 50, 32)
    """

    def __init__(self, sample_rate=16000, num_mel_bins=128, max_length=1024,
                 mean=AUDIOSET_MEAN, std=AUDIOSET_STD, do_normalize=True,
                 feature_dtype="float64", **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.num_mel_bins = check_positive_int("num_mel_bins", num_mel_bins)
        self.max_length = check_positive_int("max_length", max_length)
        self.mean = check_number("mean", mean)
        self.std = check_number("std", std, minimum=0, exclusive_minimum=True)
        self.do_normalize = check_bool("do_normalize", do_normalize)
        self.feature_dtype = check_choice("feature_dtype", feature_dtype,
                                          ("float64", "float32"))
        self.filter_bank = KaldiFilterBank(sample_rate, num_mel_bins, window="hann",
                                           dtype=feature_dtype, name="filter_bank")

    def call(self, waveform, sample_rate=None):
        if len(waveform.shape) == 1:
            return self.call(waveform[None], sample_rate=sample_rate)[0]
        if sample_rate is not None and sample_rate != self.sample_rate:
            waveform = resample(waveform, sample_rate, self.sample_rate)
        features = self.filter_bank(waveform)
        frames = ops.shape(features)[1]
        features = ops.pad(features[:, :self.max_length],
                           [[0, 0], [0, ops.maximum(self.max_length - frames, 0)], [0, 0]])
        if self.do_normalize:
            features = (features - self.mean) / (2.0 * self.std)
        features = ops.cast(features, "float32")
        return ops.reshape(features, (-1, self.max_length, self.num_mel_bins))

    # === Presets ===

    @classmethod
    def from_preset(cls, preset, allow_unpinned=False, **overrides):
        """The preprocessor of an AST preset name, directory or `hf://org/repo`
        (whose presets hold `kerasmm.tasks.AudioClassifier`s)."""
        check_overrides(cls, overrides)
        constants, assets = load.load_preprocessing(preset, presets=AST_PRESETS,
                                                    allow_unpinned=allow_unpinned)
        return cls(**{**cls.preset_arguments(constants, assets), **overrides})

    @classmethod
    def preset_arguments(cls, preprocessing, assets):
        return {k: preprocessing[k] for k in _CONSTANTS if k in preprocessing}

    def preset_preprocessing(self):
        return {k: getattr(self, k) for k in _CONSTANTS}

    def get_config(self):
        return {**super().get_config(), **self.preset_preprocessing(),
                "feature_dtype": self.feature_dtype}
