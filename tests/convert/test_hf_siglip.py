"""Hugging Face SigLIP / SigLIP 2 checkpoints convert with float32 parity, and
SigLIP's tokenizers give Hugging Face's ids (no torch here). Fixtures:
`tools/make_siglip_fixtures.py`."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from kerasmm import convert
from kerasmm.convert import hf_siglip
from kerasmm.models import SigLIP
from kerasmm.models import SigLIPPreprocessor
from kerasmm.models import SigLIPTextEncoder
from kerasmm.models import SigLIPVisionEncoder
from tests.convert.parity import ATOL, converted_model, copy_fixture, fixture
from tests.convert.parity import max_abs_diff, reference, rewrite_config, rewrite_weights

NAMES = ["hf_siglip", "hf_siglip2"]


def _strings(name):
    with open(os.path.join(fixture(name), "strings.json"), encoding="utf-8") as f:
        return json.load(f)


def _diffs(model, ref):
    images = ref["images"].astype("float32")
    outputs = model({"images": images, "token_ids": ref["token_ids"]})
    diffs = {key: max_abs_diff(outputs[key], ref[key]) for key in
             ("image_embeddings", "text_embeddings", "logit_scale", "logit_bias")}
    diffs["logits"] = max_abs_diff(model.logits(images, ref["token_ids"]), ref["logits"])
    masked = model.encode_text({"token_ids": ref["token_ids"],
                                "padding_mask": ref["padding_mask"]})
    diffs["masked_text_embeddings"] = max_abs_diff(masked, ref["masked_text_embeddings"])
    return diffs


@pytest.mark.parametrize("name", NAMES)
def test_parity_with_transformers(name):
    """Embeddings, logits, logit_scale and logit_bias of `SiglipModel`, with
    and without the padding mask (`attention_mask`)."""
    model = converted_model(name)
    assert isinstance(model, SigLIP)
    ref = reference(name)
    diffs = _diffs(model, ref)
    assert max(diffs.values()) <= ATOL, diffs
    # The references are not trivial: logits spread, the mask matters.
    assert np.ptp(ref["logits"]) > 1.0
    assert max_abs_diff(ref["masked_text_embeddings"], ref["text_embeddings"]) > 1e-2


@pytest.mark.parametrize("name", NAMES)
def test_output_tokens_match_last_hidden_state(name):
    model, ref = converted_model(name), reference(name)
    outputs = {}
    for key, tower, inputs in (
            ("image", model.vision_encoder, ref["images"].astype("float32")),
            ("text", model.text_encoder, ref["token_ids"][:len(ref["text_tokens"])])):
        copy = type(tower).from_config({**tower.get_config(), "output_tokens": True})
        copy.set_weights(tower.get_weights())
        outputs[key] = copy(inputs)
        assert max_abs_diff(outputs[key]["tokens"], ref[f"{key}_tokens"]) <= ATOL
        # The pooled output equals the fast pooled path's.
        assert max_abs_diff(outputs[key]["pooled"], tower(inputs)) <= 1e-5


@pytest.mark.parametrize("name", NAMES)
def test_tokenizer_gives_transformers_ids(name):
    """SigLIPPreprocessor's tokenizer (keras-hub SentencePiece) equals
    SiglipTokenizer / Siglip2Tokenizer on varied strings, eagerly and in
    tf.data, and its ids give Hugging Face's text embeddings."""
    strings, ref = _strings(name), reference(name)
    tokenizer = SigLIPPreprocessor.from_preset(fixture(name)).tokenizer
    token_ids = np.asarray(tokenizer(strings))
    np.testing.assert_array_equal(token_ids, ref["token_ids"])
    dataset = tf.data.Dataset.from_tensor_slices(strings).batch(5).map(tokenizer)
    np.testing.assert_array_equal(np.concatenate(list(dataset.as_numpy_iterator())),
                                  token_ids)
    embeddings = converted_model(name).encode_text(token_ids)
    assert max_abs_diff(embeddings, ref["text_embeddings"]) <= ATOL


def test_tokenizer_settings_follow_the_tokenizer_file():
    siglip = SigLIPPreprocessor.from_preset(fixture("hf_siglip")).tokenizer
    siglip2 = SigLIPPreprocessor.from_preset(fixture("hf_siglip2")).tokenizer
    assert (siglip.canonicalize, siglip.end_token, siglip.pad_token) == (True, "</s>", "</s>")
    assert (siglip2.canonicalize, siglip2.end_token, siglip2.pad_token) == (
        False, "<eos>", "<pad>")
    assert siglip.lowercase and siglip2.lowercase
    assert (siglip.sequence_length, siglip2.sequence_length) == (16, 12)


def test_config_translation():
    converted = convert.convert(fixture("hf_siglip2"), load_weights=False)
    vision = converted.config["vision_encoder"]["config"]
    text = converted.config["text_encoder"]["config"]
    assert converted.class_name == "SigLIP"
    assert (vision["image_size"], vision["patch_size"], vision["hidden_dim"]) == (28, 7, 24)
    assert (vision["num_heads"], vision["intermediate_dim"], vision["activation"]) == (
        3, 96, "gelu_approximate")
    assert (text["context_length"], text["output_dim"], text["layer_norm_epsilon"]) == (
        12, 24, 1e-6)
    assert converted.preprocessing["image_size"] == 28
    assert converted.preprocessing["tokenizer_file"] == "tokenizer.model"
    hf = convert.convert(fixture("hf_siglip"), load_weights=False)
    assert hf.preprocessing["mean"] == [0.5, 0.5, 0.5]  # preprocessor_config.json
    assert hf.config["vision_encoder"]["config"]["intermediate_dim"] == 48  # 1.5x


def test_short_config_uses_transformers_defaults(tmp_path):
    """google/siglip-base-patch16-224's config lists only model types."""
    short = {"model_type": "siglip", "text_config": {"model_type": "siglip_text_model"},
             "vision_config": {"model_type": "siglip_vision_model"}}
    config = hf_siglip.CONVERTER.model_config(short)
    assert config["vision_encoder"]["class_name"] == SigLIPVisionEncoder.__name__
    assert config["text_encoder"]["class_name"] == SigLIPTextEncoder.__name__
    v, t = config["vision_encoder"]["config"], config["text_encoder"]["config"]
    assert (v["image_size"], v["patch_size"], v["hidden_dim"], v["num_layers"]) == (
        224, 16, 768, 12)
    assert (t["vocabulary_size"], t["context_length"], t["output_dim"]) == (32000, 64, 768)
    preprocessing = hf_siglip.CONVERTER.preprocessing(short, str(tmp_path))
    assert preprocessing["context_length"] == 64 and "tokenizer_file" not in preprocessing


def test_naflex_siglip2_is_refused(tmp_path):
    directory = copy_fixture("hf_siglip2", tmp_path)
    rewrite_config(directory, lambda c: c.update(model_type="siglip2"))
    assert convert.detect(directory) == "hf_siglip"
    with pytest.raises(ValueError, match=r"config\.json: model_type 'siglip2' is Hugging "
                       r"Face's SigLIP 2 NaFlex variant.*google/siglip2-base-patch16-224"):
        SigLIP.from_preset(directory)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["vision_config"].update(vision_use_head=False), "vision_use_head=false"),
    (lambda c: c["text_config"].update(projection_size=16),
     r"projection_size=16, vision hidden_size=24"),
    (lambda c: c["vision_config"].update(hidden_act="relu6"), "hidden_act='relu6'"),
    (lambda c: c["vision_config"].update(image_size=[28, 14]), r"\[n, n\]"),
])
def test_bad_configs_are_refused(tmp_path, edit, message):
    directory = copy_fixture("hf_siglip2", tmp_path)
    rewrite_config(directory, edit)
    with pytest.raises(ValueError, match=message):
        convert.convert(directory)


def test_missing_and_unused_tensors_are_named(tmp_path):
    directory = copy_fixture("hf_siglip2", tmp_path)
    rewrite_weights(directory, lambda t: t.pop("vision_model.head.probe"))
    with pytest.raises(ValueError, match="vision_model.head.probe"):
        convert.convert(directory)
    directory = copy_fixture("hf_siglip", tmp_path / "b")
    rewrite_weights(directory, lambda t: t.update(extra=np.zeros(3, "float32")))
    with pytest.raises(ValueError, match=r"left unused.*extra"):
        convert.convert(directory)
