"""`kerasmm eval zero-shot` and `evaluate_zero_shot`: the demo's accuracy on shapes,
an image folder made here, a mocked TFDS dataset, a saved `.keras` model, and errors."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from kerasmm import cli
from kerasmm import datasets
from kerasmm.metrics import zero_shot_classification_metrics
from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.recipes import ClipDemoConfig
from kerasmm.recipes.evaluation import ZeroShotEvalConfig
from kerasmm.recipes.evaluation import evaluate_zero_shot
from kerasmm.recipes.shapes_clip_tiny import METRICS_FILENAME
from kerasmm.recipes.shapes_clip_tiny import SHIPPED_PRESET_DIR
from kerasmm.tasks import ZeroShotClassifier

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRESET = "shapes_clip_tiny"
IMAGE_SIZE = ClipDemoConfig().image_size  # what the demo draws and the preset expects
CLIP_BENCHMARK_KEYS = {"acc1", "acc5", "mean_per_class_recall"}


def _json_line(out):
    return json.loads([line for line in out.splitlines() if line.strip()][-1])


@pytest.fixture(scope="module")
def tiny():
    return CLIP.from_preset(PRESET), CLIPPreprocessor.from_preset(PRESET)


def test_cli_shapes_prints_the_demo_accuracy(tiny, capsys):
    """`kerasmm eval zero-shot --preset shapes_clip_tiny --dataset shapes` gives
    the accuracy `ZeroShotClassifier.evaluate` gives on the demo's zero-shot
    set (computed here without the harness), and the shipped metrics.json."""
    assert cli.main(["eval", "zero-shot", "--preset", PRESET, "--dataset", "shapes",
                     "--json"]) == 0
    out = capsys.readouterr().out
    results = _json_line(out)

    clip, _ = tiny
    classifier = ZeroShotClassifier(clip, datasets.shapes_tokenizer(),
                                    list(datasets.ZERO_SHOT_CLASSES),
                                    list(datasets.ZERO_SHOT_TEMPLATES))
    images, labels = datasets.shapes_zero_shot_set(ClipDemoConfig().num_per_class,
                                                   IMAGE_SIZE)
    demo = classifier.evaluate(images, labels)
    assert results["metrics"]["acc1"] == pytest.approx(demo["top1_accuracy"], abs=1e-9)
    assert results["metrics"]["acc5"] == pytest.approx(demo["top5_accuracy"], abs=1e-9)
    assert f"acc1                   {demo['top1_accuracy']:.4f}" in out
    with open(os.path.join(SHIPPED_PRESET_DIR, METRICS_FILENAME)) as f:
        shipped = json.load(f)["zero_shot_accuracy"]
    assert results["metrics"]["acc1"] == pytest.approx(shipped, abs=1e-4)
    # The balanced set: mean per-class recall is the accuracy.
    assert results["metrics"]["mean_per_class_recall"] == pytest.approx(demo["top1_accuracy"])
    assert set(results["metrics"]) == CLIP_BENCHMARK_KEYS
    assert results["num_examples"] == len(labels) == 600
    assert (results["num_classes"], results["num_templates"]) == (30, 5)
    assert (results["model"], results["pretrained"], results["task"]) == (
        "CLIP", PRESET, "zeroshot_classification")


def _write_image_folder(root, num_per_class):
    """The shapes zero-shot images as PNGs in class subfolders ("red_circle", ...)."""
    images, labels = datasets.zero_shot_images(num_per_class, IMAGE_SIZE)
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / datasets.ZERO_SHOT_CLASSES[label].replace(" ", "_")
        folder.mkdir(exist_ok=True)
        (folder / f"{i:04d}.png").write_bytes(tf.io.encode_png(image).numpy())
    return images, labels


def test_image_folder_equals_the_same_images_in_memory(tmp_path, capsys):
    """A folder of PNGs (class subfolders, names sorted, `_` read as a space)
    gives the metrics of the same images evaluated from memory."""
    _write_image_folder(tmp_path, num_per_class=2)
    (tmp_path / "red_circle" / "notes.txt").write_text("not an image")
    output = tmp_path / "out" / "results.json"
    assert cli.main(["eval", "zero-shot", "--dataset", str(tmp_path), "--output",
                     str(output)]) == 0
    assert f"results written to {output}" in capsys.readouterr().out
    with open(output) as f:
        folder = json.load(f)
    # Not shapes: OpenAI's 80 templates; the in-memory run uses them too.
    assert folder["num_templates"] == 80 and folder["num_examples"] == 60
    in_memory = evaluate_zero_shot(ZeroShotEvalConfig(
        num_per_class=2, templates=datasets.openai_imagenet_templates()), verbose=0)
    # Same images, the same classes numbered in another order: the same metrics.
    assert folder["metrics"] == pytest.approx(in_memory["metrics"], abs=1e-9)
    assert folder["num_classes"] == 30 and folder["dataset"] == str(tmp_path)


def test_image_folder_class_names_and_templates(tmp_path, tiny):
    """Folder classes become readable names; the metrics are those of
    `kerasmm.metrics` on the embeddings computed here."""
    images, labels = _write_image_folder(tmp_path, num_per_class=1)
    results = evaluate_zero_shot(ZeroShotEvalConfig(
        dataset=str(tmp_path), templates=datasets.ZERO_SHOT_TEMPLATES,
        batch_size=7), verbose=0)
    clip, preprocessor = tiny
    names = sorted(datasets.ZERO_SHOT_CLASSES)
    classifier = ZeroShotClassifier(clip, datasets.shapes_tokenizer(), names,
                                    list(datasets.ZERO_SHOT_TEMPLATES), activation=None)
    order = [names.index(datasets.ZERO_SHOT_CLASSES[label]) for label in labels]
    logits = np.asarray(classifier.predict(
        np.asarray(preprocessor({"images": images})["images"]), verbose=0))
    assert results["metrics"] == pytest.approx(
        zero_shot_classification_metrics(logits, np.array(order)), abs=1e-9)


def test_saved_keras_model_gives_the_preset_numbers(tmp_path, tiny):
    path = str(tmp_path / "tiny.keras")
    tiny[0].save(path)
    config = ZeroShotEvalConfig(num_per_class=2)
    from_file = evaluate_zero_shot(ZeroShotEvalConfig(num_per_class=2, model_path=path),
                                   verbose=0)
    assert from_file["metrics"] == evaluate_zero_shot(config, verbose=0)["metrics"]
    assert from_file["pretrained"] == path and from_file["model_path"] == path


def test_any_contrastive_family_siglip_checkpoint():
    """The harness finds the family of a preset by itself: a tiny Hugging Face
    SigLIP checkpoint runs with its own model and preprocessor."""
    from kerasmm.models import SigLIP
    from kerasmm.models import SigLIPPreprocessor

    fixture = os.path.join(REPO, "tests", "fixtures", "hf_siglip")
    results = evaluate_zero_shot(ZeroShotEvalConfig(preset=fixture, num_per_class=1),
                                 verbose=0)
    model, preprocessor = SigLIP.from_preset(fixture), SigLIPPreprocessor.from_preset(fixture)
    images, labels = datasets.zero_shot_images(
        1, preprocessor.image_preprocessor.image_size)
    classifier = ZeroShotClassifier(
        model, lambda texts: preprocessor({"prompts": texts}),
        list(datasets.ZERO_SHOT_CLASSES), list(datasets.ZERO_SHOT_TEMPLATES),
        activation=None)
    logits = classifier.predict(np.asarray(preprocessor({"images": images})["images"]),
                                verbose=0)
    assert (results["model"], results["num_examples"]) == ("SigLIP", 30)
    assert results["metrics"] == pytest.approx(
        zero_shot_classification_metrics(logits, labels), abs=1e-9)


def test_tfds_dataset_from_mock_data(tiny):
    """A TFDS name reads `(image, label)` pairs (here TFDS' mock data, never
    downloaded); the metrics equal those computed here on the same images."""
    templates = ("a photo of a {}.",)
    with tfds.testing.mock_data(num_examples=12):
        results = evaluate_zero_shot(ZeroShotEvalConfig(
            dataset="tfds:cifar10", templates=templates, batch_size=5), verbose=0)
        pairs = list(tfds.load("cifar10", split="test", as_supervised=True))
        names = tfds.builder("cifar10").info.features["label"].names
    images = np.stack([image.numpy() for image, _ in pairs])
    labels = np.array([int(label) for _, label in pairs])
    clip, preprocessor = tiny
    classifier = ZeroShotClassifier(clip, datasets.shapes_tokenizer(), names,
                                    list(templates), activation=None)
    logits = classifier.predict(np.asarray(preprocessor({"images": images})["images"]),
                                verbose=0)
    assert results["num_examples"] == 12 and results["num_classes"] == len(names) == 10
    assert results["split"] == "test" and results["dataset"] == "tfds:cifar10"
    assert results["metrics"] == pytest.approx(
        zero_shot_classification_metrics(logits, labels), abs=1e-9)


def test_tfds_dataset_not_prepared_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not prepared in data_dir"):
        evaluate_zero_shot(ZeroShotEvalConfig(dataset="tfds:cifar10",
                                              data_dir=str(tmp_path)), verbose=0)


@pytest.mark.parametrize("changes, match", [
    ({"dataset": "/no/such/folder"}, "dataset must be 'shapes', 'tfds:NAME' or an existing"),
    ({"dataset": "tfds:"}, "needs a TFDS name"),
    ({"model_path": "/no/such/model.keras"}, "model_path must be None or an existing"),
    ({"num_per_class": 0}, "num_per_class must be a positive integer"),
    ({"batch_size": -1}, "batch_size must be a positive integer"),
    ({"templates": ["no placeholder"]}, "holding '{}'"),
    ({"class_names": "cat"}, "class_names must be a non-empty list"),
])
def test_bad_config_is_refused_naming_the_field(changes, match):
    with pytest.raises(ValueError, match=match):
        ZeroShotEvalConfig(**changes)


def test_folder_without_class_subfolders_is_refused(tmp_path):
    (tmp_path / "loose.png").write_bytes(b"")
    with pytest.raises(ValueError, match="holds no images in class subfolders"):
        evaluate_zero_shot(ZeroShotEvalConfig(dataset=str(tmp_path)), verbose=0)


def test_non_contrastive_preset_is_refused_before_loading():
    # A registered Perceiver IO preset: refused from the registry, nothing downloaded.
    with pytest.raises(ValueError, match="PerceiverIO, which is not a contrastive model"):
        evaluate_zero_shot(ZeroShotEvalConfig(preset="perceiver_io_language"), verbose=0)


def test_class_names_must_match_the_dataset_classes():
    with pytest.raises(ValueError, match=r"one name per class of the dataset \(30, in label"):
        evaluate_zero_shot(ZeroShotEvalConfig(class_names=["cat", "dog"], num_per_class=1),
                           verbose=0)
