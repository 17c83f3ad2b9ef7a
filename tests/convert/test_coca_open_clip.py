"""open_clip CoCa checkpoints convert to `kerasmm.models.CoCa` with float32
parity, and greedy `generate` gives open_clip's ids. Fixture (a tiny random
open_clip CoCa): `tools/make_coca_fixtures.py`."""

import functools

import keras
import numpy as np
import pytest

from kerasmm import convert
from kerasmm.convert import open_clip_coca
from kerasmm.models import CLIP
from kerasmm.models import CoCa
from kerasmm.models.coca import CoCaVisionTransformer
from kerasmm.presets import check_preset_entry
from tests.convert.parity import ATOL, copy_fixture, fixture, max_abs_diff, reference
from tests.convert.parity import rewrite_config

NAME = "coca_open_clip"


@functools.lru_cache(maxsize=None)
def model():
    return CoCa.from_preset(fixture(NAME))


def test_embeddings_logits_and_scale_match_open_clip():
    ref, coca = reference(NAME), model()
    # `call` reads token_ids[:, :-1] (as open_clip trains: logits[:, :-1] vs
    # text[:, 1:]); with one more id it reads the whole text, and the logits
    # cover every position of it.
    ids = np.pad(ref["token_ids"], ((0, 0), (0, 1)))
    outputs = coca({"images": ref["images"], "token_ids": ids})
    for key, expected in (("image_embeddings", ref["image_embeddings"]),
                          ("text_embeddings", ref["text_embeddings"]),
                          ("caption_logits", ref["logits"]),
                          ("logit_scale", ref["logit_scale"])):
        assert max_abs_diff(outputs[key], expected) <= ATOL, key
    assert np.ptp(ref["logits"]) > 1.0 and np.ptp(ref["image_embeddings"]) > 0.1


def test_open_clip_text_mask_is_the_one_the_checkpoint_needs():
    """open_clip's mask (one position late) against kerasmm's end-token mask:
    padded rows differ, the row that fills the context (no padding) does not."""
    ref = reference(NAME)
    end_token = CoCa.from_preset(fixture(NAME), text_mask="end_token")
    diff = np.abs(keras.ops.convert_to_numpy(end_token.encode_text(ref["token_ids"]))
                  - ref["text_embeddings"]).max(axis=1)
    padded = (ref["token_ids"] == 0).any(axis=1)
    assert padded.sum() == 3 and (diff[padded] > 1e-2).all(), diff
    assert (diff[~padded] <= ATOL).all(), diff


@pytest.mark.slow  # One XLA compilation (~10 s on 2 shared cores).
def test_greedy_generate_matches_open_clip():
    """open_clip's greedy ids less the start token; one row ends early (then
    pads), the others run to the end."""
    ref = reference(NAME)
    expected = ref["generated"][:, 1:]
    assert (expected == 63).any(axis=1).sum() == 1 and ref["min_margin"] > 1e-3
    generated = model().generate(ref["images"], max_length=expected.shape[1])
    np.testing.assert_array_equal(generated, expected)


def test_config_translation_and_detection():
    assert convert.detect(fixture(NAME)) == "open_clip_coca"
    converted = convert.convert(fixture(NAME), load_weights=False)
    config = converted.config
    assert converted.class_name == "CoCa"
    assert config["vision_encoder"]["class_name"] == "CoCaVisionTransformer"
    assert config["vision_encoder"]["config"]["num_heads"] == 24 // 8
    assert (config["shared_pooler"], config["pooler_num_heads"], config["num_caption_queries"],
            config["text_mask"]) == (True, 2, 8, "open_clip")
    assert (config["start_token_id"], config["end_token_id"], config["pad_token_id"]) == (
        62, 63, 0)
    assert converted.preprocessing["context_length"] == 12
    coca = model()
    assert coca.contrastive_pooler is None and coca.caption_norm is None
    assert coca.caption_pooler.num_queries == 9
    assert isinstance(coca.vision_encoder, CoCaVisionTransformer)


def test_clip_refuses_a_coca_checkpoint():
    with pytest.raises(ValueError, match="holds a CoCa, not a CLIP"):
        CLIP.from_preset(fixture(NAME))


def _model_cfg(**edits):
    config = convert.read_json(f"{fixture(NAME)}/open_clip_config.json")
    for key, value in edits.items():
        where, option = key.split("__")
        target = config["model_cfg"] if where == "model" else config["model_cfg"][where]
        target[option] = value
    return config


def _released(embed_dim, vision_width, vision_layers, patch_size, heads, pooler_heads):
    """The `model_cfg` of open_clip's `coca_ViT-B-32.json` / `coca_ViT-L-14.json`."""
    text = {"context_length": 76, "vocab_size": 49408, "width": embed_dim, "heads": heads,
            "layers": 12}
    return {"model_cfg": {
        "embed_dim": embed_dim, "custom_text": True,
        "vision_cfg": {"image_size": 224, "layers": vision_layers, "width": vision_width,
                       "patch_size": patch_size, "attentional_pool": True,
                       "attn_pooler_heads": 8, "output_tokens": True},
        "text_cfg": dict(text, embed_cls=True, output_tokens=True),
        "multimodal_cfg": dict(text, attn_pooler_heads=pooler_heads)}}


@pytest.mark.parametrize("released, vision_heads, num_heads", [
    (_released(512, 768, 12, 32, 8, 8), 12, 8),      # coca_ViT-B-32
    (_released(768, 1024, 24, 14, 12, 12), 16, 12),  # coca_ViT-L-14: pooler heads 8
])
def test_released_configs_translate(released, vision_heads, num_heads):
    config = open_clip_coca.CONVERTER.model_config(released)
    assert config["vision_encoder"]["config"]["num_heads"] == vision_heads
    assert (config["num_heads"], config["pooler_num_heads"]) == (num_heads, 8)
    assert (config["num_caption_queries"], config["context_length"]) == (255, 76)
    assert (config["start_token_id"], config["end_token_id"]) == (49406, 49407)
    assert config["vision_encoder"]["config"]["intermediate_dim"] is None


@pytest.mark.parametrize("edits, match", [
    ({"vision_cfg__ls_init_value": 0.1}, "ls_init_value"),
    ({"vision_cfg__attentional_pool": "parallel"}, "attentional_pool"),
    ({"vision_cfg__attentional_pool": False}, "attentional_pool"),
    ({"vision_cfg__attentional_pool": None}, "attentional_pool=None"),  # open_clip: off.
    ({"vision_cfg__layers": [1, 1, 1, 1]}, "ModifiedResNet"),
    ({"text_cfg__embed_cls": False}, "embed_cls"),
    ({"text_cfg__hf_model_name": "roberta-base"}, "hf_model_name"),
    ({"model__init_logit_bias": -10.0}, "init_logit_bias"),
    ({"multimodal_cfg__width": 48}, "multimodal_cfg.width=48"),
    ({"multimodal_cfg__heads": 8}, "multimodal_cfg.heads=8"),
])
def test_unsupported_options_are_refused(edits, match):
    with pytest.raises(ValueError, match=match):
        open_clip_coca.CONVERTER.model_config(_model_cfg(**edits))


def test_refusals_name_the_file(tmp_path):
    directory = copy_fixture(NAME, tmp_path)
    rewrite_config(directory, lambda c: c["model_cfg"]["text_cfg"].update(qk_norm=True),
                   "open_clip_config.json")
    with pytest.raises(ValueError, match="open_clip_config.json.*qk_norm"):
        CoCa.from_preset(directory)


def test_the_preset_entry_is_an_unpinned_open_clip_coca_source():
    entry = CoCa.presets["coca_vit_b32_laion2b"]
    check_preset_entry("coca_vit_b32_laion2b", entry)
    (source,) = entry["sources"]
    assert source == {"converter": "open_clip_coca", "unpinned": True,
                      "hf_repo": "laion/CoCa-ViT-B-32-laion2B-s13B-b90k"}
    with pytest.raises(ValueError, match="not pinned yet"):  # Before any download.
        CoCa.from_preset("coca_vit_b32_laion2b")


def test_new_options_round_trip_and_are_checked():
    coca = model()
    clone = CoCa.from_config(coca.get_config())
    assert (clone.shared_pooler, clone.pooler_num_heads, clone.text_mask) == (
        True, 2, "open_clip")
    assert len(clone.weights) == len(coca.weights)
    config = dict(coca.get_config(), vision_encoder=CoCaVisionTransformer(
        image_size=32, patch_size=8, hidden_dim=24, num_layers=1, num_heads=3))
    base = {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}
    for key, value, match in (("text_mask", "pad", "text_mask must be one of"),
                              ("shared_pooler", 1, "shared_pooler must be a bool"),
                              ("pooler_num_heads", 0, "pooler_num_heads")):
        with pytest.raises(ValueError, match=match):
            CoCa(**dict(base, **{key: value}))


def test_converted_model_saves_and_loads_as_a_kerasmm_preset(tmp_path):
    ref, directory = reference(NAME), str(tmp_path / "coca")
    model().save_to_preset(directory)
    loaded = CoCa.from_preset(directory)
    assert isinstance(loaded.vision_encoder, CoCaVisionTransformer)
    assert max_abs_diff(loaded.encode_image(ref["images"]), ref["image_embeddings"]) <= ATOL
    assert max_abs_diff(loaded.encode_text(ref["token_ids"]), ref["text_embeddings"]) <= ATOL
