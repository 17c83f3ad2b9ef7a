"""`kerasmm demo caption`: the recipe end to end in its small mode, and its parts."""

import json
import os

import keras
import numpy as np
import pytest

from kerasmm import cli
from kerasmm.datasets import caption_tokenizer
from kerasmm.recipes.caption_demo_config import CaptionDemoConfig
from kerasmm.recipes.caption_evaluation import generate_captions
from kerasmm.recipes.caption_evaluation import load_caption_test_split
from kerasmm.recipes.caption_evaluation import score_captions
from kerasmm.recipes.caption_training import build_caption_coca
from kerasmm.recipes.caption_training import build_token_encoder


def test_token_encoder_keeps_positions():
    config = CaptionDemoConfig.small()
    encoder = build_token_encoder(config)
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    assert tuple(encoder(images).shape) == (2, 64, config.hidden_dim)
    # Mirrored images give other token sets (the positions are embedded).
    tokens = keras.ops.convert_to_numpy(encoder(images))
    mirrored = keras.ops.convert_to_numpy(encoder(images[:, :, ::-1]))
    assert not np.allclose(np.sort(tokens, axis=1), np.sort(mirrored, axis=1), atol=1e-4)


def test_scores_of_perfect_and_wrong_captions():
    config = CaptionDemoConfig.small(num_test=40)
    data = load_caption_test_split(config)
    perfect = score_captions([str(c) for c in data["captions"]], data)
    assert perfect["exact_match"] == 1.0 and perfect["exact_match_single"] == 1.0
    assert perfect["bleu_4"] == pytest.approx(1.0) and perfect["cider_d"] > 5
    wrong = score_captions(["a"] * len(data["captions"]), data)
    assert wrong["exact_match"] == 0.0 and wrong["cider_d"] < perfect["cider_d"]


@pytest.mark.slow  # the compiled decoding loop alone takes ~10 s to build
def test_generate_captions_pads_the_last_batch():
    config = CaptionDemoConfig.small(eval_batch_size=4, max_length=4, hidden_dim=16,
                                     num_heads=2, num_multimodal_layers=1, output_dim=8,
                                     conv_widths=(4, 8, 8), num_caption_queries=4)
    coca = build_caption_coca(config)
    images = load_caption_test_split(CaptionDemoConfig.small(num_test=6))["inputs"]
    captions = generate_captions(coca, images, caption_tokenizer(), config)
    assert len(captions) == 6 and all(isinstance(c, str) for c in captions)
    # One compiled loop for both batches (6 = 4 + 2 padded to 4).
    assert coca.generate_trace_count == 1


@pytest.mark.slow
def test_demo_caption_small_run(tmp_path, capsys):
    output_dir = str(tmp_path / "out")
    status = cli.main(["demo", "caption", "--small", "--output-dir", output_dir, "--json"])
    assert status == 0
    lines = capsys.readouterr().out.strip().splitlines()
    results = json.loads(lines[-1])
    text = "\n".join(lines)
    assert "BLEU-4" in text and "CIDEr-D" in text and "Examples" in text
    for key in ("bleu_4", "cider_d", "exact_match_single", "beam_cider_d"):
        assert 0.0 <= results[key] <= 10.0
    assert results["epochs"] == 1 and results["steps_per_epoch"] == 3
    assert np.isfinite(results["final_loss"])
    assert os.path.isfile(results["model_path"])
    reloaded = keras.saving.load_model(results["model_path"])
    assert reloaded.end_token_id == caption_tokenizer().end_token_id
    # A second run into the same folder is refused before training.
    assert cli.main(["demo", "caption", "--small", "--output-dir", output_dir]) == 2
