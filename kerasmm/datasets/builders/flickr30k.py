"""Flickr30K with Karpathy's splits, from the files the user downloaded.

Manual files (the official releases, unchanged):

- `dataset_flickr30k.json` (from Karpathy's `caption_datasets.zip`):
  `{"images": [{"filename": "1000092795.jpg", "split": "train" | "val" |
  "test", "sentences": [{"raw": "Two young guys ...", "tokens": [...]},
  ...], ...}], "dataset": "flickr30k"}`;
- `flickr30k-images/` (the official `flickr30k-images.tar.gz`, extracted):
  the 31,783 JPEGs named as in the JSON.

Splits: `train` (29,000 images), `validation` (1,014), `test` (1,000), five
captions per image.
"""

import os

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from kerasmm.datasets.builders import manual

JSON_NAME = "dataset_flickr30k.json"
IMAGE_FOLDER = "flickr30k-images"
# Karpathy's split names -> TFDS split names.
KARPATHY_SPLITS = {"train": "train", "val": "validation", "test": "test"}


def read_karpathy_json(path, image_folder):
    """`{tfds split: [(filename, image path, [captions])]}` of a
    Karpathy-format JSON (`dataset_flickr30k.json`, `dataset_coco.json`)."""
    data = manual.read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"{path!r} is not a Karpathy-format JSON file "
                         "(a dict with an 'images' list)")
    splits = {name: [] for name in KARPATHY_SPLITS.values()}
    for entry in data["images"]:
        try:
            split = KARPATHY_SPLITS.get(entry["split"])
            filename = entry["filename"]
            captions = [sentence["raw"] for sentence in entry["sentences"]]
        except (KeyError, TypeError) as error:
            raise ValueError(f"{path!r}: an image entry lacks {error} (each needs "
                             "'filename', 'split' and 'sentences': [{'raw': ...}])") from None
        if split is not None:
            folder = os.path.join(image_folder, entry.get("filepath", ""))
            splits[split].append((filename, os.path.join(folder, filename), captions))
    return splits


class KerasmmFlickr30k(manual.ManualBuilder):
    """Flickr30K images with their five captions, Karpathy's splits."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    MANUAL_FILES = (JSON_NAME, IMAGE_FOLDER + "/")
    MANUAL_DOWNLOAD_INSTRUCTIONS = manual.manual_instructions(MANUAL_FILES)
    code_path = epath.Path(__file__)  # TFDS 4.9 cannot find it on Python >= 3.9.

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description="Flickr30K: 31,783 photos with 5 captions each, Karpathy's splits.",
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3)),
                "image/filename": tfds.features.Text(),
                "captions": tfds.features.Sequence(tfds.features.Text()),
            }),
            supervised_keys=None,
            homepage="https://shannon.cs.illinois.edu/DenotationGraph/",
        )

    def _split_generators(self, dl_manager):
        manual_dir = self.manual_dir(dl_manager)
        splits = read_karpathy_json(os.path.join(manual_dir, JSON_NAME),
                                    os.path.join(manual_dir, IMAGE_FOLDER))
        return {name: self._generate_examples(entries) for name, entries in splits.items()}

    def _generate_examples(self, entries):
        for filename, path, captions in entries:
            if not os.path.isfile(path):
                raise ValueError(f"Image {path!r} named in {JSON_NAME} is missing "
                                 f"(expected under {IMAGE_FOLDER}/ in manual_dir)")
            yield filename, {
                "image": path,
                "image/filename": filename,
                "captions": np.asarray(captions, dtype=object),
            }
