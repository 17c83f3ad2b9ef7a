"""Clotho (captions CSVs + .wav folders) through kerasmm.datasets.load."""

import csv
import os

import numpy as np
import pytest
import tensorflow as tf

from kerasmm.datasets.load import load
from tests.datasets.builders import fake_release

pytestmark = pytest.mark.tf_only

RATE = 44100
# folder -> {file_name: captions}; Clotho's names have spaces, captions commas.
CAPTIONS = {
    "development": {
        "Distorted AM Radio noise.wav": [f"A radio hisses, take {i}." for i in range(5)],
        "Gull and sea.wav": [f"Gulls cry over waves {i}" for i in range(5)],
    },
    "validation": {"Rain.wav": [f"rain falls {i}" for i in range(5)]},
    "evaluation": {"Footsteps on gravel.wav": [f"steps on gravel {i}" for i in range(5)]},
}


def tone(index, channels=1):
    t = np.arange(RATE // 100) / RATE  # 10 ms
    wave = 0.5 * np.sin(2 * np.pi * 440 * (index + 1) * t)
    return wave if channels == 1 else np.stack([wave, -0.5 * wave], axis=1)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    manual_dir = str(tmp_path_factory.mktemp("clotho_manual"))
    expected = {}
    for folder, files in CAPTIONS.items():
        path = os.path.join(manual_dir, f"clotho_captions_{folder}.csv")
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["file_name"] + [f"caption_{i}" for i in range(1, 6)])
            for index, (name, captions) in enumerate(files.items()):
                writer.writerow([name] + captions)
                # One 24-bit stereo file, the rest 16-bit mono.
                stereo = name.startswith("Gull")
                ints = fake_release.write_wav(
                    os.path.join(manual_dir, folder, name), tone(index, 2 if stereo else 1),
                    sample_width=3 if stereo else 2)
                full_scale = 2.0 ** (23 if stereo else 15)
                expected[tuple(captions)] = (ints / full_scale).mean(axis=1)
    data_dir = str(tmp_path_factory.mktemp("clotho_tfds"))
    load("clotho", "train", data_dir=data_dir, manual_dir=manual_dir)  # Prepares.
    return manual_dir, data_dir, expected


def test_waveforms_at_44k_with_five_captions(folders):
    manual_dir, data_dir, expected = folders
    examples = list(load("clotho", "train", data_dir=data_dir, manual_dir=manual_dir))
    assert len(examples) == 2
    for ex in examples:
        captions = tuple(c.decode() for c in ex["captions"].numpy())
        assert ex["audio"].dtype == "float32" and ex["audio"].shape == (RATE // 100,)
        np.testing.assert_allclose(ex["audio"].numpy(), expected[captions], atol=1e-6)
    (test,) = list(load("clotho", "test", data_dir=data_dir, caption="first"))
    assert test["captions"].numpy() == b"steps on gravel 0"
    assert len(list(load("clotho", "validation", data_dir=data_dir))) == 1


def test_a_missing_audio_folder_is_named(tmp_path):
    manual_dir = tmp_path / "manual"
    for folder in ("development", "evaluation"):
        fake_release.write_json(str(manual_dir / f"clotho_captions_{folder}.csv"), [])
    (manual_dir / "development").mkdir()
    with pytest.raises(ValueError, match=r"missing from manual_dir: \S*manual/evaluation/ "):
        load("clotho", "train", data_dir=str(tmp_path / "tfds"), manual_dir=str(manual_dir))


def test_a_preprocessor_gets_the_waveform_and_each_caption(folders):
    _, data_dir, expected = folders

    def preprocessor(inputs):  # Any family preprocessor's contract: modality + prompts.
        return {"audio": inputs["audio"][:100] * 2.0,
                "token_ids": tf.strings.length(inputs["prompts"])}

    pairs = list(load("clotho", "train", data_dir=data_dir, preprocessor=preprocessor))
    assert len(pairs) == 10  # 2 sounds x 5 captions.
    for pair in pairs:
        assert pair["audio"].shape == (100,) and pair["token_ids"].shape == ()
    lengths = sorted(int(p["token_ids"]) for p in pairs)
    assert lengths == sorted(len(c) for cs in CAPTIONS["development"].values() for c in cs)
    by_length = {int(p["token_ids"]): p["audio"].numpy() for p in pairs}
    for captions in CAPTIONS["development"].values():
        for caption in captions:  # Each caption travels with its own sound.
            np.testing.assert_allclose(by_length[len(caption)],
                                       2.0 * expected[tuple(captions)][:100], atol=1e-5)
