"""`resample`: equal to `scipy.signal.resample_poly` (same filter), and a
sine keeps its frequency; in `tf.data`; errors."""

import numpy as np
import pytest
import scipy.signal

from kerasmm.preprocessing import resample


@pytest.mark.parametrize("from_rate, to_rate, samples", [
    (44100, 16000, 4410), (48000, 16000, 4801), (8000, 16000, 800), (22050, 16000, 2001),
    (16000, 16000, 100)])
def test_matches_scipy_resample_poly(from_rate, to_rate, samples):
    wave = np.random.default_rng(0).normal(size=(2, samples)).astype("float32")
    expected = scipy.signal.resample_poly(wave.astype("float64"), to_rate, from_rate, axis=-1)
    actual = np.asarray(resample(wave, from_rate, to_rate))
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, atol=2e-6)


@pytest.mark.parametrize("from_rate, to_rate", [(44100, 16000), (8000, 16000)])
def test_sine_keeps_its_frequency(from_rate, to_rate):
    frequency, seconds = 1000.0, 0.5
    t = np.arange(int(from_rate * seconds)) / from_rate
    out = np.asarray(resample(np.sin(2 * np.pi * frequency * t).astype("float32"),
                              from_rate, to_rate))
    assert out.shape == (int(to_rate * seconds),)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    peak = np.argmax(spectrum) * to_rate / len(out)
    assert abs(peak - frequency) <= to_rate / len(out)
    # Away from the edges the output is the sine sampled at the new rate.
    reference = np.sin(2 * np.pi * frequency * np.arange(len(out)) / to_rate)
    np.testing.assert_allclose(out[200:-200], reference[200:-200], atol=5e-3)


def test_downsampling_removes_frequencies_above_the_new_nyquist():
    t = np.arange(44100) / 44100
    out = np.asarray(resample(np.sin(2 * np.pi * 12000.0 * t).astype("float32"), 44100, 16000))
    assert np.abs(out[500:-500]).max() < 1e-2  # 12 kHz > 8 kHz: filtered, not aliased.


@pytest.mark.tf_only
def test_in_tf_data():
    import tensorflow as tf

    waves = np.random.default_rng(1).normal(size=(3, 441)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(waves).map(
        lambda w: resample(w, 44100, 16000))
    out = np.stack([x.numpy() for x in dataset])
    np.testing.assert_allclose(out, np.asarray(resample(waves, 44100, 16000)), atol=1e-6)


def test_bad_rates():
    with pytest.raises(ValueError, match="from_rate must be a positive integer"):
        resample(np.zeros(10, "float32"), 0, 16000)
    with pytest.raises(ValueError, match="to_rate must be a positive integer"):
        resample(np.zeros(10, "float32"), 16000, 16000.5)
