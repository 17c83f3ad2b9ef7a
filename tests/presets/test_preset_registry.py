"""The preset registry: every family's entries, `presets`, and name errors."""

import os

import pytest

from kerasmm import convert
from kerasmm.models import CLIP
from kerasmm.models import Perceiver
from kerasmm.models import PerceiverIO
from kerasmm.models.presets import PRESETS
from kerasmm.models.ast import AST_PRESETS
from kerasmm.models.blip.blip_presets import BLIP_PRESETS
from kerasmm.models.coca import COCA_PRESETS
from kerasmm.models.coca import CoCa
from kerasmm.models.diffusion.diffusion_presets import DIFFUSION_PRESETS
from kerasmm.models.vilt import VILT_PRESETS
from kerasmm.preprocessing import ByteTokenizer
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.presets import PresetMixin
from kerasmm.presets import check_preset_entry
from kerasmm.presets import merge_presets
from kerasmm.presets import preset_files
from kerasmm.presets import registered_class
from kerasmm.presets.resolve import PACKAGE_WEIGHTS

# Model family -> the converters that can produce it.
FAMILY_CONVERTERS = {"CLIP": {"hf_clip", "open_clip"}, "PerceiverIO": {"hf_perceiver"},
                     "SigLIP": {"hf_siglip"},
                     **dict.fromkeys(("ViLTMaskedLM", "VQAClassifier", "ViLTRetrievalScorer",
                                      "MultimodalClassifier"), {"hf_vilt"}),
                     **dict.fromkeys(("ImageCaptioner", "BLIPQuestionAnswerer",
                                      "ImageTextMatcher"), {"hf_blip"}),
                     "AudioClassifier": {"hf_ast"}, "CoCa": {"open_clip_coca"}}
CLIP_PRESETS = sorted(n for n, e in PRESETS.items() if e["class_name"] == "CLIP")
PERCEIVER_PRESETS = sorted(n for n, e in PRESETS.items() if e["class_name"] == "PerceiverIO")
SIGLIP_PRESETS = sorted(n for n, e in PRESETS.items() if e["class_name"] == "SigLIP")


def check_image_constants(preprocessing):
    """Constants for pixels in [0, 1] that build a CLIPImagePreprocessor."""
    assert isinstance(preprocessing["image_size"], int) and preprocessing["image_size"] > 0
    for key in ("mean", "std"):
        assert len(preprocessing[key]) == 3 and all(0 < v < 1 for v in preprocessing[key]), key
    CLIPImagePreprocessor(**{k: preprocessing[k] for k in (
        "image_size", "mean", "std", "interpolation") if k in preprocessing})


def test_registry_joins_the_family_tables():
    assert CLIP_PRESETS and PERCEIVER_PRESETS
    assert (set(CLIP_PRESETS) | set(PERCEIVER_PRESETS) | set(SIGLIP_PRESETS)
            | set(VILT_PRESETS) | set(BLIP_PRESETS) | set(AST_PRESETS)
            | set(DIFFUSION_PRESETS) | set(COCA_PRESETS)) == set(PRESETS)
    assert set(CoCa.family_presets) == set(COCA_PRESETS)
    assert set(CLIP.family_presets) == set(CLIP_PRESETS)
    assert set(PerceiverIO.family_presets) == set(PERCEIVER_PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_registry_entries_are_well_formed(name):
    entry = PRESETS[name]
    check_preset_entry(name, entry)
    assert registered_class(entry["class_name"])
    for source in entry.get("sources", []):
        assert source["converter"] in FAMILY_CONVERTERS[entry["class_name"]], source
        assert source["converter"] in convert.CONVERTERS, source
        for filename, digest in source.get("sha256", {}).items():
            assert len(digest) == 64 and set(digest) <= set("0123456789abcdef"), filename
    if "package_data" in entry:
        directory = os.path.join(PACKAGE_WEIGHTS, entry["package_data"])
        saved = preset_files.read_model_config(directory)
        assert saved["class_name"] == entry["class_name"]
        assert os.path.isfile(os.path.join(directory, preset_files.WEIGHTS_FILE))
    for metric, published in entry.get("metrics", {}).items():
        assert published and all(isinstance(source, str) and 0 < value <= 100
                                 for source, value in published.items()), metric


@pytest.mark.parametrize("name", CLIP_PRESETS)
def test_clip_presets_record_their_preprocessing(name):
    entry = PRESETS[name]
    if "package_data" in entry:  # A kerasmm preset directory carries its own.
        directory = os.path.join(PACKAGE_WEIGHTS, entry["package_data"])
        saved = preset_files.read_preprocessor_config(directory)
        assert saved["class_name"] == "CLIPPreprocessor"
        assert all(os.path.isfile(os.path.join(directory, asset)) for asset in saved["assets"])
        return
    preprocessing = entry["preprocessing"]
    check_image_constants(preprocessing)
    assert isinstance(preprocessing["context_length"], int) and preprocessing["context_length"] > 0


@pytest.mark.parametrize("name", PERCEIVER_PRESETS)
def test_perceiver_presets_record_their_preprocessing(name):
    """Image constants where the model reads images, tokenizer constants
    where it reads bytes; the keys CLIP presets use are None otherwise."""
    entry = PRESETS[name]
    assert all(s["hf_repo"].startswith("deepmind/") for s in entry["sources"])
    preprocessing = entry["preprocessing"]
    assert {"image_size", "mean", "std", "context_length"} <= set(preprocessing)
    assert (preprocessing["mean"] is None) == (preprocessing["std"] is None)
    if preprocessing["mean"] is not None:
        check_image_constants(preprocessing)
        assert 0 < preprocessing.get("center_crop_fraction", 1) <= 1
    if preprocessing.get("tokenizer") is not None:
        assert preprocessing["tokenizer"] == "ByteTokenizer"
        assert preprocessing["mean"] is None and preprocessing["image_size"] is None
        tokenizer = ByteTokenizer(sequence_length=preprocessing["context_length"],
                                  add_special_tokens=preprocessing["add_special_tokens"])
        assert preprocessing["pad_token_id"] == tokenizer.pad_token_id
    else:
        assert preprocessing["context_length"] is None


def test_presets_lists_the_family_entries_of_the_class():
    fake_clip = type("CLIP", (PresetMixin,), {"family_presets": CLIP.family_presets})
    assert set(fake_clip.presets) == set(CLIP_PRESETS)
    assert type("Other", (PresetMixin,), {}).presets == {}
    assert Perceiver.presets == {}  # Its family's presets are all PerceiverIO.
    assert "perceiver_io_language" in PerceiverIO.presets
    CLIP.presets["clip_vit_b32_openai"]["description"] = "changed"  # A copy.
    assert CLIP.presets["clip_vit_b32_openai"]["description"] != "changed"


def test_models_have_the_preset_api():
    """The contract: `<Model>.from_preset`, `.presets`, `save_to_preset`."""
    for cls in (CLIP, Perceiver, PerceiverIO):
        assert issubclass(cls, PresetMixin), cls
        assert callable(cls.from_preset) and callable(cls.save_to_preset)


def test_unknown_name_lists_close_names():
    with pytest.raises(ValueError, match=r"Close names: \['clip_vit_b32_openai'"):
        CLIP.from_preset("clip_vit_b32_opena")


def test_another_familys_preset_names_the_class_to_use():
    """Refused before anything is downloaded (the test runs offline)."""
    with pytest.raises(ValueError, match=r"holds a PerceiverIO, not a CLIP: use "
                                         r"kerasmm.models.PerceiverIO.from_preset"):
        CLIP.from_preset("perceiver_io_language")
    with pytest.raises(ValueError, match="holds a CLIP, not a PerceiverIO"):
        PerceiverIO.from_preset("shapes_clip_tiny")
    with pytest.raises(ValueError, match="holds a PerceiverIO, not a Perceiver"):
        Perceiver.from_preset("perceiver_io_vision_conv")


def test_merge_presets_refuses_duplicates_and_bad_entries():
    entry = {"class_name": "CLIP", "description": "d", "package_data": "x"}
    with pytest.raises(ValueError, match="Two families define the preset 'a'"):
        merge_presets({"a": entry}, {"a": entry})
    with pytest.raises(ValueError, match=r"exactly one of .*Received: \[\]"):
        merge_presets({"a": {"class_name": "CLIP", "description": "d"}})
    with pytest.raises(ValueError, match="hf_repo must be a Hugging Face repo id 'org/name'"):
        check_preset_entry("a", {"class_name": "CLIP", "description": "d",
                                 "sources": [{"converter": "hf_clip", "hf_repo": "x",
                                              "unpinned": True}]})
    with pytest.raises(ValueError, match="description must be a non-empty str"):
        check_preset_entry("a", {"class_name": "CLIP", "package_data": "x"})
