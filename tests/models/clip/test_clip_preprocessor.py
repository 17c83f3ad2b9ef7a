"""CLIPPreprocessor: raw images and strings to exactly what CLIP takes."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasmm import datasets
from kerasmm import tasks
from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.models.clip.clip_utils import l2_normalize
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.presets.resolve import PACKAGE_WEIGHTS
from tests.convert.parity import fixture
from tests.presets.fake_hub import fake_hub
from tests.presets.fake_hub import offline  # noqa: F401 (the fixture)
from tests.presets.fake_hub import pinned
from tests.presets.tiny import without_names

pytestmark = pytest.mark.usefixtures("offline")
PROMPTS = ["a red circle", "A small  BLUE square.", "a big white cross above a green star"]


def raw_images(count=3, height=40, width=52):
    return np.random.default_rng(0).integers(0, 256, (count, height, width, 3)).astype("uint8")


def as_numpy(outputs):
    return {key: np.asarray(value) for key, value in outputs.items()}


@pytest.fixture(scope="module")
def shipped():
    return CLIPPreprocessor.from_preset("shapes_clip_tiny")


def test_shipped_preset_reproduces_the_demo_zero_shot_accuracy(shipped):
    """Raw uint8 images and class-name prompts through the preprocessor and
    `CLIP.from_preset` give the predictions of the demo's evaluation
    (`ZeroShotClassifier` on `shapes_zero_shot_set`), hence its accuracy."""
    clip = CLIP.from_preset("shapes_clip_tiny")
    classes, templates = list(datasets.ZERO_SHOT_CLASSES), list(datasets.ZERO_SHOT_TEMPLATES)
    images, labels = datasets.zero_shot_images(num_per_class=20, image_size=32)
    prompts = [t.format(c) for c in classes for t in templates]
    inputs = shipped({"images": images, "prompts": prompts})
    text = clip.encode_text(inputs["token_ids"])
    text = keras.ops.reshape(text, (len(classes), len(templates), -1))
    class_embeddings = l2_normalize(keras.ops.mean(text, axis=1))
    scores = keras.ops.matmul(clip.encode_image(inputs["images"]),
                              keras.ops.transpose(class_embeddings))
    predictions = np.argmax(keras.ops.convert_to_numpy(scores), axis=-1)

    classifier = tasks.ZeroShotClassifier(clip, datasets.shapes_tokenizer(), classes, templates)
    demo_images, demo_labels = datasets.shapes_zero_shot_set(num_per_class=20, image_size=32)
    np.testing.assert_array_equal(labels, demo_labels)
    demo_predictions = classifier.classify(demo_images)
    assert np.mean(predictions == demo_predictions) >= 599 / 600
    accuracy = float(np.mean(predictions == labels))
    assert accuracy == pytest.approx(float(np.mean(demo_predictions == labels)), abs=1 / 600)
    with open(os.path.join(PACKAGE_WEIGHTS, "shapes_clip_tiny", "metrics.json")) as f:
        published = json.load(f)["zero_shot_accuracy"]
    assert accuracy == pytest.approx(published, abs=0.005)


@pytest.mark.parametrize("batched", [True, False])
def test_eager_and_tf_data_outputs_are_identical(shipped, batched):
    images = raw_images()
    eager = as_numpy(shipped({"images": images, "prompts": PROMPTS}))
    dataset = tf.data.Dataset.from_tensor_slices({"images": images, "prompts": PROMPTS})
    if batched:
        dataset = dataset.batch(3).map(shipped)
    else:
        dataset = dataset.map(shipped).batch(3)
    in_graph = as_numpy(next(iter(dataset)))
    assert sorted(eager) == sorted(in_graph) == ["images", "token_ids"]
    for key in eager:
        assert eager[key].dtype == in_graph[key].dtype, key
        assert np.array_equal(eager[key], in_graph[key]), key
    assert eager["images"].shape == (3, 32, 32, 3) and eager["token_ids"].shape == (3, 16)


def test_outputs_are_what_the_preset_constants_say(shipped):
    images = raw_images()
    outputs = as_numpy(shipped({"images": images, "prompts": PROMPTS}))
    expected = CLIPImagePreprocessor(image_size=32)(images)
    np.testing.assert_array_equal(outputs["images"], np.asarray(expected))
    np.testing.assert_array_equal(outputs["token_ids"],
                                  np.asarray(datasets.shapes_tokenizer()(PROMPTS)))


def test_float_images_are_read_in_0_1(shipped):
    images = raw_images()
    from_uint8 = np.asarray(shipped({"images": images})["images"])
    from_float = np.asarray(shipped({"images": images.astype("float32") / 255})["images"])
    np.testing.assert_allclose(from_float, from_uint8, atol=1e-4)


def test_one_modality_at_a_time(shipped):
    assert sorted(shipped({"prompts": PROMPTS})) == ["token_ids"]
    assert sorted(shipped({"images": raw_images()})) == ["images"]
    assert tuple(shipped({"prompts": "a red circle"})["token_ids"].shape) == (16,)


def test_bad_inputs_are_refused(shipped):
    with pytest.raises(ValueError, match=r"keys among \['images', 'prompts'\]"):
        shipped({"text": PROMPTS})
    with pytest.raises(ValueError, match="keys among"):
        shipped(PROMPTS)
    text_only = CLIPPreprocessor(tokenizer=shipped.tokenizer)
    with pytest.raises(ValueError, match="no image_preprocessor: it cannot take 'images'"):
        text_only({"images": raw_images()})
    with pytest.raises(ValueError, match="Give a tokenizer, an image_preprocessor or both"):
        CLIPPreprocessor()
    with pytest.raises(TypeError, match="image_preprocessor must be a CLIPImagePreprocessor"):
        CLIPPreprocessor(image_preprocessor=shipped.tokenizer)


def test_config_round_trip(shipped):
    for restored in (CLIPPreprocessor.from_config(shipped.get_config()),
                     keras.saving.deserialize_keras_object(
                         keras.saving.serialize_keras_object(shipped))):
        assert isinstance(restored, CLIPPreprocessor)
        assert without_names(restored.get_config()) == without_names(shipped.get_config())
        images = raw_images()
        for key, value in as_numpy(restored({"images": images, "prompts": PROMPTS})).items():
            assert np.array_equal(value, np.asarray(
                shipped({"images": images, "prompts": PROMPTS})[key])), key


def test_save_to_preset_round_trip(shipped, tmp_path):
    directory = str(tmp_path / "preset")
    shipped.save_to_preset(directory)
    assert sorted(os.listdir(directory)) == ["manifest.json", "merges.txt", "preprocessor.json",
                                             "vocab.json"]
    restored = CLIPPreprocessor.from_preset(directory)
    assert without_names(restored.get_config()) == without_names(shipped.get_config())
    with pytest.raises(ValueError, match=r"already holds a preset \(preprocessor.json\)"):
        shipped.save_to_preset(directory)
    image_only = CLIPPreprocessor(image_preprocessor=CLIPImagePreprocessor(16, mean=None,
                                                                           std=None))
    image_only.save_to_preset(directory, overwrite=True)
    restored = CLIPPreprocessor.from_preset(directory)
    assert restored.tokenizer is None and restored.image_preprocessor.mean is None


def test_presets_and_overrides(shipped):
    assert CLIPPreprocessor.presets == CLIP.presets
    larger = CLIPPreprocessor.from_preset(
        "shapes_clip_tiny", image_preprocessor=CLIPImagePreprocessor(image_size=64))
    assert tuple(larger({"images": raw_images()})["images"].shape) == (3, 64, 64, 3)
    with pytest.raises(ValueError, match=r"constructor arguments of CLIPPreprocessor. "
                                         r"Received: \['image_size'\]"):
        CLIPPreprocessor.from_preset("shapes_clip_tiny", image_size=64)


def test_from_hugging_face_and_open_clip_directories():
    hf = CLIPPreprocessor.from_preset(fixture("hf_clip_eos"))
    with open(os.path.join(fixture("hf_clip_eos"), "config.json")) as f:
        config = json.load(f)
    assert hf.image_preprocessor.image_size == config["vision_config"]["image_size"]
    assert hf.tokenizer.sequence_length == config["text_config"]["max_position_embeddings"]
    with pytest.raises(ValueError, match="has no vocab.json"):
        CLIPPreprocessor.from_preset(fixture("open_clip_vit"))  # No tokenizer files there.


def test_registered_preset_reads_its_constants_and_fetches_no_weights(monkeypatch):
    hub = fake_hub(monkeypatch, {"org/eos": fixture("hf_clip_eos")})
    monkeypatch.setitem(CLIP.family_presets, "test_tiny", {
        "class_name": "CLIP", "description": "test",
        "sources": [pinned("hf_clip", "org/eos", fixture("hf_clip_eos"),
                           ["config.json", "model.safetensors", "vocab.json", "merges.txt"])],
        "preprocessing": {"image_size": 48, "mean": [0.5] * 3, "std": [0.25] * 3,
                          "interpolation": "bilinear", "context_length": 20}})
    preprocessor = CLIPPreprocessor.from_preset("test_tiny")
    assert preprocessor.image_preprocessor.image_size == 48
    assert preprocessor.image_preprocessor.interpolation == "bilinear"
    assert preprocessor.tokenizer.sequence_length == 20
    assert hub.fetched("vocab.json") and not hub.fetched("model.safetensors")
