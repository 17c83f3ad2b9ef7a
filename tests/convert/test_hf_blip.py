"""Hugging Face BLIP checkpoints (captioning, VQA, image-text retrieval) convert
with float32 parity, greedy `generate` gives Hugging Face's ids, and BLIP's
tokenizer gives its ids (no torch here). Fixtures: `tools/make_blip_fixtures.py`."""

import functools

import numpy as np
import pytest

from kerasmm import convert
from kerasmm.models import BLIPPreprocessor
from kerasmm.tasks import BLIPQuestionAnswerer
from kerasmm.tasks import ImageCaptioner
from kerasmm.tasks import ImageTextMatcher
from tests.convert.parity import ATOL, copy_fixture, fixture, max_abs_diff, reference
from tests.convert.parity import rewrite_config, rewrite_weights

CLASSES = {"hf_blip_captioning": ImageCaptioner, "hf_blip_vqa": BLIPQuestionAnswerer,
           "hf_blip_itm": ImageTextMatcher}


@functools.lru_cache(maxsize=None)
def model(name):
    return CLASSES[name].from_preset(fixture(name))


def question(ref):
    return {"images": ref["images"], "token_ids": ref["token_ids"],
            "padding_mask": ref["padding_mask"]}


def test_captioning_logits():
    ref = reference("hf_blip_captioning")
    logits = model("hf_blip_captioning")({"images": ref["images"],
                                          "token_ids": ref["caption_ids"],
                                          "padding_mask": ref["padding_mask"]})
    assert max_abs_diff(logits, ref["logits"]) <= ATOL
    assert np.ptp(ref["logits"]) > 1.0


def test_vqa_logits():
    ref = reference("hf_blip_vqa")
    logits = model("hf_blip_vqa")({**question(ref), "answer_token_ids": ref["answer_ids"],
                                   "answer_padding_mask": ref["answer_mask"]})
    assert max_abs_diff(logits, ref["logits"]) <= ATOL


def test_itm_and_itc():
    ref = reference("hf_blip_itm")
    matcher = model("hf_blip_itm")
    assert max_abs_diff(matcher(question(ref)), ref["itm_logits"]) <= ATOL
    assert max_abs_diff(matcher.similarity(question(ref)), ref["similarity"]) <= ATOL
    assert matcher.similarity(question(ref)).shape == (4, 4)


@pytest.mark.slow  # One XLA compilation each (~10 s on 2 shared cores).
@pytest.mark.parametrize("name", ["hf_blip_captioning", "hf_blip_vqa"])
def test_greedy_generate_matches_transformers(name):
    """Hugging Face's `generate` output less its start token ([DEC]); the
    fixtures hold rows that end early (then pad) and rows that run to the end."""
    ref = reference(name)
    inputs = ref["images"] if name == "hf_blip_captioning" else question(ref)
    generated = model(name).generate(inputs, max_length=12)
    expected = ref["generated"][:, 1:]
    assert generated.dtype == np.int32
    np.testing.assert_array_equal(generated, expected[:, :generated.shape[1]])
    assert generated.shape == expected.shape  # Some row runs to max_length.
    sep = model(name).end_token_id
    assert (expected == sep).any() and not (expected == sep).any(axis=1).all()


@pytest.mark.slow  # One XLA compilation (~10 s on 2 shared cores).
def test_prompted_generate_matches_transformers():
    """`generate(pixel_values, input_ids=prompt_ids)` of Hugging Face (each
    image its own 3-word prompt) less its start token: the prompt, then
    what follows it; a second batch of prompts of that length reuses the
    compiled function."""
    ref = reference("hf_blip_captioning")
    captioner = model("hf_blip_captioning")
    prompts = ref["prompt_ids"][:, 1:-1]  # The processor's [CLS] ... [SEP], as HF drops them.
    before = captioner.generate_trace_count
    generated = captioner.generate(ref["images"], max_length=12, prompt_token_ids=prompts)
    expected = ref["prompted"][:, 1:]
    np.testing.assert_array_equal(generated, expected)
    unprompted = ref["generated"][:, 1:]
    assert not np.array_equal(generated[:, 3:3 + unprompted.shape[1]], unprompted)
    shared = captioner.generate(ref["images"], max_length=12, prompt_token_ids=prompts[0])
    np.testing.assert_array_equal(shared[0], expected[0])
    np.testing.assert_array_equal(shared[:, :3], np.repeat(prompts[:1], 4, axis=0))
    assert captioner.generate_trace_count == before + 1


def test_tokenizer_ids_match_transformers():
    ref = reference("hf_blip_captioning")
    preprocessor = BLIPPreprocessor.from_preset(fixture("hf_blip_captioning"))
    tokenizer = preprocessor.tokenizer
    prompts = ["a picture of", "what color is the cat?", "how many dogs are playing?",
               "A Red Circle, on the TABLE."]
    outputs = BLIPPreprocessor(tokenizer=type(tokenizer)(
        tokenizer.vocabulary, sequence_length=12))({"prompts": prompts})
    np.testing.assert_array_equal(outputs["token_ids"], ref["token_ids"])
    np.testing.assert_array_equal(outputs["padding_mask"], ref["padding_mask"])
    assert tokenizer.token_to_id("[DEC]") == model("hf_blip_captioning").start_token_id
    assert preprocessor.detokenize(ref["token_ids"][3:]) == ["a red circle , on the table ."]


def test_heads_by_architecture():
    kinds = {name: convert.convert(fixture(name), load_weights=False).class_name
             for name in CLASSES}
    assert kinds == {name: cls.__name__ for name, cls in CLASSES.items()}
    assert convert.detect(fixture("hf_blip_itm")) == "hf_blip"


def test_refusals_name_the_problem(tmp_path):
    directory = copy_fixture("hf_blip_captioning", tmp_path)
    rewrite_config(directory, lambda c: c.update(architectures=["BlipModel"]))
    with pytest.raises(ValueError, match="BlipModel"):
        convert.convert(directory, load_weights=False)
    directory = copy_fixture("hf_blip_itm", tmp_path / "b")

    def untie(tensors):  # A decoder weight that is not the word embeddings.
        tensors["itm_head.extra"] = tensors["itm_head.bias"]

    rewrite_weights(directory, untie)
    with pytest.raises(ValueError, match="itm_head.extra"):
        convert.convert(directory)
    directory = copy_fixture("hf_blip_captioning", tmp_path / "c")
    rewrite_config(directory, lambda c: c["text_config"].update(hidden_act="relu"))
    with pytest.raises(ValueError, match="hidden_act"):
        convert.convert(directory, load_weights=False)


def test_a_stored_tied_decoder_weight_must_equal_the_embeddings(tmp_path):
    directory = copy_fixture("hf_blip_captioning", tmp_path)
    embeddings = "text_decoder.bert.embeddings.word_embeddings.weight"

    def store(tensors, scale):
        tensors["text_decoder.cls.predictions.decoder.weight"] = scale * tensors[embeddings]

    rewrite_weights(directory, lambda t: store(t, 1.0))
    assert convert.convert(directory).weights  # A stored equal copy is accepted.
    rewrite_weights(directory, lambda t: store(t, 2.0))
    with pytest.raises(ValueError, match="tied"):
        convert.convert(directory)


def test_presets_are_registered_unpinned_and_refused_offline():
    from kerasmm.presets import check_preset_entry

    for name, entry in ImageCaptioner.family_presets.items():
        check_preset_entry(name, entry)
        assert entry["sources"][0]["unpinned"] and entry["sources"][0]["converter"] == "hf_blip"
    assert sorted(ImageCaptioner.presets) == ["blip_captioning_base", "blip_captioning_large"]
    assert sorted(BLIPQuestionAnswerer.presets) == ["blip_vqa_base"]
    assert sorted(ImageTextMatcher.presets) == ["blip_itm_base_coco"]
    assert sorted(BLIPPreprocessor.presets) == sorted(ImageCaptioner.family_presets)
    with pytest.raises(ValueError, match="ImageTextMatcher"):
        ImageCaptioner.from_preset("blip_itm_base_coco")
    with pytest.raises(ValueError, match="allow_unpinned"):  # Before any download.
        ImageCaptioner.from_preset("blip_captioning_base")


def test_the_tied_bias_may_be_stored_under_the_decoder_name(tmp_path):
    directory = copy_fixture("hf_blip_captioning", tmp_path)
    head = "text_decoder.cls.predictions"

    def rename(tensors):
        tensors[f"{head}.decoder.bias"] = tensors.pop(f"{head}.bias")

    rewrite_weights(directory, rename)
    weights = convert.convert(directory).weights
    expected = convert.convert(fixture("hf_blip_captioning")).weights
    np.testing.assert_array_equal(weights["text_decoder/head_bias"],
                                  expected["text_decoder/head_bias"])
