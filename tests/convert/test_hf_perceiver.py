"""Hugging Face Perceiver checkpoints convert with float32 parity (no torch
here); the fixtures were made by `tools/make_parity_fixtures.py --perceiver`."""

import json
import os

import numpy as np
import pytest

from kerasmm import convert
from kerasmm.convert import hf_perceiver
from kerasmm.layers import ClassificationDecoder
from kerasmm.layers import ImageAdapter
from kerasmm.layers import MaskedLMDecoder
from kerasmm.layers import TextAdapter
from kerasmm.models import PerceiverIO
from kerasmm.models import PerceiverPreprocessor
from kerasmm.models.presets import PRESETS
from kerasmm.preprocessing import ByteTokenizer
from kerasmm.presets import from_preset
from tests.convert.parity import ATOL, converted_model, copy_fixture, fixture
from tests.convert.parity import max_abs_diff, reference
from tests.convert.parity import rewrite_config, rewrite_weights

IMAGE_FIXTURES = {
    "hf_perceiver_learned": "conv1x1",
    "hf_perceiver_fourier": "pixels",
    "hf_perceiver_conv": "conv",
}


def test_masked_lm_parity_with_padding():
    """PerceiverForMaskedLM logits, padded byte inputs with a [MASK]."""
    ref = reference("hf_perceiver_mlm")
    assert not ref["padding_mask"].all()  # The batch really is padded.
    assert (ref["token_ids"] == ByteTokenizer.mask_token_id).any()
    model = converted_model("hf_perceiver_mlm")
    assert isinstance(model, PerceiverIO)
    assert isinstance(model.input_adapter, TextAdapter)
    assert isinstance(model.decoder, MaskedLMDecoder) and model.decoder.tie_embeddings
    logits = model({"token_ids": ref["token_ids"], "padding_mask": ref["padding_mask"]})
    assert tuple(logits.shape) == ref["logits"].shape
    assert np.std(ref["logits"]) > 0.1  # Not a degenerate reference.
    diff = max_abs_diff(logits, ref["logits"])
    assert diff <= ATOL, f"masked LM logits: max abs diff {diff:.3g} > {ATOL}"


@pytest.mark.parametrize("name", sorted(IMAGE_FIXTURES))
def test_image_classification_parity(name):
    ref = reference(name)
    model = converted_model(name)
    assert isinstance(model.input_adapter, ImageAdapter)
    assert model.input_adapter.preprocessing == IMAGE_FIXTURES[name]
    assert isinstance(model.decoder, ClassificationDecoder)
    logits = model(ref["images"])
    assert tuple(logits.shape) == ref["logits"].shape
    assert np.std(ref["logits"]) > 0.1
    # The two images give different logits: the input path is exercised.
    assert np.max(np.abs(ref["logits"][0] - ref["logits"][1])) > 0.05
    diff = max_abs_diff(logits, ref["logits"])
    assert diff <= ATOL, f"{name} logits: max abs diff {diff:.3g} > {ATOL}"


def test_byte_tokenizer_matches_perceiver_tokenizer():
    """kerasmm's ByteTokenizer(add_special_tokens=True) gives Hugging Face
    PerceiverTokenizer's ids and attention mask (padded, truncated)."""
    directory = fixture("hf_perceiver_tokenizer")
    with open(os.path.join(directory, "strings.json"), encoding="utf-8") as f:
        strings = json.load(f)
    ref = reference("hf_perceiver_tokenizer")
    tokenizer = ByteTokenizer(sequence_length=int(ref["sequence_length"]),
                              add_special_tokens=True)
    out = tokenizer(strings)
    np.testing.assert_array_equal(np.asarray(out["token_ids"]), ref["token_ids"])
    np.testing.assert_array_equal(np.asarray(out["padding_mask"]), ref["padding_mask"])


def test_converted_config_follows_architectures():
    text = convert.convert(fixture("hf_perceiver_mlm"), load_weights=False)
    assert convert.detect(fixture("hf_perceiver_mlm")) == "hf_perceiver"
    assert text.class_name == "PerceiverIO" and text.weights is None
    decoder = text.config["decoder"]["config"]
    assert (decoder["num_heads"], decoder["qk_channels"], decoder["v_channels"]) == (8, 256, 32)
    assert text.input_shape["token_ids"] == (None, 16)
    conv = convert.convert(fixture("hf_perceiver_conv"), load_weights=False)
    assert conv.config["input_adapter"]["config"]["max_resolution"] == (56, 56)
    assert conv.input_shape == (None, 16, 16, 3)


def test_missing_tensor_is_named(tmp_path):
    directory = copy_fixture("hf_perceiver_mlm", tmp_path)
    name = "perceiver.encoder.self_attends.1.mlp.dense2.bias"
    rewrite_weights(directory, lambda t: t.pop(name))
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        convert.convert(directory)


def test_unused_tensor_is_listed(tmp_path):
    directory = copy_fixture("hf_perceiver_learned", tmp_path)
    rewrite_weights(directory, lambda t: t.update(extra_head=np.zeros(3, "float32")))
    with pytest.raises(ValueError, match=r"left unused.*extra_head"):
        convert.convert(directory)


def test_more_layers_in_config_than_weights_fails(tmp_path):
    directory = copy_fixture("hf_perceiver_fourier", tmp_path)
    rewrite_config(directory, lambda c: c.update(num_self_attends_per_block=3))
    with pytest.raises(ValueError, match=r"perceiver\.encoder\.self_attends\.2"):
        convert.convert(directory)


def test_shape_mismatch_names_tensor_and_both_shapes(tmp_path):
    directory = copy_fixture("hf_perceiver_mlm", tmp_path)
    name = "perceiver.encoder.cross_attention.mlp.dense1.weight"
    rewrite_weights(directory, lambda t: t.update({name: t[name][:, :8]}))
    with pytest.raises(ValueError) as info:
        from_preset(directory)
    message = str(info.value)
    assert "cross_attention/mlp/dense_1/kernel" in message and name in message
    assert "(8, 64)" in message and "(32, 64)" in message


@pytest.mark.parametrize("config,match", [
    ({"model_type": "perceiver", "architectures": ["PerceiverForOpticalFlow"]},
     "PerceiverForOpticalFlow"),
    ({"model_type": "perceiver", "architectures": ["PerceiverForMaskedLM"],
      "hidden_act": "relu"}, "hidden_act='relu'"),
])
def test_unsupported_config_is_refused(config, match):
    with pytest.raises(ValueError, match=match):
        hf_perceiver.CONVERTER.model_config(config)


def test_perceiver_presets_are_registered():
    names = {"perceiver_io_language", "perceiver_io_vision_learned",
             "perceiver_io_vision_fourier", "perceiver_io_vision_conv",
             "perceiver_io_multimodal"}
    assert names <= set(PerceiverIO.presets)
    for name in names:
        assert PRESETS[name]["sources"][0]["converter"] in convert.CONVERTERS
    top1 = {name: PRESETS[f"perceiver_io_vision_{name}"]["metrics"]["imagenet_top1"]
            for name in ("learned", "fourier", "conv")}
    assert [list(v.values())[0] for v in top1.values()] == [72.7, 79.0, 82.1]


def test_converted_vision_checkpoint_gets_the_perceiver_image_preprocessor():
    """A converted vision directory records HF PerceiverImageProcessor's crop,
    so `PerceiverPreprocessor.from_preset` gives the matching layer, not CLIP's."""
    from kerasmm.preprocessing import PerceiverImagePreprocessor

    directory = fixture("hf_perceiver_learned")
    preprocess = PerceiverPreprocessor.from_preset(directory).image_preprocessor
    assert isinstance(preprocess, PerceiverImagePreprocessor)
    with open(os.path.join(directory, "config.json")) as f:
        assert preprocess.image_size == json.load(f)["image_size"]
    assert preprocess.center_crop_fraction == pytest.approx(224 / 256)
    assert list(preprocess.mean) == pytest.approx([0.485, 0.456, 0.406])
