"""CLIP_benchmark's per-dataset prompts: shipped right, picked for the TFDS sets."""

import json

import numpy as np
import pytest
import tensorflow_datasets as tfds

from kerasmm import datasets
from kerasmm.metrics import zero_shot_classification_metrics
from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.recipes.evaluation import ZeroShotEvalConfig
from kerasmm.recipes.evaluation import evaluate_zero_shot
from kerasmm.recipes.evaluation import zero_shot
from kerasmm.recipes.evaluation.prompts import PROMPTS_PATH
from kerasmm.recipes.evaluation.prompts import tfds_prompts
from kerasmm.tasks import ZeroShotClassifier

PRESET = "shapes_clip_tiny"
# TFDS' caltech101 labels whose CLIP_benchmark name is not the label with
# `_` read as a space: the rest must match position by position.
CALTECH_RENAMED = {
    "airplanes": "airplane", "background_google": "background",
    "car_side": "side of a car", "cougar_body": "body of a cougar cat",
    "cougar_face": "face of a cougar cat", "crocodile_head": "head of a  crocodile",
    "faces": "off-center face", "faces_easy": "centered face",
    "flamingo_head": "head of a flamingo", "leopards": "leopard",
    "motorbikes": "motorbike", "snoopy": "snoopy (cartoon beagle)",
    "yin_yang": "yin and yang symbol",
}


def tfds_label_names(name):
    return tfds.builder(name).info.features["label"].names


def test_templates_per_dataset():
    cifar = tfds_prompts("cifar10")
    assert cifar.name == "clip_benchmark:cifar10" and cifar.class_names is None
    assert len(cifar.templates) == 18
    assert cifar.templates[:2] == ("a photo of a {}.", "a blurry photo of a {}.")
    assert cifar.templates[-1] == "a photo of the big {}."
    caltech = tfds_prompts("caltech101")
    assert len(caltech.templates) == 34 and "a {} in a video game." in caltech.templates
    assert tfds_prompts("oxford_iiit_pet").templates == ("a photo of a {}, a type of pet.",)
    for name in ("imagenette", "imagenet_v2/matched-frequency", "imagenet2012:5.1.0"):
        prompts = tfds_prompts(name)
        assert prompts.name == "clip_benchmark:imagenet1k" and prompts.class_names is None
        assert prompts.templates == datasets.openai_imagenet_templates()
    assert tfds_prompts("cifar10:3.0.2").templates == cifar.templates
    for name in ("mnist", "cifar100", "coco_captions"):
        assert tfds_prompts(name) is None
    with open(PROMPTS_PATH, encoding="utf-8") as f:
        shipped = json.load(f)
    assert "CLIP_benchmark" in shipped["source"] and "MIT" in shipped["source"]
    for templates in shipped["templates"].values():
        assert all(t.count("{}") == 1 and "{c}" not in t for t in templates)


@pytest.mark.tf_only  # TFDS
def test_class_names_follow_the_tfds_label_order():
    labels = tfds_label_names("caltech101")
    names = tfds_prompts("caltech101").class_names
    assert len(labels) == len(names) == 102
    for label, name in zip(labels, names):
        assert name == CALTECH_RENAMED.get(label, label.replace("_", " ")), (label, name)
    labels = tfds_label_names("oxford_iiit_pet")
    names = tfds_prompts("oxford_iiit_pet").class_names
    assert len(labels) == len(names) == 37
    for label, name in zip(labels, names):
        assert name.lower() == label.replace("_", " ").lower(), (label, name)


@pytest.mark.tf_only  # TFDS
def test_eval_picks_the_pets_prompts():
    """`tfds:oxford_iiit_pet` is evaluated with CLIP_benchmark's class names and
    its one template: the metrics equal a classifier built here with them."""
    with tfds.testing.mock_data(num_examples=6):
        results = evaluate_zero_shot(ZeroShotEvalConfig(
            preset=PRESET, dataset="tfds:oxford_iiit_pet"), verbose=0)
        pairs = list(tfds.load("oxford_iiit_pet", split="test", as_supervised=True))
    assert results["prompts"] == "clip_benchmark:pets"
    assert (results["num_classes"], results["num_templates"]) == (37, 1)
    prompts = tfds_prompts("oxford_iiit_pet")
    clip, preprocessor = CLIP.from_preset(PRESET), CLIPPreprocessor.from_preset(PRESET)
    classifier = ZeroShotClassifier(clip, datasets.shapes_tokenizer(),
                                    list(prompts.class_names), list(prompts.templates),
                                    activation=None)
    images = [np.asarray(preprocessor({"images": image.numpy()[..., :3]})["images"])
              for image, _ in pairs]
    logits = classifier.predict(np.stack(images), verbose=0)
    labels = np.array([int(label) for _, label in pairs])
    assert results["metrics"] == pytest.approx(
        zero_shot_classification_metrics(logits, labels), abs=1e-9)


@pytest.mark.tf_only  # TFDS
def test_selection_and_overrides():
    """Which prompts `_benchmark_prompts` picks; a class count that does not
    fit the dataset is refused; config templates win."""
    given = (["a", "b"], ("x {}",), "openai_imagenet")
    assert zero_shot._benchmark_prompts("mnist", *given) == given
    names, templates, prompts = zero_shot._benchmark_prompts(
        "cifar10", *given)
    assert names == ["a", "b"] and prompts == "clip_benchmark:cifar10"
    assert templates == tfds_prompts("cifar10").templates
    with pytest.raises(ValueError, match=r"tfds:caltech101' has 2 classes.*are 102"):
        zero_shot._benchmark_prompts("caltech101", *given)
    preprocessor = CLIPPreprocessor.from_preset(PRESET)
    with tfds.testing.mock_data(num_examples=4):
        # The dataset's prompts without encoding its 102 x 34 of them.
        _, names, templates, prompts, _, _ = zero_shot._labelled_images(
            ZeroShotEvalConfig(preset=PRESET, dataset="tfds:caltech101"), preprocessor)
        override = evaluate_zero_shot(ZeroShotEvalConfig(
            preset=PRESET, dataset="tfds:caltech101", templates=("a {}.",)), verbose=0)
    assert prompts == "clip_benchmark:caltech101"
    assert tuple(names) == tfds_prompts("caltech101").class_names
    assert tuple(templates) == tfds_prompts("caltech101").templates
    assert override["prompts"] == "config"
    assert (override["num_classes"], override["num_templates"]) == (102, 1)
