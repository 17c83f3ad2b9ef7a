"""A small audio tower for CLAP: log-mel features computed in the model, then two CNN streams."""

import keras
from keras import ops

from kerasmm.preprocessing import LogMelSpectrogram
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_int_tuple
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank


@keras.saving.register_keras_serializable(package="kerasmm")
class CLAPAudioEncoder(keras.Model):
    """Waveforms `(B, samples)` (or log-mel features) -> vectors `(B, output_dim)`.

    The front end is `kerasmm.preprocessing.LogMelSpectrogram` (centred
    Hann windows of `frame_length` samples every `frame_step`,
    `fft_length`-point FFT, `num_mel_bins` HTK mel bands from 20 Hz of the
    power spectrum), read in decibels / 20 (`log10(max(power, 1e-8)) /
    2`), a range of about [-4, 2] for waveforms in [-1, 1]. The features
    `(B, frames, num_mel_bins)` then go through two streams:

    - form: the spectrogram as a one-channel image through 3x3 ReLU
      convolutions of `conv_widths` channels, each followed by a 2x2
      max-pool, then mean and max over time and frequency. Shifting a
      sound in pitch shifts its pattern, which the convolutions follow,
      so what a chirp or a beep train looks like is learnt once for all
      pitches.
    - profile: the mean and max over time of each mel band, through a
      Dense ReLU layer of `profile_width` units: where the energy sits
      (pitch) and how loud it is.

    Their concatenation goes into a Dense layer of `output_dim` units (CLAP
    adds any further projection). Keeping "what" apart from "where in
    frequency" is what lets a CLAP recognise pitch x kind combinations it
    never heard (the sounds set's held-out classes): after the same
    training, a 1D CNN over time with the mel bands as channels scored
    0.10 and 0.0 zero-shot accuracy on them (seeds 0 and 1), this tower
    0.875 and 1.0 (seeds 0 and 1); `tools/train_clap_sounds.py` measures it.

    With `waveform_input=False` the model takes features `(B, frames,
    num_mel_bins)` directly (e.g. from `kerasmm.preprocessing`'s audio
    front end) and skips its own.

    Args:
        sample_rate: int, samples per second of the waveforms.
        num_mel_bins: int, mel bands.
        frame_length: int, window length in samples (25 ms at 16 kHz: 400).
        frame_step: int, hop in samples (10 ms at 16 kHz: 160).
        fft_length: int, FFT size, >= frame_length.
        conv_widths: tuple of ints, channels of each 2D convolution.
        profile_width: int, units of the profile stream.
        output_dim: int, width of the output vector.
        waveform_input: bool, inputs are waveforms (True) or features.

    Example:

    >>> encoder = kerasmm.models.CLAPAudioEncoder(
    ...     num_mel_bins=16, conv_widths=(8, 8), profile_width=4, output_dim=4)
    >>> tuple(encoder(np.zeros((2, 1600), "float32")).shape)
    (2, 4)
    """

    def __init__(self, sample_rate=16000, num_mel_bins=64, frame_length=400,
                 frame_step=160, fft_length=512, conv_widths=(16, 32, 32),
                 profile_width=32, output_dim=128, waveform_input=True, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.num_mel_bins = check_positive_int("num_mel_bins", num_mel_bins)
        self.frame_length = check_positive_int("frame_length", frame_length)
        self.frame_step = check_positive_int("frame_step", frame_step)
        self.fft_length = check_int("fft_length", fft_length, minimum=self.frame_length)
        self.conv_widths = check_int_tuple("conv_widths", conv_widths)
        self.profile_width = check_positive_int("profile_width", profile_width)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.waveform_input = check_bool("waveform_input", waveform_input)

        # === Layers ===
        self.melspectrogram = None
        if self.waveform_input:
            self.melspectrogram = LogMelSpectrogram(
                sample_rate=self.sample_rate, num_mel_bins=self.num_mel_bins,
                frame_length=self.frame_length, frame_step=self.frame_step,
                fft_length=self.fft_length, center=True, min_frequency=20.0,
                log="log10", mel_floor=1e-8, dtype="float32", name="melspectrogram")
        self.convs = [keras.layers.Conv2D(width, 3, padding="same", activation="relu",
                                          dtype=self.dtype_policy, name=f"conv_{i}")
                      for i, width in enumerate(self.conv_widths)]
        self.pool = keras.layers.MaxPooling2D(2, padding="same", dtype=self.dtype_policy,
                                              name="pool")
        self.profile_dense = keras.layers.Dense(self.profile_width, activation="relu",
                                                dtype=self.dtype_policy, name="profile_dense")
        self.output_dense = keras.layers.Dense(self.output_dim, dtype=self.dtype_policy,
                                               name="output_dense")

    def log_mel(self, waveforms):
        """Log-mel features `(B, frames, num_mel_bins)` of float waveforms `(B, samples)`."""
        return self.melspectrogram(ops.cast(waveforms, "float32")) / 2.0

    def build(self, input_shape):
        rank = 2 if self.waveform_input else 3
        check_rank("inputs", input_shape, rank)
        if self.melspectrogram is not None:
            self.melspectrogram.build(input_shape)
        channels = 1
        for conv in self.convs:
            conv.build((None, None, self.num_mel_bins, channels))
            channels = conv.filters
        self.pool.build((None, None, None, channels))
        self.profile_dense.build((None, 2 * self.num_mel_bins))
        self.output_dense.build((None, 2 * channels + self.profile_width))
        self.built = True

    def call(self, inputs):
        check_rank("inputs", inputs.shape, 2 if self.waveform_input else 3)
        features = self.log_mel(inputs) if self.waveform_input else inputs
        features = ops.cast(features, self.compute_dtype)
        x = features[..., None]
        for conv in self.convs:
            x = self.pool(conv(x))
        form = [ops.mean(x, axis=(1, 2)), ops.max(x, axis=(1, 2))]
        profile = self.profile_dense(ops.concatenate(
            [ops.mean(features, axis=1), ops.max(features, axis=1)], axis=-1))
        return self.output_dense(ops.concatenate(form + [profile], axis=-1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "sample_rate": self.sample_rate,
            "num_mel_bins": self.num_mel_bins,
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "fft_length": self.fft_length,
            "conv_widths": list(self.conv_widths),
            "profile_width": self.profile_width,
            "output_dim": self.output_dim,
            "waveform_input": self.waveform_input,
        })
        return config


@keras.saving.register_keras_serializable(package="kerasmm")
class PooledAudioTower(keras.Model):
    """A tower returning a dict of outputs, read at one key: `(B, width)` vectors.

    Makes `kerasmm.models.AudioSpectrogramTransformer` (whose output is
    `{"sequence_output", "pooled_output"}`) a CLAP audio tower: `CLAP`
    wraps it in this class by itself. Built on features `(B, max_length,
    num_mel_bins)` when the tower has those attributes.

    Args:
        encoder: Keras model returning a dict.
        key: str, the entry to return.

    Example:

    >>> ast = kerasmm.models.AudioSpectrogramTransformer(num_mel_bins=20, max_length=30,
    ...     patch_size=8, frequency_stride=6, time_stride=11, hidden_dim=8, num_layers=1,
    ...     num_heads=2)
    >>> tower = PooledAudioTower(ast)
    >>> tuple(tower(np.zeros((2, 30, 20), "float32")).shape)
    (2, 8)
    """

    def __init__(self, encoder, key="pooled_output", **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.key = key
        shape = [getattr(encoder, name, None) for name in ("max_length", "num_mel_bins")]
        if None not in shape:
            self.build((None, *shape))

    def build(self, input_shape):
        if not self.encoder.built:
            self.encoder.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        outputs = self.encoder(inputs, training=training)
        if not isinstance(outputs, dict) or self.key not in outputs:
            raise ValueError(f"encoder must return a dict with the key {self.key!r}. "
                             f"Received: encoder output of type {type(outputs).__name__}")
        return outputs[self.key]

    def compute_output_spec(self, inputs, training=None):
        return self.encoder.compute_output_spec(inputs)[self.key]

    def get_config(self):
        config = super().get_config()
        config.update({"encoder": keras.saving.serialize_keras_object(self.encoder),
                       "key": self.key})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
