"""`kerasmm demo generate` (small mode) and its config."""

import json
import os

import pytest

from kerasmm.cli import main
from kerasmm.recipes.generate_demo import JSON_KEYS
from kerasmm.recipes.generate_demo_config import GenerateDemoConfig


def test_config_validates():
    assert GenerateDemoConfig.shipped().epochs > GenerateDemoConfig().epochs
    with pytest.raises(ValueError, match="sampler"):
        GenerateDemoConfig(sampler="euler")
    with pytest.raises(ValueError, match="guidance_scale"):
        GenerateDemoConfig(guidance_scale=-1)
    with pytest.raises(ValueError, match="channel_multipliers"):
        GenerateDemoConfig(channel_multipliers=())


@pytest.mark.slow
def test_demo_generate_small(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "generate", "--small", "--output-dir", str(out), "--json"]) == 0
    text = capsys.readouterr().out
    assert "reader: colour and shape" in text and "per-pixel diversity" in text
    results = json.loads(text.strip().splitlines()[-1])
    for key in ("reader_accuracy_all", "reader_accuracy_held_out", "clip_accuracy_seen",
                "clip_score_all", "test_reader_accuracy_all", "diversity", "real_diversity"):
        assert key in results and 0 <= results[key] <= 100, key
    assert set(results) <= set(JSON_KEYS)
    assert os.path.getsize(results["png_path"]) > 1000
    # A non-empty output folder is refused before training.
    assert main(["demo", "generate", "--small", "--output-dir", str(out)]) == 2
