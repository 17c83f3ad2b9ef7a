"""The audio front end: parity with Hugging Face's `ASTFeatureExtractor` and
`ClapFeatureExtractor` numpy paths (fixtures written by
tools/make_audio_feature_fixtures.py), Kaldi's conventions, tf.data, a
model, configs, and errors.

Tolerances: in float64 (TensorFlow) the features match everywhere to
<= 1e-4 (measured: 6e-7 log units for AST, 4e-6 dB for CLAP). In float32
(the default, any backend) they match to <= 1e-4 within 50 dB of each
example's peak (measured: 2e-5 AST, 3e-5 CLAP; within 60 dB: 1.4e-4); bins
further down, near the energy floor, carry float32's rounding (the window and FFT round at ~1e-7 of the peak amplitude) and
differ by up to ~3e-3 log units / ~0.5 dB.
"""

import os

import keras
import numpy as np
import pytest

from kerasmm.preprocessing import KaldiFilterBank
from kerasmm.preprocessing import LogMelSpectrogram
from kerasmm.preprocessing import crop
from kerasmm.preprocessing import pad_or_repeat
from kerasmm.preprocessing.audio_features import mel_filter_bank

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "audio_features")


def load(name):
    return np.load(os.path.join(FIXTURES, f"{name}.npz"))


def clap_layer(slaney, **kwargs):
    extra = {"mel_scale": "slaney", "mel_norm": "slaney"} if slaney else {}
    return LogMelSpectrogram(48000, 64, frame_length=1024, frame_step=480, center=True,
                             log="db", max_frequency=14000, **extra, **kwargs)


def assert_close_near_peak(actual, expected, decibels, log_unit_db, atol=1e-4):
    """|actual - expected| <= atol where `expected` is within `decibels` of
    each example's peak (`log_unit_db`: dB per unit of the features)."""
    peak = expected.max(axis=(-2, -1), keepdims=True)
    near = expected > peak - decibels / log_unit_db
    assert near.mean() > 0.1  # Not vacuous ("pad" leaves most frames at the floor).
    np.testing.assert_allclose(actual[near], expected[near], atol=atol, rtol=0)


def clap_cases(fixture):
    """`(name, waveforms, slaney filters, expected (B, frames, 64))` of every
    deterministic case."""
    for truncation in ("fusion", "rand_trunc"):
        for padding in ("repeatpad", "repeat", "pad"):
            expected = fixture[f"{truncation}_{padding}"]
            if truncation == "fusion":  # Short inputs: four identical copies.
                np.testing.assert_array_equal(expected[:, 0], expected[:, 3])
            yield (f"{truncation}_{padding}", pad_or_repeat(fixture["short"], 12000, padding),
                   truncation == "rand_trunc", expected[:, 0])
    long = crop(fixture["long"], 12000, int(fixture["long_offset"]))
    yield "long_rand_trunc", long, True, fixture["long_rand_trunc"][:, 0]


# === Parity ===


def test_kaldi_fbank_matches_ast_extractor_float32():
    fixture = load("ast")
    features = np.asarray(KaldiFilterBank(window="hann")(fixture["waveforms"]))
    assert features.shape == fixture["fbank"].shape == (3, 58, 128)
    assert_close_near_peak(features, fixture["fbank"], 50, 10 / np.log(10))
    np.testing.assert_allclose(features, fixture["fbank"], atol=5e-3)


def test_clap_features_match_clap_extractor_float32():
    fixture = load("clap")
    layers = {False: clap_layer(False), True: clap_layer(True)}
    for name, waveform, slaney, expected in clap_cases(fixture):
        features = np.asarray(layers[slaney](waveform))
        assert features.shape == expected.shape == (len(waveform), 26, 64), name
        assert_close_near_peak(features, expected, 50, 1.0)
        np.testing.assert_allclose(features, expected, atol=1.0, err_msg=name)


@pytest.mark.tf_only  # float64 on JAX needs jax_enable_x64.
def test_features_match_hugging_face_everywhere_in_float64():
    fixture = load("ast")
    features = np.asarray(KaldiFilterBank(window="hann", dtype="float64")(
        fixture["waveforms"]))
    np.testing.assert_allclose(features, fixture["fbank"], atol=1e-4, rtol=0)
    # The extractor's padding / truncation and AudioSet normalisation.
    from kerasmm.models import ASTPreprocessor
    for key, frames in (("padded", 64), ("truncated", 48)):
        out = np.asarray(ASTPreprocessor(max_length=frames)(fixture["waveforms"]))
        np.testing.assert_allclose(out, fixture[key], atol=1e-4, rtol=0, err_msg=key)
    clap = load("clap")
    layers = {False: clap_layer(False, dtype="float64"), True: clap_layer(True, dtype="float64")}
    for name, waveform, slaney, expected in clap_cases(clap):
        np.testing.assert_allclose(np.asarray(layers[slaney](waveform)), expected, atol=1e-4,
                                   rtol=0, err_msg=name)


# === Conventions ===


def test_mel_filter_banks_against_formulas():
    # HTK: a filter peaks (weight 1) at its centre frequency, 0 at its edges.
    filters = mel_filter_bank(513, 10, 0.0, 8000.0, 16000)
    edges = 700 * (10 ** (np.linspace(0, 2595 * np.log10(1 + 8000 / 700), 12) / 2595) - 1)
    bins = np.linspace(0, 8000, 513)
    centre = np.argmin(np.abs(bins - edges[3]))
    assert filters[:, 2].argmax() == centre
    assert filters[bins <= edges[2], 2].max() == 0 and filters[bins >= edges[4], 2].max() == 0
    # Slaney's area normalisation: each filter integrates to ~2 / width * width / 2 = 1 Hz-ish.
    slaney = mel_filter_bank(4097, 8, 0.0, 8000.0, 16000, "slaney", "slaney")
    areas = slaney.sum(axis=0) * (8000 / 4096)
    np.testing.assert_allclose(areas, 1.0, rtol=0.02)


def test_kaldi_frames_and_window():
    layer = KaldiFilterBank(sample_rate=8000, num_mel_bins=20)
    # 25 ms / 10 ms at 8 kHz: 200-sample frames every 80, FFT 256, no padding.
    assert (layer.frame_length, layer.frame_step, layer.fft_length) == (200, 80, 256)
    assert tuple(layer(np.zeros((2, 1000), "float32")).shape) == (2, 11, 20)
    window = layer._window  # Povey: symmetric Hann ** 0.85.
    np.testing.assert_allclose(window, np.hanning(200) ** 0.85)
    # Silence floors at log(float32 epsilon).
    np.testing.assert_allclose(layer(np.zeros((1, 400), "float32")), np.log(2.0 ** -23),
                               rtol=1e-6)
    # DC removal: a constant offset changes nothing.
    wave = np.random.default_rng(0).normal(size=(1, 800)).astype("float32")
    np.testing.assert_allclose(layer(wave + 3.0), layer(wave), atol=2e-3)


def test_dither_only_in_training():
    layer = KaldiFilterBank(num_mel_bins=16, dither=1.0)
    wave = np.zeros((1, 1600), "float32")
    np.testing.assert_array_equal(layer(wave), layer(wave, training=False))
    assert float(np.min(layer(wave, training=True))) > np.log(2.0 ** -23) + 1


def test_top_db_and_power():
    wave = np.sin(np.arange(4000) * 0.3).astype("float32")[None]
    decibels = np.asarray(LogMelSpectrogram(8000, 20, 256, 128, log="db", top_db=30.0)(wave))
    assert decibels.min() >= decibels.max() - 30 - 1e-4
    magnitude = LogMelSpectrogram(8000, 20, 256, 128, power=1.0, log=None)(wave)
    power = LogMelSpectrogram(8000, 20, 256, 128, power=2.0, log=None)(wave)
    assert float(np.max(power)) > float(np.max(magnitude)) > 0


# === Where it runs ===


def test_in_a_model_config_and_keras_round_trip(tmp_path):
    layer = KaldiFilterBank(num_mel_bins=24)
    assert KaldiFilterBank.from_config(layer.get_config()).get_config() == layer.get_config()
    inputs = keras.Input((3200,))
    model = keras.Model(inputs, keras.layers.Dense(2)(layer(inputs)))
    assert tuple(model.output.shape) == (None, 18, 2)
    wave = np.random.default_rng(1).normal(size=(2, 3200)).astype("float32")
    path = str(tmp_path / "m.keras")
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(wave), model(wave), atol=1e-5)
    unbatched = np.asarray(layer(wave[0]))
    np.testing.assert_allclose(unbatched, np.asarray(layer(wave))[0], atol=1e-5)


@pytest.mark.tf_only
def test_tf_data_map():
    import tensorflow as tf

    layer = LogMelSpectrogram(16000, 32, 400, 160)
    waves = np.random.default_rng(2).normal(size=(4, 3200)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(waves).map(layer).batch(2)
    batches = [b.numpy() for b in dataset]
    assert batches[0].shape == (2, 18, 32)
    np.testing.assert_allclose(np.concatenate(batches), np.asarray(layer(waves)), atol=1e-5)


# === Errors ===


@pytest.mark.parametrize("kwargs, message", [
    ({"fft_length": 200}, "fft_length must be >= frame_length"),
    ({"window": "kaiser"}, "window must be one of"),
    ({"mel_scale": "bark"}, "mel_scale must be one of"),
    ({"max_frequency": 9000}, "max_frequency must be in"),
    ({"top_db": 80.0}, "top_db needs log='db'"),
    ({"preemphasis": 1.5}, "preemphasis must be in"),
    ({"power": 3.0}, "power must be one of"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LogMelSpectrogram(**kwargs)


def test_bad_inputs():
    layer = LogMelSpectrogram(16000, 32, 400, 160)
    with pytest.raises(ValueError, match="waveform must have rank 1"):
        layer(np.zeros((1, 2, 800), "float32"))
    with pytest.raises(ValueError, match="at least frame_length=400"):
        layer(np.zeros((1, 300), "float32"))
    with pytest.raises(TypeError, match="KaldiFilterBank sets frame_length"):
        KaldiFilterBank(frame_length=400)
    with pytest.raises(ValueError, match="padding must be one of"):
        pad_or_repeat(np.zeros((1, 5), "float32"), 10, "mirror")
    with pytest.raises(ValueError, match="offset \\+ length must be"):
        crop(np.zeros((1, 5), "float32"), 4, offset=2)
