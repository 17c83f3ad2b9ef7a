"""SigLIPPreprocessor: raw images and strings to exactly what SigLIP takes."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasmm.models import SigLIP
from kerasmm.models import SigLIPPreprocessor
from kerasmm.models.siglip import SigLIPImagePreprocessor
from kerasmm.models.siglip import SigLIPTokenizer
from tests.convert.parity import ATOL, fixture, max_abs_diff, reference
from tests.presets.fake_hub import fake_hub
from tests.presets.fake_hub import offline  # noqa: F401 (the fixture)
from tests.presets.tiny import without_names

pytestmark = pytest.mark.usefixtures("offline")
PROMPTS = ["A photo of a CAT!", "  two   dogs,\tplaying ", "café"]


def raw_images(count=3, height=40, width=52):
    return np.random.default_rng(0).integers(0, 256, (count, height, width, 3)).astype("uint8")


def as_numpy(outputs):
    return {key: np.asarray(value) for key, value in outputs.items()}


@pytest.fixture(scope="module")
def preprocessor():
    return SigLIPPreprocessor.from_preset(fixture("hf_siglip"))


def test_from_a_hugging_face_directory_end_to_end(preprocessor):
    """`SigLIPPreprocessor.from_preset(dir)` and `SigLIP.from_preset(dir)`:
    prompts tokenized here give Hugging Face's embeddings of its own ids."""
    model = SigLIP.from_preset(fixture("hf_siglip"))
    inputs = preprocessor({"images": raw_images(), "prompts": PROMPTS})
    assert tuple(inputs["images"].shape) == (3, 32, 32, 3)
    assert tuple(inputs["token_ids"].shape) == (3, 16)
    outputs = model(inputs)
    assert tuple(outputs["image_embeddings"].shape) == (3, 32)
    ref = reference("hf_siglip")
    ids = preprocessor({"prompts": ["a photo of a cat", "A PHOTO OF A DOG!!!"]})["token_ids"]
    np.testing.assert_array_equal(np.asarray(ids), ref["token_ids"][:2])
    assert max_abs_diff(model.encode_text(ids), ref["text_embeddings"][:2]) <= ATOL


@pytest.mark.parametrize("batched", [True, False])
def test_eager_and_tf_data_outputs_are_identical(preprocessor, batched):
    images = raw_images()
    eager = as_numpy(preprocessor({"images": images, "prompts": PROMPTS}))
    dataset = tf.data.Dataset.from_tensor_slices({"images": images, "prompts": PROMPTS})
    if batched:
        dataset = dataset.batch(3)
    outputs = list(dataset.map(preprocessor).as_numpy_iterator())
    if not batched:
        outputs = [{k: np.stack([o[k] for o in outputs]) for k in outputs[0]}]
    for key in eager:
        np.testing.assert_array_equal(outputs[0][key], eager[key])


def test_tokenizer_survives_a_new_random_seed(preprocessor):
    """`keras.utils.set_random_seed` clears TensorFlow's kernel caches, which
    deletes the SentencePiece resources earlier calls created."""
    before = np.asarray(preprocessor.tokenizer(PROMPTS))
    dataset = tf.data.Dataset.from_tensor_slices(PROMPTS).batch(3)
    keras.utils.set_random_seed(1)
    np.testing.assert_array_equal(
        next(iter(dataset.map(preprocessor.tokenizer))).numpy(), before)
    np.testing.assert_array_equal(np.asarray(preprocessor.tokenizer(PROMPTS)), before)
    keras.utils.set_random_seed(2)
    np.testing.assert_array_equal(np.asarray(preprocessor.tokenizer(PROMPTS)), before)


def test_image_values(preprocessor):
    """Resize to a square (no crop) and pixels to [-1, 1]; uint8 and [0, 1]
    floats give the same output."""
    white = np.full((1, 20, 70, 3), 255, "uint8")
    pixels = np.asarray(preprocessor({"images": white})["images"])
    np.testing.assert_allclose(pixels, 1.0)
    images = raw_images()
    np.testing.assert_allclose(
        np.asarray(preprocessor({"images": images.astype("float32") / 255})["images"]),
        np.asarray(preprocessor({"images": images})["images"]), atol=1e-6)
    layer = preprocessor.image_preprocessor
    assert (layer.interpolation, layer.antialias) == ("bilinear", False)
    assert list(layer.mean) == list(layer.std) == [0.5, 0.5, 0.5]
    # A bilinear resize without antialiasing, as big_vision's `resize`.
    expected = tf.image.resize(images / 255, (32, 32), method="bilinear") * 2 - 1
    np.testing.assert_allclose(np.asarray(layer(images)), expected.numpy(), atol=1e-5)


def test_tokenizer_pads_to_the_context_length_with_the_end_token(preprocessor):
    tokenizer = preprocessor.tokenizer
    ids = np.asarray(tokenizer(["a cat", "the quick brown fox " * 8]))
    assert ids.shape == (2, 16) and ids.dtype == np.int32
    assert tokenizer.end_token_id == tokenizer.pad_token_id == 1
    assert ids[0, -1] == 1 and ids[1, -1] == 1  # Kept when the text is cut.
    assert (ids[1] != 1).sum() == 15
    assert np.asarray(tokenizer("a cat")).shape == (16,)


def test_one_modality_at_a_time_and_bad_inputs(preprocessor):
    assert sorted(preprocessor({"prompts": PROMPTS})) == ["token_ids"]
    assert sorted(preprocessor({"images": raw_images()})) == ["images"]
    with pytest.raises(ValueError, match="keys among"):
        preprocessor({"texts": PROMPTS})
    with pytest.raises(TypeError, match="str, a list of str or a string tensor"):
        preprocessor({"prompts": [1, 2]})
    images_only = SigLIPPreprocessor(image_preprocessor=SigLIPImagePreprocessor(16))
    with pytest.raises(ValueError, match="no tokenizer"):
        images_only({"prompts": PROMPTS})
    with pytest.raises(ValueError, match="end_token must be a piece"):
        SigLIPTokenizer(preprocessor.tokenizer.proto, end_token="<eos>")(["a"])
    with pytest.raises(TypeError, match="image_preprocessor must be a "
                                        "SigLIPImagePreprocessor"):
        SigLIPPreprocessor(image_preprocessor=preprocessor.tokenizer)


@pytest.mark.tf_only  # a Keras functional model cannot take string inputs on JAX
def test_config_and_keras_round_trip(preprocessor, tmp_path):
    """The SentencePiece model travels as a `.keras` asset, not in the config."""
    config = preprocessor.get_config()
    assert "proto" not in str(config["tokenizer"]["config"]["sentence_piece"]) or (
        config["tokenizer"]["config"]["sentence_piece"]["config"]["proto"] is None)
    inputs = keras.Input((), dtype="string")
    model = keras.Model(inputs, preprocessor.tokenizer(inputs))
    path = str(tmp_path / "tokenizer.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(restored(tf.constant(PROMPTS))),
                                  np.asarray(preprocessor.tokenizer(PROMPTS)))
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(
        preprocessor.image_preprocessor))
    assert clone.get_config() == preprocessor.image_preprocessor.get_config()


def test_save_to_preset_round_trip(preprocessor, tmp_path):
    directory = str(tmp_path / "preset")
    SigLIP.from_preset(fixture("hf_siglip2")).save_to_preset(directory)
    siglip2 = SigLIPPreprocessor.from_preset(fixture("hf_siglip2"))
    siglip2.save_to_preset(directory)
    assert "spiece.model" in os.listdir(directory)
    restored = SigLIPPreprocessor.from_preset(directory)
    assert without_names(restored.get_config()) == without_names(siglip2.get_config())
    for key, value in as_numpy(restored({"images": raw_images(), "prompts": PROMPTS})).items():
        np.testing.assert_array_equal(value, np.asarray(
            siglip2({"images": raw_images(), "prompts": PROMPTS})[key]))
    model = SigLIP.from_preset(directory)
    assert model.text_encoder.vocabulary_size == 401


def test_registered_preset_reads_its_constants_and_fetches_no_weights(monkeypatch):
    assert SigLIPPreprocessor.presets == SigLIP.presets
    hub = fake_hub(monkeypatch, {"google/siglip2-base-patch16-224": fixture("hf_siglip2")})
    preprocessor = SigLIPPreprocessor.from_preset("siglip2_base_patch16_224",
                                                  allow_unpinned=True)
    assert preprocessor.image_preprocessor.image_size == 224
    tokenizer = preprocessor.tokenizer
    assert (tokenizer.sequence_length, tokenizer.end_token, tokenizer.canonicalize) == (
        64, "<eos>", False)
    assert hub.fetched("tokenizer.model") and not hub.fetched("model.safetensors")
