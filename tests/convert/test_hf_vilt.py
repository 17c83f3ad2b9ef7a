"""Hugging Face ViLT checkpoints (masked LM, VQA, retrieval, NLVR2) convert with
float32 parity, on non-square images with a pixel mask (resized positions,
padding) and at the training size. Fixtures: `tools/make_vilt_fixtures.py`."""

import functools

import numpy as np
import pytest

from kerasmm import convert
from kerasmm.models.presets import PRESETS
from kerasmm.tasks import MultimodalClassifier
from kerasmm.tasks import ViLTMaskedLM
from kerasmm.tasks import ViLTRetrievalScorer
from kerasmm.tasks import VQAClassifier
from tests.convert.parity import ATOL, copy_fixture, fixture, max_abs_diff, reference
from tests.convert.parity import rewrite_config, rewrite_weights

CLASSES = {"hf_vilt_mlm": ViLTMaskedLM, "hf_vilt_vqa": VQAClassifier,
           "hf_vilt_retrieval": ViLTRetrievalScorer, "hf_vilt_nlvr2": MultimodalClassifier}


@functools.lru_cache(maxsize=None)
def model(name):
    return CLASSES[name].from_preset(fixture(name))


def batch(ref, prefix):
    inputs = {"images": ref[f"{prefix}_images"], "token_ids": ref["token_ids"],
              "padding_mask": ref["padding_mask"]}
    if prefix == "wide":
        inputs["pixel_mask"] = ref["wide_pixel_mask"]
    return inputs


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("prefix", ["wide", "square"])
def test_head_logits_match_transformers(name, prefix):
    ref = reference(name)
    logits = model(name)(batch(ref, prefix))
    assert logits.shape == ref[f"{prefix}_logits"].shape
    assert max_abs_diff(logits, ref[f"{prefix}_logits"]) <= ATOL
    assert np.ptp(ref[f"{prefix}_logits"]) > 0.1


@pytest.mark.parametrize("name", ["hf_vilt_mlm", "hf_vilt_vqa"])
def test_backbone_outputs_match_transformers(name):
    ref = reference(name)
    backbone = model(name).backbone
    for prefix in ("wide", "square"):
        outputs = backbone(batch(ref, prefix))
        length = ref["token_ids"].shape[1]
        assert max_abs_diff(outputs["pooled_output"], ref[f"{prefix}_pooled"]) <= ATOL
        text = np.asarray(outputs["sequence_output"])[:, :length]
        assert max_abs_diff(text, ref[f"{prefix}_text"]) <= ATOL
    # Hugging Face shuffles the patches: the image tokens match as a set.
    image = np.asarray(outputs["sequence_output"])[:, length:]
    expected = ref["square_image_tokens"]
    distances = np.abs(image[:, :, None] - expected[:, None]).max(-1)  # (B, ours, theirs)
    assert distances.min(-1).max() <= ATOL and distances.min(-2).max() <= ATOL


def test_pixel_mask_and_wide_positions_matter():
    """The wide batch's padding is masked: without the mask, outputs move."""
    ref = reference("hf_vilt_vqa")
    inputs = batch(ref, "wide")
    del inputs["pixel_mask"]
    assert max_abs_diff(model("hf_vilt_vqa")(inputs)[1:], ref["wide_logits"][1:]) > 1e-2


def test_converted_configs():
    vqa = convert.convert(fixture("hf_vilt_vqa"), load_weights=False)
    assert vqa.class_name == "VQAClassifier" and vqa.config["num_answers"] == 7
    backbone = vqa.config["backbone"]["config"]
    assert (backbone["image_size"], backbone["patch_size"], backbone["hidden_dim"]) == (32, 8, 32)
    nlvr2 = convert.convert(fixture("hf_vilt_nlvr2"), load_weights=False)
    assert (nlvr2.config["num_images"], nlvr2.config["num_classes"]) == (2, 2)
    assert nlvr2.preprocessing["mean"] == [0.5, 0.5, 0.5]
    assert nlvr2.preprocessing["shortest_edge"] == 32


def test_untied_decoder(tmp_path):
    directory = copy_fixture("hf_vilt_mlm", tmp_path)
    ref = reference("hf_vilt_mlm")
    rewrite_config(directory, lambda c: c.update(tie_word_embeddings=False))

    def add_decoder(tensors):
        tensors["mlm_score.decoder.weight"] = 2.0 * tensors[
            "vilt.embeddings.text_embeddings.word_embeddings.weight"]
    rewrite_weights(directory, add_decoder)
    untied = ViLTMaskedLM.from_preset(directory)
    assert untied.tie_weights is False
    assert max_abs_diff(untied(batch(ref, "square")), ref["square_logits"]) > 1e-2


def test_checkpoint_errors(tmp_path):
    directory = copy_fixture("hf_vilt_mlm", tmp_path)

    def bad_decoder(tensors):
        tensors["mlm_score.decoder.weight"] = 1.0 + tensors[
            "vilt.embeddings.text_embeddings.word_embeddings.weight"]
    rewrite_weights(directory, bad_decoder)
    with pytest.raises(ValueError, match="tied"):
        convert.convert(directory)
    rewrite_config(directory, lambda c: c.update(architectures=["ViltModel"]))
    with pytest.raises(ValueError, match="architectures"):
        convert.convert(directory)
    nlvr2 = copy_fixture("hf_vilt_nlvr2", tmp_path)
    rewrite_config(nlvr2, lambda c: c.update(modality_type_vocab_size=2))
    with pytest.raises(ValueError, match="modality_type_vocab_size"):
        convert.convert(nlvr2, load_weights=False)
    with pytest.raises(ValueError, match="VQAClassifier"):
        ViLTMaskedLM.from_preset(fixture("hf_vilt_vqa"))


def test_presets_registered_unpinned():
    names = {"vilt_b32_mlm": "ViLTMaskedLM", "vilt_b32_vqa": "VQAClassifier",
             "vilt_b32_coco_retrieval": "ViLTRetrievalScorer",
             "vilt_b32_nlvr2": "MultimodalClassifier"}
    for name, class_name in names.items():
        entry = PRESETS[name]
        assert entry["class_name"] == class_name
        assert entry["sources"][0]["converter"] == "hf_vilt"
        assert entry["sources"][0]["unpinned"] is True
        assert entry["sources"][0]["hf_repo"].startswith("dandelin/vilt-b32-")
    assert sorted(VQAClassifier.presets) == ["vilt_b32_vqa"]
    assert convert.detect(fixture("hf_vilt_nlvr2")) == "hf_vilt"


def test_save_to_preset_round_trip(tmp_path):
    ref = reference("hf_vilt_nlvr2")
    directory = str(tmp_path / "nlvr2")
    model("hf_vilt_nlvr2").save_to_preset(directory)
    restored = MultimodalClassifier.from_preset(directory)
    assert restored.num_images == 2
    assert max_abs_diff(restored(batch(ref, "wide")), ref["wide_logits"]) <= ATOL
