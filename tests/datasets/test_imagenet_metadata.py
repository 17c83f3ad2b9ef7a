"""ImageNet's zero-shot metadata shipped as package data: open_clip's lists, TFDS' ids."""

import json
import os

from kerasmm import datasets
from kerasmm.datasets import imagenet_metadata


def test_the_lists_have_imagenet_sizes_and_order():
    names = datasets.imagenet_class_names()
    wnids = datasets.imagenet_wnids()
    assert len(names) == len(wnids) == 1000
    assert list(wnids) == sorted(set(wnids))  # the standard class order
    # Known entries of open_clip's IMAGENET_CLASSNAMES (its two duplicated names kept).
    assert (names[0], names[1], names[207], names[999]) == (
        "tench", "goldfish", "Golden Retriever", "toilet paper")
    assert names.count("missile") == 2 and names.count("sunglasses") == 2
    assert (wnids[0], wnids[999]) == ("n01440764", "n15075141")


def test_the_80_openai_templates_each_take_one_class_name():
    templates = datasets.openai_imagenet_templates()
    assert len(templates) == len(set(templates)) == 80
    assert all(t.count("{}") == 1 and "{" not in t.replace("{}", "") for t in templates)
    assert templates[0] == "a bad photo of a {}."
    assert templates[-1] == "a tattoo of the {}."


def test_the_data_is_a_json_file_in_the_package_with_its_sources():
    assert os.path.dirname(imagenet_metadata.METADATA_PATH) == os.path.dirname(
        imagenet_metadata.__file__)
    with open(imagenet_metadata.METADATA_PATH, encoding="utf-8") as f:
        data = json.load(f)
    assert set(data["source"]) == {"class_names", "openai_templates", "wnids"}
    assert "open_clip" in data["source"]["class_names"]


def test_readable_class_names():
    wnids = datasets.imagenet_wnids()
    assert datasets.readable_class_names([wnids[207], "n99999999", "aquarium_fish", "Cat"]) == [
        "Golden Retriever", "n99999999", "aquarium fish", "Cat"]
