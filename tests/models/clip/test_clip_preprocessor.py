"""CLIPPreprocessor: raw images and strings to exactly what CLIP takes."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasmm
from kerasmm import datasets
from kerasmm import tasks
from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.models.clip.clip_preprocessor import pad_to_longest
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


# === padding="longest" ===


def expected_width(token_ids, end_token_id, multiple):
    """numpy: one past the last row's first end token, rounded up, capped."""
    token_ids = np.atleast_2d(np.asarray(token_ids))
    ends = [list(row).index(end_token_id) if end_token_id in row else len(row) - 1
            for row in token_ids.tolist()]
    needed = max(ends, default=0) + 1
    return min(-(-needed // multiple) * multiple, token_ids.shape[1])


@pytest.mark.parametrize("multiple", [1, 3, 4, 8, 100])
def test_pad_to_longest_cuts_after_the_last_end_token(multiple):
    end = 9
    cases = [
        np.array([[5, 1, end, 0, 0, 0, 0, 0, 0, 0],
                  [5, 1, 2, 3, end, 0, 0, 0, 0, 0]]),
        np.array([[5, end, end, end, end, end, end, end, end, end]]),  # HF: pad = end
        np.array([[5, 1, 2, 3, 4, 5, 6, 7, 8, end]]),  # full
        np.array([[5, 1, 2, 0, 0, 0, 0, 0, 0, 0]]),  # no end token: kept whole
        np.array([5, 1, end, 0, 0, 0, 0, 0, 0, 0]),  # one row
    ]
    for ids in cases:
        width = expected_width(ids, end, multiple)
        cut = np.asarray(pad_to_longest(tf.constant(ids, "int32"), end, multiple))
        np.testing.assert_array_equal(cut, ids[..., :width])
        mask = ids != 0
        both = pad_to_longest({"token_ids": tf.constant(ids, "int32"),
                               "padding_mask": tf.constant(mask), "other": 1}, end, multiple)
        np.testing.assert_array_equal(both["token_ids"], ids[..., :width])
        np.testing.assert_array_equal(both["padding_mask"], mask[..., :width])
        assert both["other"] == 1


def test_pad_to_longest_checks_its_arguments():
    with pytest.raises(ValueError, match="multiple must be a positive int"):
        pad_to_longest(np.zeros((2, 4), "int32"), 9, multiple=0)
    with pytest.raises(ValueError, match=r"token_ids must be integer ids .* "
                                         r"Received: dtype=float32, shape=\(2, 4\)"):
        pad_to_longest(np.zeros((2, 4), "float32"), 9)
    with pytest.raises(ValueError, match=r"Received: dtype=int32, shape=\(1, 2, 4\)"):
        pad_to_longest(np.zeros((1, 2, 4), "int32"), 9)


def test_longest_padding_keeps_the_embeddings(shipped):
    longest = CLIPPreprocessor.from_preset("shapes_clip_tiny", padding="longest",
                                           pad_to_multiple_of=4)
    clip = CLIP.from_preset("shapes_clip_tiny")
    full = np.asarray(shipped({"prompts": PROMPTS[:2]})["token_ids"])
    end = shipped.tokenizer.end_token_id
    for prompts in (PROMPTS, PROMPTS[:2], PROMPTS[:1], PROMPTS[0]):
        ids = np.asarray(longest({"prompts": prompts})["token_ids"])
        reference = np.asarray(shipped({"prompts": prompts})["token_ids"])
        width = expected_width(reference, end, 4)
        assert ids.shape == reference.shape[:-1] + (width,)
        np.testing.assert_array_equal(ids, reference[..., :width])
    assert expected_width(full, end, 4) < full.shape[1]  # something was cut
    cut = longest({"prompts": PROMPTS[:2]})["token_ids"]
    # The text tower itself, not encode_text (which trims concrete ids itself).
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clip.text_encoder(cut)),
                               keras.ops.convert_to_numpy(clip.text_encoder(full)),
                               atol=1e-6)


def test_longest_padding_in_tf_data_varies_by_batch(shipped):
    longest = CLIPPreprocessor.from_preset("shapes_clip_tiny", padding="longest",
                                           pad_to_multiple_of=2)
    prompts = ["a red circle", PROMPTS[2], "a cross", PROMPTS[1]]
    dataset = tf.data.Dataset.from_tensor_slices(prompts).batch(2).map(
        lambda p: longest({"prompts": p}))
    assert dataset.element_spec["token_ids"].shape.as_list() == [None, None]
    for batch, pair in zip(dataset, (prompts[:2], prompts[2:])):
        eager = np.asarray(longest({"prompts": pair})["token_ids"])
        np.testing.assert_array_equal(np.asarray(batch["token_ids"]), eager)
    widths = [int(batch["token_ids"].shape[1]) for batch in dataset]
    assert widths[0] != widths[1]


def test_longest_padding_cuts_the_padding_mask_too(shipped):
    tokenizer = datasets.shapes_tokenizer(return_padding_mask=True)
    masked = CLIPPreprocessor(tokenizer=tokenizer, padding="longest")
    outputs = as_numpy(masked({"prompts": PROMPTS[:2]}))
    assert sorted(outputs) == ["padding_mask", "token_ids"]
    full = as_numpy(tokenizer(PROMPTS[:2]))
    width = expected_width(full["token_ids"], tokenizer.end_token_id, 8)
    for key in outputs:
        np.testing.assert_array_equal(outputs[key], full[key][:, :width])


def test_padding_arguments_are_checked(shipped):
    from kerasmm.models import CoCaPreprocessor
    from kerasmm.models import SigLIPPreprocessor

    with pytest.raises(ValueError, match=r"padding must be one of \['max_length', "
                                         r"'longest'\] for a CLIPPreprocessor. "
                                         r"Received: padding='shortest'"):
        CLIPPreprocessor(tokenizer=shipped.tokenizer, padding="shortest")
    with pytest.raises(ValueError, match="pad_to_multiple_of"):
        CLIPPreprocessor(tokenizer=shipped.tokenizer, pad_to_multiple_of=0)
    for cls in (SigLIPPreprocessor, CoCaPreprocessor):
        with pytest.raises(ValueError, match=r"\['max_length'\] for a " + cls.__name__
                           + r" \('longest' is for CLIP's causal text towers"):
            cls(image_preprocessor=None, tokenizer=None, padding="longest")


def test_longest_padding_round_trips(shipped, tmp_path):
    longest = CLIPPreprocessor.from_preset("shapes_clip_tiny", padding="longest",
                                           pad_to_multiple_of=4)
    directory = str(tmp_path / "preset")
    longest.save_to_preset(directory)
    for restored in (CLIPPreprocessor.from_config(longest.get_config()),
                     CLIPPreprocessor.from_preset(directory)):
        assert (restored.padding, restored.pad_to_multiple_of) == ("longest", 4)
        np.testing.assert_array_equal(restored({"prompts": PROMPTS[:2]})["token_ids"],
                                      longest({"prompts": PROMPTS[:2]})["token_ids"])
    # The default writes no padding constants: presets saved before read the same.
    shipped.save_to_preset(str(tmp_path / "default"))
    with open(os.path.join(str(tmp_path / "default"), "preprocessor.json")) as f:
        assert "padding" not in f.read()


def caption_clip():
    """A tiny CLIP over the shapes vocabulary, 32 tokens of context."""
    return CLIP(
        kerasmm.models.VisionTransformer(image_size=16, patch_size=8, hidden_dim=16,
                                         num_layers=1, num_heads=2, output_dim=16),
        kerasmm.models.TextTransformer(vocabulary_size=617, context_length=32, hidden_dim=16,
                                       num_layers=2, num_heads=2, output_dim=16))


def caption_batches(padding):
    """8 shapes examples in 2 batches of 4, whose captions end by token 12 and
    16: cut by `padding="longest"` (to 12 and 16 columns) or padded to 32."""
    raw = datasets.generate_shapes("train", 8, image_size=16, seed=2)
    images = np.asarray(CLIPImagePreprocessor(image_size=16)(raw["images"]))
    preprocessor = CLIPPreprocessor(tokenizer=datasets.shapes_tokenizer(sequence_length=32),
                                    padding=padding, pad_to_multiple_of=4)
    return tf.data.Dataset.from_tensor_slices(
        {"images": images, "prompts": list(raw["captions"])}).batch(4).map(
        lambda batch: {"images": batch["images"],
                       **preprocessor({"prompts": batch["prompts"]})})


def test_fit_on_longest_padded_batches_equals_max_length():
    """`fit` (XLA on TensorFlow, jit on JAX) takes batches of different
    widths, and trains the weights that full-width batches train: the cut
    columns carry no gradient. So does GradCache accumulation on them."""

    def train(padding, accumulation_steps=1):
        keras.utils.set_random_seed(0)
        model = caption_clip()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=kerasmm.losses.CLIPLoss(),
                      jit_compile=True, accumulation_steps=accumulation_steps)
        dataset = caption_batches(padding)
        widths = [int(batch["token_ids"].shape[1]) for batch in dataset]
        history = model.fit(dataset, epochs=2, verbose=0)
        return model, history.history["loss"], widths

    cut, cut_losses, widths = train("longest")
    full, full_losses, full_widths = train("max_length")
    assert full_widths == [32] * 2 and widths == [12, 16], widths
    assert full_losses[1] < full_losses[0] - 0.02, full_losses  # the weights moved
    accumulated, accumulated_losses, _ = train("longest", accumulation_steps=2)
    for model, losses in ((cut, cut_losses), (accumulated, accumulated_losses)):
        np.testing.assert_allclose(losses, full_losses, rtol=1e-5)
        for a, b in zip(model.trainable_weights, full.trainable_weights):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(a),
                                       keras.ops.convert_to_numpy(b), atol=1e-5,
                                       err_msg=a.path)
