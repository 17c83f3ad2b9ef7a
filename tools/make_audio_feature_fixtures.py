"""Writes tests/fixtures/audio_features/*.npz: Hugging Face audio features.

Run in the reference venv (transformers, torch; no torchaudio, so both
extractors take their numpy paths, which this script checks):

    /work/torchvenv/bin/python tools/make_audio_feature_fixtures.py

`ast.npz`: `ASTFeatureExtractor` (Kaldi fbank, hann window, 128 mel bins,
16 kHz, AudioSet normalisation) on three 0.6 s waveforms, padded to 64 and
truncated to 48 frames, plus the raw (unnormalised) fbank.
`clap.npz`: `ClapFeatureExtractor` (48 kHz, 64 mel bins, hop 480, window
1024, max 12000 samples) on short waveforms (`"repeatpad"`, `"repeat"`,
`"pad"`; `"fusion"` HTK filters and `"rand_trunc"` slaney filters) and a
long one cropped by `"rand_trunc"` at an offset drawn from a seeded numpy
generator (recorded as `long_offset`).
"""

import os

import numpy as np
import transformers
from transformers import ASTFeatureExtractor
from transformers import ClapFeatureExtractor
from transformers.utils import is_speech_available

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "audio_features")


def waveforms(rate, samples, seed):
    """A tone with noise, a chirp and a noise burst, float32 `(3, samples)`."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440.0 * t) + 0.01 * rng.normal(size=samples)
    chirp = 0.3 * np.sin(2 * np.pi * (200.0 + 1500.0 * t) * t)
    burst = np.where((t > 0.1 * t[-1]) & (t < 0.5 * t[-1]), 0.8, 0.02) * rng.normal(size=samples)
    return np.stack([tone, chirp, burst]).astype("float32")


def ast_fixture():
    waves = waveforms(16000, 9600, seed=0)  # 58 frames.
    kwargs = {"sampling_rate": 16000, "return_tensors": "np"}
    padded = ASTFeatureExtractor(max_length=64)(list(waves), **kwargs)["input_values"]
    truncated = ASTFeatureExtractor(max_length=48)(list(waves), **kwargs)["input_values"]
    raw = ASTFeatureExtractor(max_length=58, do_normalize=False)(list(waves), **kwargs)
    return {"waveforms": waves, "padded": padded, "truncated": truncated,
            "fbank": raw["input_values"]}


def clap_fixture():
    extractor = ClapFeatureExtractor(sampling_rate=48000, feature_size=64)
    short = waveforms(48000, 5000, seed=1)[:2]
    out = {"short": short, "max_length": np.int64(12000)}
    for truncation in ("fusion", "rand_trunc"):
        for padding in ("repeatpad", "repeat", "pad"):
            features = extractor(list(short), truncation=truncation, padding=padding,
                                 max_length=12000, sampling_rate=48000, return_tensors="np")
            out[f"{truncation}_{padding}"] = features["input_features"]
    long = waveforms(48000, 20000, seed=2)[:1]
    np.random.seed(7)
    offset = np.random.randint(0, 20000 - 12000 + 1)
    np.random.seed(7)
    features = extractor(list(long), truncation="rand_trunc", max_length=12000,
                         sampling_rate=48000, return_tensors="np")
    out.update({"long": long, "long_offset": np.int64(offset),
                "long_rand_trunc": features["input_features"]})
    return out


def main():
    assert not is_speech_available(), "torchaudio installed: the numpy paths are not taken"
    os.makedirs(OUT, exist_ok=True)
    version = np.array(transformers.__version__)
    for name, arrays in (("ast", ast_fixture()), ("clap", clap_fixture())):
        path = os.path.join(OUT, f"{name}.npz")
        np.savez_compressed(path, transformers_version=version, **arrays)
        print(path, {k: np.shape(v) for k, v in arrays.items()}, os.path.getsize(path))


if __name__ == "__main__":
    main()
