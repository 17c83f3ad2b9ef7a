"""open_clip CoCa checkpoints convert to `kerasmm.models.CoCa` with float32
parity, greedy `generate` gives open_clip's ids (pads before the end token
included), and the converted directory's `CoCaPreprocessor` tokenizes and
captions as open_clip. Fixture (a tiny random open_clip CoCa with a tiny CLIP
BPE): `tools/make_coca_fixtures.py`."""

import functools
import os

import keras
import numpy as np
import pytest

from kerasmm import cli
from kerasmm import convert
from kerasmm.app import caption_command
from kerasmm.convert import open_clip_coca
from kerasmm.datasets import shapes_tokenizer
from kerasmm.models import CLIP
from kerasmm.models import CoCa
from kerasmm.models import CoCaPreprocessor
from kerasmm.models.coca import CoCaVisionTransformer
from kerasmm.presets import check_preset_entry
from tests.convert.parity import ATOL, copy_fixture, fixture, max_abs_diff, reference
from tests.convert.parity import rewrite_config

NAME = "coca_open_clip"
START, END = 526, 527  # The last two ids of the fixture's 528-token CLIP BPE.


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
    assert (expected == END).any(axis=1).sum() == 1 and ref["min_margin"] > 1e-3
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
        START, END, 0)
    assert {k: converted.preprocessing[k] for k in (
        "context_length", "pad_token_id", "image_size", "interpolation")} == {
        "context_length": 12, "pad_token_id": 0, "image_size": 32, "interpolation": "bicubic"}
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
    # open_clip's get_tokenizer: the text tower's context (CLS is the 77th).
    preprocessing = open_clip_coca.CONVERTER.preprocessing(released, None)
    assert (preprocessing["context_length"], preprocessing["pad_token_id"]) == (76, 0)
    assert (preprocessing["image_size"], preprocessing["interpolation"]) == (224, "bicubic")


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
    model().save_to_preset(directory)  # With its preprocessor.
    loaded = CoCa.from_preset(directory)
    assert isinstance(loaded.vision_encoder, CoCaVisionTransformer)
    assert max_abs_diff(loaded.encode_image(ref["images"]), ref["image_embeddings"]) <= ATOL
    assert max_abs_diff(loaded.encode_text(ref["token_ids"]), ref["text_embeddings"]) <= ATOL
    preprocessor = CoCaPreprocessor.from_preset(directory)
    for tokenizer in (preprocessor.tokenizer, loaded.preprocessor.tokenizer):
        np.testing.assert_array_equal(tokenizer(list(ref["texts"])), ref["text_ids"])


def test_keras_file_round_trip_keeps_the_preprocessor(tmp_path):
    ref, path = reference(NAME), str(tmp_path / "coca.keras")
    model().save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.preprocessor, CoCaPreprocessor)
    np.testing.assert_array_equal(loaded.preprocessor({"prompts": list(ref["texts"])})[
        "token_ids"], ref["text_ids"])
    assert max_abs_diff(loaded.encode_image(ref["images"]), ref["image_embeddings"]) <= ATOL


# === Preprocessing and captions ===


def test_tokenizer_matches_open_clip():
    """The converted directory's tokenizer (its vocab.json and merges.txt,
    context 12, pad 0) gives open_clip's ids: merges, case, punctuation,
    accents, truncation with the end token kept last, the empty text."""
    ref, coca = reference(NAME), model()
    assert isinstance(coca.preprocessor, CoCaPreprocessor)
    ids = coca.preprocessor({"prompts": list(ref["texts"])})["token_ids"]
    np.testing.assert_array_equal(ids, ref["text_ids"])
    assert (ref["text_ids"][:, 0] == START).all() and (ref["text_ids"] == END).sum() == 6
    assert ref["text_ids"][4, -1] == END and ref["text_ids"][5, 2] == 0


def test_detokenize_matches_open_clip_decode():
    ref, preprocessor = reference(NAME), CoCaPreprocessor.from_preset(fixture(NAME))
    assert preprocessor.detokenize(ref["photo_generated"][:, 1:]) == list(ref["photo_captions"])
    # A caption ends at its end token; the pads after it are not read.
    ids = preprocessor({"prompts": ["a photo of a cat", "the red dog"]})["token_ids"]
    assert preprocessor.detokenize(ids[:, 1:]) == ["a photo of a cat", "the red dog"]


@pytest.mark.slow  # One XLA compilation (~10 s on 2 shared cores).
def test_beam_generate_matches_open_clips_default_generate():
    """open_clip's `CoCa.generate` defaults (6 beams; 3 groups asked, which
    it drops on transformers 5; `min_seq_len=5` and `seq_len` count the start
    token) are `strategy="beam", num_beams=6, min_length=4,
    max_length=seq_len - 1` here: the same ids, less the start token. Beam
    search here picks other captions than greedy decoding does."""
    ref = reference(NAME)
    expected = reference(NAME, "beam_reference.npz")["beam_generated"][:, 1:]
    generated = model().generate(ref["images"], strategy="beam", num_beams=6, min_length=4,
                                 max_length=expected.shape[1])
    np.testing.assert_array_equal(generated, expected)
    assert (expected != ref["generated"][:, 1:]).any()


@pytest.mark.slow  # One XLA compilation, shared with test_greedy_generate_matches_open_clip.
def test_photos_caption_end_to_end_as_open_clip(tmp_path, capsys, monkeypatch):
    """uint8 photos -> CoCaPreprocessor -> generate -> detokenize gives the
    captions open_clip writes for them, through `caption` and through
    `kerasmm caption PHOTO... --preset DIR`."""
    from PIL import Image

    ref, coca = reference(NAME), model()
    assert ref["photo_min_margin"] > 1e-3
    assert coca.caption(ref["photos"], max_length=10) == list(ref["photo_captions"])
    paths = []
    for i, photo in enumerate(ref["photos"]):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(photo).save(paths[-1])
    monkeypatch.setattr(caption_command, "load_captioner", lambda preset, allow_unpinned: coca)
    assert cli.main(["caption", *paths, "--preset", fixture(NAME), "--max-length", "10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{p}\t{c}" for p, c in zip(paths, ref["photo_captions"])]


@pytest.mark.slow  # One XLA compilation (~10 s on 2 shared cores).
def test_generated_pads_are_hidden_as_open_clip_hides_them():
    """A prompt with pads before any end token (open_clip's text mask hides
    the position after each one from every later position): open_clip's
    greedy continuation, an early end included."""
    ref = reference(NAME)
    prompt, expected = ref["forced_generated"][0, 1:6], ref["forced_generated"][:, 1:]
    assert (prompt == 0).sum() == 3 and (expected == END).any(axis=1).sum() == 3
    assert ref["forced_min_margin"] > 1e-3
    generated = model().generate(ref["images"], max_length=5, prompt_token_ids=prompt)
    np.testing.assert_array_equal(generated, expected)


def test_the_cli_loads_a_coca_directory_with_its_preprocessor():
    coca = caption_command.load_captioner(fixture(NAME))
    assert isinstance(coca, CoCa) and isinstance(coca.preprocessor, CoCaPreprocessor)
    assert caption_command.holds_coca("coca_vit_b32_laion2b")
    assert not caption_command.holds_coca("blip_captioning_base")
    assert not caption_command.holds_coca(fixture("hf_blip_captioning"))


def test_a_directory_without_tokenizer_files_loads_without_preprocessor(tmp_path):
    directory = copy_fixture(NAME, tmp_path)
    os.remove(os.path.join(directory, "vocab.json"))
    coca = CoCa.from_preset(directory)
    assert coca.preprocessor is None
    with pytest.raises(ValueError, match="has no preprocessor"):
        coca.caption(reference(NAME)["photos"])
    with pytest.raises(ValueError, match="has no vocab.json"):
        CoCaPreprocessor.from_preset(directory)
    with pytest.raises(ValueError, match="preprocessor must be a CoCaPreprocessor"):
        CoCa.from_preset(directory, preprocessor="tokenizer")
    other = CoCaPreprocessor(tokenizer=shapes_tokenizer())  # Another vocabulary.
    with pytest.raises(ValueError, match="model's start and end ids"):
        CoCa.from_preset(directory, preprocessor=other)
