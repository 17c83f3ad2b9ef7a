"""`kerasmm demo video-caption`: its parts, and the recipe end to end in small mode."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from kerasmm import cli
from kerasmm.datasets import caption_tokenizer
from kerasmm.recipes.caption_evaluation import score_captions
from kerasmm.recipes.video_caption_demo import VideoCaptionConfig
from kerasmm.recipes.video_caption_demo import build_video_coca
from kerasmm.recipes.video_caption_demo import load_video_test_split


@pytest.mark.slow  # ~9 s on TensorFlow; JAX's first eager calls take a minute on 2 busy cores.
def test_video_coca_reads_frame_order_and_position():
    config = VideoCaptionConfig.small()
    coca = build_video_coca(config)
    data = load_video_test_split(dataclasses.replace(config, num_test=1))
    clip = data["inputs"]
    assert clip.shape == (1, config.clip_frames, 32, 32, 3)
    # The clip, reversed in time (the shape moving the other way) and
    # mirrored (the shape elsewhere), in one call.
    clips = np.concatenate([clip, clip[:, ::-1], clip[:, :, :, ::-1]])
    token_ids = caption_tokenizer()([str(data["captions"][0])] * 3)
    outputs = coca({"images": clips, "token_ids": token_ids})
    shape = (3, np.shape(token_ids)[1] - 1, coca.vocabulary_size)
    assert tuple(outputs["caption_logits"].shape) == shape
    features = keras.ops.convert_to_numpy(outputs["image_embeddings"])
    assert not np.allclose(features[0], features[1], atol=1e-4)
    assert not np.allclose(features[0], features[2], atol=1e-4)


def test_scores_group_seen_and_held_out_clips():
    data = load_video_test_split(VideoCaptionConfig.small(num_test=40))
    groups = {"seen": ~data["held_out"], "held_out": data["held_out"]}
    assert data["held_out"].any() and not data["held_out"].all()
    captions = [str(c) for c in data["captions"]]
    perfect = score_captions(captions, data, groups)
    assert perfect["exact_match_seen"] == perfect["exact_match_held_out"] == 1.0
    wrong = [c.rsplit(" ", 1)[0] if h else c for c, h in zip(captions, data["held_out"])]
    scores = score_captions(wrong, data, groups)
    assert scores["exact_match_seen"] == 1.0
    assert scores["exact_match_held_out"] == 0.0 and scores["cider_d"] < perfect["cider_d"]


def test_config_checks():
    with pytest.raises(ValueError, match="num_train"):
        VideoCaptionConfig(num_train=5000)
    with pytest.raises(ValueError, match="num_frames"):
        VideoCaptionConfig(num_frames=0)
    assert VideoCaptionConfig().num_frames < VideoCaptionConfig().clip_frames


@pytest.mark.slow  # Three compilations: fit, greedy and beam decoding.
def test_demo_video_caption_small_run(tmp_path, capsys):
    output_dir = str(tmp_path / "out")
    status = cli.main(["demo", "video-caption", "--small", "--output-dir", output_dir,
                       "--json"])
    assert status == 0
    lines = capsys.readouterr().out.strip().splitlines()
    results = json.loads(lines[-1])
    text = "\n".join(lines)
    assert "CIDEr-D" in text and "held-out colour x shape" in text
    for key in ("bleu_4", "cider_d", "exact_match_seen", "beam_cider_d"):
        assert 0.0 <= results[key] <= 10.0
    assert results["steps_per_epoch"] == 3 and np.isfinite(results["final_loss"])
    reloaded = keras.saving.load_model(results["model_path"])
    assert reloaded.vision_encoder.num_frames == VideoCaptionConfig.small().num_frames
    assert cli.main(["demo", "video-caption", "--small", "--output-dir", output_dir]) == 2
