"""Visual Genome 1.2 region descriptions and question answers, from the
files the user downloaded.

Manual files (the official releases, unchanged, unzipped):

- `image_data.json`: `[{"image_id", "url": ".../VG_100K_2/1.jpg", "width",
  "height", "coco_id", "flickr_id"}]`;
- `region_descriptions.json` (config `regions`): `[{"id": image_id,
  "regions": [{"region_id", "image_id", "phrase", "x", "y", "width",
  "height"}]}]`;
- `question_answers.json` (config `qa`): `[{"id": image_id, "qas":
  [{"qa_id", "image_id", "question", "answer", "q_objects", "a_objects"}]}]`;
- `VG_100K/`, `VG_100K_2/`: the images (`images.zip`, `images2.zip`),
  named `{image_id}.jpg`, in the folder their `url` names.

Visual Genome has no official splits: everything is `train`. Images without
regions (or questions) are left out.
"""

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from kerasmm.datasets.builders import manual

IMAGE_DATA = "image_data.json"
IMAGE_FOLDERS = ("VG_100K", "VG_100K_2")
ANNOTATIONS = {"regions": ("region_descriptions.json", "regions"),
               "qa": ("question_answers.json", "qas")}


def image_paths(manual_dir):
    """`{image_id: (path, width, height)}` of `image_data.json`; the folder is
    the one the image's url names (`VG_100K` or `VG_100K_2`)."""
    paths = {}
    for entry in manual.read_json(os.path.join(manual_dir, IMAGE_DATA)):
        try:
            image_id = entry.get("image_id", entry.get("id"))
            folder, filename = entry["url"].rsplit("/", 2)[-2:]
            size = (entry["width"], entry["height"])
        except (KeyError, AttributeError, TypeError) as error:
            raise ValueError(f"{IMAGE_DATA}: an entry lacks {error} (each needs 'image_id', "
                             "'url', 'width' and 'height')") from None
        if folder not in IMAGE_FOLDERS:
            raise ValueError(f"{IMAGE_DATA}: image {image_id} has url {entry['url']!r}, not "
                             f"in one of the release's folders {IMAGE_FOLDERS}")
        paths[image_id] = (os.path.join(manual_dir, folder, filename), *size)
    return paths


def normalized_box(region, width, height):
    """A region's `x, y, width, height` in pixels as TFDS' normalised
    `ymin, xmin, ymax, xmax`, clipped to the image."""
    x0, y0 = region["x"] / width, region["y"] / height
    x1, y1 = x0 + region["width"] / width, y0 + region["height"] / height
    return tfds.features.BBox(*np.clip([y0, x0, y1, x1], 0.0, 1.0).tolist())


@dataclasses.dataclass
class VisualGenomeConfig(tfds.core.BuilderConfig):
    """Which annotations a build holds: `regions` or `qa`."""


class KerasmmVisualGenome(manual.ManualBuilder):
    """Visual Genome images with region phrases (`regions`) or QA (`qa`)."""

    VERSION = tfds.core.Version("1.2.0")
    RELEASE_NOTES = {"1.2.0": "Visual Genome 1.2."}
    BUILDER_CONFIGS = [
        VisualGenomeConfig(name="regions", description="Region descriptions with boxes."),
        VisualGenomeConfig(name="qa", description="Question-answer pairs."),
    ]
    DEFAULT_CONFIG_NAME = "regions"
    MANUAL_FILES = (IMAGE_DATA, ANNOTATIONS["regions"][0] + "|" + ANNOTATIONS["qa"][0],
                    IMAGE_FOLDERS[0] + "/|" + IMAGE_FOLDERS[1] + "/")
    MANUAL_DOWNLOAD_INSTRUCTIONS = manual.manual_instructions(MANUAL_FILES)
    code_path = epath.Path(__file__)  # TFDS 4.9 cannot find it on Python >= 3.9.

    def _info(self):
        if self.builder_config.name == "regions":
            annotations = {"regions": tfds.features.Sequence({
                "region_id": np.int64,
                "phrase": tfds.features.Text(),
                "bbox": tfds.features.BBoxFeature(),
            })}
        else:
            annotations = {"qas": tfds.features.Sequence({
                "qa_id": np.int64,
                "question": tfds.features.Text(),
                "answer": tfds.features.Text(),
            })}
        return tfds.core.DatasetInfo(
            builder=self,
            description="Visual Genome 1.2: " + self.builder_config.description,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3)),
                "image/id": np.int64,
                **annotations,
            }),
            homepage="https://homes.cs.washington.edu/~ranjay/visualgenome/",
        )

    def _split_generators(self, dl_manager):
        manual_dir = self.manual_dir(dl_manager)
        filename, _ = ANNOTATIONS[self.builder_config.name]
        path = os.path.join(manual_dir, filename)
        if not os.path.isfile(path):
            manual.check_manual_files(f"{self.name}/{self.builder_config.name}", manual_dir,
                                      (filename,))
        return {"train": self._generate_examples(manual_dir, path)}

    def _generate_examples(self, manual_dir, path):
        images = image_paths(manual_dir)
        key = ANNOTATIONS[self.builder_config.name][1]
        for entry in manual.read_json(path):
            image_id = entry.get("id", entry.get("image_id"))
            if not entry.get(key):
                continue
            if image_id not in images:
                raise ValueError(f"{os.path.basename(path)} names image {image_id}, which "
                                 f"{IMAGE_DATA} does not list")
            image_path, width, height = images[image_id]
            if not os.path.isfile(image_path):
                raise ValueError(f"Image {image_path!r} is missing from manual_dir")
            if key == "regions":
                annotations = [{"region_id": r["region_id"], "phrase": r["phrase"],
                                "bbox": normalized_box(r, width, height)}
                               for r in entry["regions"]]
            else:
                annotations = [{"qa_id": qa["qa_id"], "question": qa["question"],
                                "answer": qa["answer"]} for qa in entry["qas"]]
            yield image_id, {"image": image_path, "image/id": image_id, key: annotations}
