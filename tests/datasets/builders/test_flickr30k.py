"""Flickr30K (Karpathy JSON + flickr30k-images/) through kerasmm.datasets.load."""

import os

import numpy as np
import pytest
import tensorflow as tf

from kerasmm.datasets.load import load
from kerasmm.models import CLIPPreprocessor
from kerasmm.preprocessing import CLIPImagePreprocessor
from tests.datasets.builders import fake_release
from tests.preprocessing.tiny_vocab import tiny_tokenizer

pytestmark = pytest.mark.tf_only

# filename -> (Karpathy split, captions, image seed)
ENTRIES = {
    "1000092795.jpg": ("train", ["Two young guys outside.", "Two men in a yard."], 1),
    "10002456.jpg": ("train", ["Workers look down.", "A man on a ladder."], 2),
    "1000268201.jpg": ("val", ["A child climbs stairs.", "A girl in pink."], 3),
    "1000344755.jpg": ("test", ["Someone on a ladder.", "A man cleans a window."], 4),
    "1000366164.jpg": ("test", ["Two men in a field.", "Men play rugby."], 5),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    manual_dir = str(tmp_path_factory.mktemp("flickr30k_manual"))
    entries = []
    for image_id, (filename, (split, captions, seed)) in enumerate(ENTRIES.items()):
        fake_release.write_image(os.path.join(manual_dir, "flickr30k-images", filename), seed)
        entries.append(fake_release.karpathy_entry(filename, split, captions, image_id))
    fake_release.write_json(os.path.join(manual_dir, "dataset_flickr30k.json"),
                            {"images": entries, "dataset": "flickr30k"})
    data_dir = str(tmp_path_factory.mktemp("flickr30k_tfds"))
    load("flickr30k", "test", data_dir=data_dir, manual_dir=manual_dir)  # Prepares.
    return manual_dir, data_dir


def test_raw_examples_are_the_release_images_and_captions(folders):
    manual_dir, data_dir = folders
    examples = list(load("flickr30k", "test", data_dir=data_dir, manual_dir=manual_dir))
    expected = {tuple(c): seed for split, c, seed in ENTRIES.values() if split == "test"}
    assert len(examples) == len(expected)
    for ex in examples:
        assert ex["images"].dtype == tf.uint8 and tuple(ex["images"].shape) == (8, 8, 3)
        captions = tuple(c.decode() for c in ex["captions"].numpy())
        reference = fake_release.image_pixels(expected.pop(captions)).astype(int)
        assert np.abs(ex["images"].numpy().astype(int) - reference).max() <= 3
    assert not expected
    # "val" is Karpathy's name; prepared data is reused without manual_dir.
    (ex,) = list(load("flickr30k", "val", data_dir=data_dir))
    assert [c.decode() for c in ex["captions"].numpy()] == ENTRIES["1000268201.jpg"][1]


def test_preprocessed_pairs_feed_a_plain_tf_data_loop(folders):
    manual_dir, data_dir = folders
    preprocessor = CLIPPreprocessor(tiny_tokenizer(), CLIPImagePreprocessor(image_size=8))
    ds = load("flickr30k", "train", data_dir=data_dir, preprocessor=preprocessor)
    batches = list(ds.batch(3))
    token_ids = np.concatenate([b["token_ids"].numpy() for b in batches])
    assert [tuple(b["images"].shape) for b in batches] == [(3, 8, 8, 3), (1, 8, 8, 3)]
    assert token_ids.shape == (4, 10)  # 2 images x 2 captions, one pair each.
    expected = tiny_tokenizer()([c for s, cs, _ in ENTRIES.values() if s == "train" for c in cs])
    assert sorted(map(tuple, token_ids)) == sorted(map(tuple, np.asarray(expected)))
    first = list(load("flickr30k", "train", data_dir=data_dir, caption="first"))
    assert {ex["captions"].numpy().decode() for ex in first} == {
        "Two young guys outside.", "Workers look down."}


def test_random_caption_is_seeded_and_redrawn_each_epoch(folders):
    _, data_dir = folders
    ds = load("flickr30k", "train", data_dir=data_dir, caption="random", seed=3).repeat(8)
    picks = [ex["captions"].numpy().decode() for ex in ds]
    again = [ex["captions"].numpy().decode() for ex in
             load("flickr30k", "train", data_dir=data_dir, caption="random", seed=3).repeat(8)]
    assert picks == again
    assert set(picks) == {c for s, cs, _ in ENTRIES.values() if s == "train" for c in cs}


def test_missing_manual_files_are_named(tmp_path):
    manual_dir = tmp_path / "manual"
    manual_dir.mkdir()
    fake_release.write_json(str(manual_dir / "dataset_flickr30k.json"), {"images": []})
    with pytest.raises(ValueError, match=r"manual.flickr30k-images.*missing|missing.*"
                       r"flickr30k-images"):
        load("flickr30k", "test", data_dir=str(tmp_path / "tfds"), manual_dir=str(manual_dir))
    with pytest.raises(ValueError, match="dataset_flickr30k.json.*manual_dir=None"):
        load("flickr30k", "test", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(ValueError, match="split must be one of"):
        load("flickr30k", "restval", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(ValueError, match="name must be one of"):
        load("flickr8k", "test")


def test_raw_examples_batch_as_the_retrieval_evaluation_reads_them(folders):
    # `kerasmm eval retrieval` encodes (preprocessed image, ragged captions) batches.
    _, data_dir = folders
    image_inputs = CLIPImagePreprocessor(image_size=8)
    ds = load("flickr30k", "test", data_dir=data_dir)
    ds = ds.map(lambda ex: (image_inputs(ex["images"]), ex["captions"])).ragged_batch(4)
    (images, captions), = list(ds)
    assert images.shape == (2, 8, 8, 3) and images.dtype == tf.float32
    assert sorted(len(row) for row in captions.to_list()) == [2, 2]
