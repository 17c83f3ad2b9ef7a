"""Visual Genome (image_data, region_descriptions, question_answers, VG_100K*)."""

import os

import numpy as np
import pytest

from kerasmm.datasets.load import load
from tests.datasets.builders import fake_release

pytestmark = pytest.mark.tf_only

URL = "https://cs.stanford.edu/people/rak248/{}/{}.jpg"
IMAGES = {1: "VG_100K_2", 10: "VG_100K", 107899: "VG_100K"}  # image_id -> folder
REGIONS = {  # image_id -> [(phrase, x, y, width, height)] on 8x8 images
    1: [("the clock is green in colour", 2, 0, 4, 4), ("shade is along the street", 0, 4, 8, 6)],
    10: [("a white building", 1, 1, 2, 3)],
    107899: [],  # Annotated with nothing: left out.
}
QAS = {1: [("What color is the clock?", "Green."), ("Where is the shade?", "Along street.")],
       10: [("What is white?", "The building.")], 107899: []}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    manual_dir = str(tmp_path_factory.mktemp("vg_manual"))
    image_data = []
    for image_id, folder in IMAGES.items():
        fake_release.write_image(os.path.join(manual_dir, folder, f"{image_id}.jpg"), image_id)
        image_data.append({"width": 8, "url": URL.format(folder, image_id), "height": 8,
                           "image_id": image_id, "coco_id": None, "flickr_id": None})
    regions = [{"regions": [{"region_id": image_id * 100 + k, "width": w, "height": h,
                             "image_id": image_id, "phrase": phrase, "y": y, "x": x}
                            for k, (phrase, x, y, w, h) in enumerate(rows)], "id": image_id}
               for image_id, rows in REGIONS.items()]
    qas = [{"id": image_id, "qas": [{"a_objects": [], "question": q, "image_id": image_id,
                                     "qa_id": image_id * 10 + k, "answer": a, "q_objects": []}
                                    for k, (q, a) in enumerate(rows)]}
           for image_id, rows in QAS.items()]
    fake_release.write_json(os.path.join(manual_dir, "image_data.json"), image_data)
    fake_release.write_json(os.path.join(manual_dir, "region_descriptions.json"), regions)
    fake_release.write_json(os.path.join(manual_dir, "question_answers.json"), qas)
    data_dir = str(tmp_path_factory.mktemp("vg_tfds"))
    for name in ("visual_genome/regions", "visual_genome/qa"):  # Prepares both configs.
        load(name, "train", data_dir=data_dir, manual_dir=manual_dir)
    return manual_dir, data_dir


def test_region_phrases_with_normalised_boxes(folders):
    manual_dir, data_dir = folders
    examples = list(load("visual_genome/regions", "train", data_dir=data_dir,
                         manual_dir=manual_dir))
    assert len(examples) == 2
    for ex in examples:
        phrases = [p.decode() for p in ex["captions"].numpy()]
        image_id = 1 if len(phrases) == 2 else 10
        rows = REGIONS[image_id]
        assert phrases == [row[0] for row in rows]
        # x, y, w, h in pixels -> ymin, xmin, ymax, xmax in [0, 1], clipped.
        expected = [[y / 8, x / 8, min(1, (y + h) / 8), min(1, (x + w) / 8)]
                    for _, x, y, w, h in rows]
        np.testing.assert_allclose(ex["boxes"].numpy(), expected, atol=1e-6)
        reference = fake_release.image_pixels(image_id).astype(int)
        assert np.abs(ex["images"].numpy().astype(int) - reference).max() <= 3
    (first,) = [ex for ex in load("visual_genome/regions", "train", data_dir=data_dir,
                                  caption="first") if ex["boxes"].shape == (4,)
                and ex["captions"].numpy() == b"the clock is green in colour"]
    np.testing.assert_allclose(first["boxes"].numpy(), [0, 0.25, 0.5, 0.75])


def test_question_answers_one_example_per_question(folders):
    manual_dir, data_dir = folders
    examples = list(load("visual_genome/qa", "train", data_dir=data_dir,
                         manual_dir=manual_dir))
    pairs = sorted((ex["questions"].numpy().decode(), ex["answers"].numpy()[0].decode())
                   for ex in examples)
    assert pairs == sorted(qa for rows in QAS.values() for qa in rows)
    assert all(ex["images"].shape == (8, 8, 3) for ex in examples)


def test_missing_images_folder_is_named(tmp_path):
    fake_release.write_json(str(tmp_path / "m" / "image_data.json"), [])
    fake_release.write_json(str(tmp_path / "m" / "question_answers.json"), [])
    with pytest.raises(ValueError, match="VG_100K/ or VG_100K_2/"):
        load("visual_genome/qa", "train", data_dir=str(tmp_path / "t"),
             manual_dir=str(tmp_path / "m"))
    (tmp_path / "m" / "VG_100K").mkdir()
    with pytest.raises(ValueError, match=r"missing from manual_dir: \S*region_descriptions"):
        load("visual_genome/regions", "train", data_dir=str(tmp_path / "t"),
             manual_dir=str(tmp_path / "m"))
