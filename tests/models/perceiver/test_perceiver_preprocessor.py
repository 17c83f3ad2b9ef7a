"""PerceiverPreprocessor: the image preprocessing or byte tokenizer of a preset."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasmm.layers import ImageAdapter
from kerasmm.models import PerceiverIO
from kerasmm.models import PerceiverPreprocessor
from kerasmm.preprocessing import ByteTokenizer
from kerasmm.preprocessing import PerceiverImagePreprocessor
from tests.convert.parity import converted_model, fixture
from tests.presets.fake_hub import offline  # noqa: F401 (the fixture)
from tests.presets.tiny import without_names

# The image presets need no download: the tests run offline.
pytestmark = pytest.mark.usefixtures("offline")
VISION_PRESETS = ("perceiver_io_vision_learned", "perceiver_io_vision_fourier",
                  "perceiver_io_vision_conv")
TEXTS = ["hello", "héllo wörld", ""]


def raw_images(count=2, height=240, width=300):
    return np.random.default_rng(0).integers(0, 256, (count, height, width, 3)).astype("uint8")


@pytest.mark.parametrize("name", VISION_PRESETS)
def test_vision_presets_get_the_perceiver_image_preprocessor(name):
    preprocessor = PerceiverPreprocessor.from_preset(name)
    assert preprocessor.tokenizer is None
    config = preprocessor.image_preprocessor.get_config()
    assert config["image_size"] == 224
    assert config["center_crop_fraction"] == 224 / 256
    np.testing.assert_array_equal(config["mean"], [0.485, 0.456, 0.406])
    np.testing.assert_array_equal(config["std"], [0.229, 0.224, 0.225])
    assert config["interpolation"] == "bicubic"
    pixels = preprocessor({"images": raw_images()})
    np.testing.assert_array_equal(
        np.asarray(pixels), np.asarray(PerceiverImagePreprocessor()(raw_images())))


def test_language_preset_gets_the_byte_tokenizer():
    preprocessor = PerceiverPreprocessor.from_preset("perceiver_io_language")
    assert preprocessor.image_preprocessor is None
    assert preprocessor.tokenizer.sequence_length == 2048
    assert preprocessor.tokenizer.add_special_tokens
    outputs = preprocessor({"text": TEXTS})
    expected = ByteTokenizer(sequence_length=2048, add_special_tokens=True)(TEXTS)
    assert sorted(outputs) == ["padding_mask", "token_ids"]
    for key in outputs:
        np.testing.assert_array_equal(np.asarray(outputs[key]), np.asarray(expected[key]))


def test_multimodal_preset_has_no_preprocessor():
    with pytest.raises(ValueError, match="neither a byte tokenizer nor Perceiver image"):
        PerceiverPreprocessor.from_preset("perceiver_io_multimodal")


def test_converted_vision_checkpoint_gets_the_perceiver_image_preprocessor():
    """A converted vision directory records HF PerceiverImageProcessor's crop."""
    directory = fixture("hf_perceiver_learned")
    preprocessor = PerceiverPreprocessor.from_preset(directory)
    image = preprocessor.image_preprocessor
    with open(os.path.join(directory, "config.json")) as f:
        assert image.image_size == json.load(f)["image_size"]
    assert image.center_crop_fraction == pytest.approx(224 / 256)
    assert list(image.mean) == pytest.approx([0.485, 0.456, 0.406])
    model = converted_model("hf_perceiver_learned")
    logits = model(preprocessor({"images": raw_images(1, 40, 48)}))
    assert tuple(logits.shape) == (1, model.decoder.num_classes)


def test_converted_language_checkpoint_gets_the_byte_tokenizer():
    directory = fixture("hf_perceiver_mlm")
    preprocessor = PerceiverPreprocessor.from_preset(directory)
    with open(os.path.join(directory, "config.json")) as f:
        length = json.load(f)["max_position_embeddings"]
    assert preprocessor.tokenizer.sequence_length == length
    model = converted_model("hf_perceiver_mlm")
    logits = model(preprocessor({"text": ["a b"]}))
    assert tuple(logits.shape)[:2] == (1, length)


@pytest.mark.parametrize("preset,key,inputs", [
    ("perceiver_io_vision_conv", "images", raw_images(3, 40, 52)),
    ("perceiver_io_language", "text", TEXTS),
])
def test_eager_and_tf_data_outputs_are_identical(preset, key, inputs):
    preprocessor = PerceiverPreprocessor.from_preset(preset)
    eager = preprocessor({key: inputs})
    in_graph = next(iter(tf.data.Dataset.from_tensor_slices({key: inputs}).batch(3)
                         .map(preprocessor)))
    eager, in_graph = tf.nest.flatten(eager), tf.nest.flatten(in_graph)
    assert len(eager) == len(in_graph)
    for a, b in zip(eager, in_graph):
        assert a.dtype == b.dtype and np.array_equal(np.asarray(a), np.asarray(b))


def test_float_images_are_read_in_0_1():
    preprocessor = PerceiverPreprocessor.from_preset("perceiver_io_vision_conv")
    images = raw_images()
    np.testing.assert_allclose(
        np.asarray(preprocessor({"images": images.astype("float32") / 255})),
        np.asarray(preprocessor({"images": images})), atol=1e-4)


def test_bad_inputs_and_arguments_are_refused():
    preprocessor = PerceiverPreprocessor.from_preset("perceiver_io_vision_conv")
    with pytest.raises(ValueError, match="the one key 'images'"):
        preprocessor({"text": TEXTS})
    with pytest.raises(ValueError, match="exactly one of image_preprocessor and tokenizer"):
        PerceiverPreprocessor()
    with pytest.raises(ValueError, match="exactly one of"):
        PerceiverPreprocessor(PerceiverImagePreprocessor(), ByteTokenizer())
    with pytest.raises(TypeError, match="tokenizer must be a ByteTokenizer"):
        PerceiverPreprocessor(tokenizer=PerceiverImagePreprocessor())


@pytest.mark.parametrize("preset", ["perceiver_io_vision_conv", "perceiver_io_language"])
def test_config_and_preset_round_trips(preset, tmp_path):
    preprocessor = PerceiverPreprocessor.from_preset(preset)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(preprocessor))
    assert without_names(restored.get_config()) == without_names(preprocessor.get_config())
    preprocessor.save_to_preset(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "preprocessor.json"]
    restored = PerceiverPreprocessor.from_preset(str(tmp_path))
    assert without_names(restored.get_config()) == without_names(preprocessor.get_config())


def test_saved_next_to_its_model(tmp_path):
    model = PerceiverIO.from_preset(fixture("hf_perceiver_learned"))
    image = PerceiverImagePreprocessor(image_size=16, center_crop_fraction=0.75,
                                       mean=(0.5, 0.5, 0.5), std=(0.2, 0.3, 0.4),
                                       interpolation="bilinear", antialias=False)
    model.save_to_preset(str(tmp_path), preprocessor=PerceiverPreprocessor(image))
    restored = PerceiverPreprocessor.from_preset(str(tmp_path)).image_preprocessor
    config, expected = restored.get_config(), image.get_config()
    for key in ("image_size", "center_crop_fraction", "mean", "std", "interpolation",
                "antialias"):
        assert tuple(np.ravel(config[key])) == tuple(np.ravel(expected[key])), key
    assert isinstance(PerceiverIO.from_preset(str(tmp_path)).input_adapter, ImageAdapter)
    assert PerceiverPreprocessor.presets == PerceiverIO.presets
