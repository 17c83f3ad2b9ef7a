"""TFDS's own coco_captions (Karpathy's splits) converted by kerasmm.datasets.load."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from kerasmm.datasets.load import load

pytestmark = pytest.mark.tf_only


@pytest.fixture
def mock_coco():
    # Examples generated from coco_captions' feature spec: nothing is downloaded.
    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        yield


def test_examples_become_images_and_caption_vectors(mock_coco):
    reference = list(tfds.load("coco_captions", split="val"))
    examples = list(load("coco_captions", "validation"))  # Karpathy's "val".
    assert len(examples) == len(reference) == 3
    for ex, original in zip(examples, reference):
        assert sorted(ex) == ["captions", "images"]
        assert ex["images"].dtype == "uint8" and ex["images"].shape[-1] == 3
        np.testing.assert_array_equal(ex["images"], original["image"])
        np.testing.assert_array_equal(ex["captions"], original["captions"]["text"])


def test_first_caption_and_num_examples(mock_coco):
    reference = list(tfds.load("coco_captions", split="test"))
    examples = list(load("coco_captions", "test", caption="first", num_examples=2))
    assert len(examples) == 2
    assert examples[0]["captions"].numpy() == reference[0]["captions"]["text"][0].numpy()
