"""Clotho (v2.1) audio captioning, from the files the user downloaded.

Manual files (the official Zenodo releases, unchanged, the audio archives
extracted):

- `clotho_captions_development.csv`, `clotho_captions_evaluation.csv`
  (and `clotho_captions_validation.csv` in v2): a header `file_name,
  caption_1, ..., caption_5`, then one row per audio file;
- `development/`, `evaluation/` (and `validation/`): the `.wav` files
  (`clotho_audio_development.7z` ...), 15-30 s, mono, 44.1 kHz.

Splits: `train` (development), `validation` (when its files are there),
`test` (evaluation). Audio is stored as float32 waveforms in [-1, 1].
"""

import csv
import os
import wave

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from kerasmm.datasets.builders import manual

SAMPLE_RATE = 44100
NUM_CAPTIONS = 5
# Clotho's folder / CSV suffix -> TFDS split.
SPLITS = {"development": "train", "validation": "validation", "evaluation": "test"}
REQUIRED = ("development", "evaluation")


def captions_file(folder):
    return f"clotho_captions_{folder}.csv"


def read_captions(path):
    """`[(file_name, [5 captions])]` of a Clotho captions CSV."""
    columns = ["file_name"] + [f"caption_{i}" for i in range(1, NUM_CAPTIONS + 1)]
    # utf-8-sig: some releases of the CSVs start with a byte-order mark.
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path!r} lacks the column(s) {missing}: expected the header "
                             f"{','.join(columns)}")
        return [(row["file_name"], [row[c] for c in columns[1:]]) for row in reader]


def read_wav(path, sample_rate=SAMPLE_RATE):
    """float32 `(samples,)` in [-1, 1] of a PCM WAV file (8, 16, 24 or 32
    bits), channels averaged; raises unless its rate is `sample_rate`."""
    with wave.open(path, "rb") as f:
        rate, channels, width = f.getframerate(), f.getnchannels(), f.getsampwidth()
        data = f.readframes(f.getnframes())
    if rate != sample_rate:
        raise ValueError(f"{path!r} is sampled at {rate} Hz; Clotho's files are "
                         f"{sample_rate} Hz")
    if width == 3:  # 24-bit: widen each sample to 32 bits (little-endian).
        raw = np.frombuffer(data, np.uint8).reshape(-1, 3)
        data = np.concatenate([np.zeros((len(raw), 1), np.uint8), raw], axis=1).tobytes()
        width = 4
    if width == 1:  # 8-bit WAV is unsigned.
        samples = (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
    else:
        dtype = {2: "<i2", 4: "<i4"}[width]
        samples = np.frombuffer(data, dtype).astype(np.float32) / float(2 ** (8 * width - 1))
    return samples.reshape(-1, channels).mean(axis=1).astype(np.float32)


class KerasmmClotho(manual.ManualBuilder):
    """Clotho: sounds with five captions each."""

    VERSION = tfds.core.Version("2.1.0")
    RELEASE_NOTES = {"2.1.0": "Clotho v2.1 (v1 files, without validation, work too)."}
    MANUAL_FILES = tuple(name for folder in REQUIRED
                         for name in (captions_file(folder), folder + "/"))
    MANUAL_DOWNLOAD_INSTRUCTIONS = manual.manual_instructions(MANUAL_FILES)
    code_path = epath.Path(__file__)  # TFDS 4.9 cannot find it on Python >= 3.9.

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description="Clotho: 15-30 s sounds from Freesound, 5 captions each.",
            features=tfds.features.FeaturesDict({
                "audio": tfds.features.Audio(shape=(None,), dtype=np.float32,
                                             sample_rate=SAMPLE_RATE),
                "file_name": tfds.features.Text(),
                "captions": tfds.features.Sequence(tfds.features.Text(),
                                                   length=NUM_CAPTIONS),
            }),
            homepage="https://zenodo.org/records/4783391",
        )

    def _split_generators(self, dl_manager):
        manual_dir = self.manual_dir(dl_manager)
        splits = {}
        for folder, split in SPLITS.items():
            path = os.path.join(manual_dir, captions_file(folder))
            if folder in REQUIRED or os.path.isfile(path):
                splits[split] = self._generate_examples(
                    read_captions(path), os.path.join(manual_dir, folder))
        return splits

    def _generate_examples(self, rows, folder):
        for file_name, captions in rows:
            path = os.path.join(folder, file_name)
            if not os.path.isfile(path):
                raise ValueError(f"Audio file {path!r} listed in the captions CSV is missing "
                                 "from manual_dir")
            yield file_name, {"audio": read_wav(path), "file_name": file_name,
                              "captions": captions}
