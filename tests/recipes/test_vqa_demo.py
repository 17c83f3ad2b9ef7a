"""`kerasmm demo vqa` (and chart-qa, sentiment): the recipe in small mode, and its parts."""

import json
import os

import keras
import numpy as np
import pytest

from kerasmm import cli
from kerasmm.datasets import generate_chart_qa, generate_sentiment, generate_shapes_vqa
from kerasmm.recipes.vqa_demo import format_vqa_results
from kerasmm.recipes.vqa_demo import question_groups as groups_of
from kerasmm.recipes.vqa_demo_config import VQADemoConfig


def test_groups_cover_types_and_splits():
    shapes = groups_of("shapes_vqa", generate_shapes_vqa("test", 200, 16))
    assert {"all", "color", "shape", "count", "size", "position", "seen_combos",
            "held_out_combos"} <= set(shapes)
    assert shapes["color"].sum() + shapes["shape"].sum() + shapes["count"].sum() + \
        shapes["size"].sum() + shapes["position"].sum() == 200
    charts = groups_of("chart_qa", generate_chart_qa("test", 40, 32))
    assert charts["bar_chart"].sum() + charts["line_chart"].sum() == 40
    sentiment = groups_of("sentiment", generate_sentiment("test", 40, 16))
    assert sentiment["wish"].sum() + sentiment["dread"].sum() == 40
    table = format_vqa_results({"fusion": {"all": 0.5}, "text_only": {"all": 0.25}},
                               {"all": 40})
    assert table.splitlines()[1].split() == ["all", "40", "0.500", "0.250"]


def test_config_validates():
    with pytest.raises(ValueError, match="dataset must be one of"):
        VQADemoConfig(dataset="gqa")
    with pytest.raises(ValueError, match="image_size must be a multiple of patch_size"):
        VQADemoConfig(patch_size=5)
    with pytest.raises(ValueError, match="runs must be a non-empty tuple"):
        VQADemoConfig(runs=("audio_only",))
    with pytest.raises(ValueError, match="num_train must be >= batch_size"):
        VQADemoConfig.small(num_train=8)
    with pytest.raises(ValueError, match="dropout"):
        VQADemoConfig(dropout=1.0)
    with pytest.raises(ValueError, match="patch_stem must be one of"):
        VQADemoConfig(patch_stem="overlap")
    with pytest.raises(ValueError, match="patch_size must be a power of two.*patch_size=12"):
        VQADemoConfig(image_size=48, patch_size=12, patch_stem="conv")
    assert VQADemoConfig(image_size=48, patch_size=12, patch_stem="linear").patch_size == 12


def test_each_demo_gets_its_recipe():
    from argparse import Namespace

    from kerasmm.recipes.vqa_demo import vqa_demo_config

    shapes = vqa_demo_config(Namespace(epochs=3), "shapes_vqa")
    assert (shapes.image_size, shapes.patch_size, shapes.patch_stem, shapes.epochs) == (
        32, 8, "conv", 3)
    assert (shapes.position_initializer, shapes.swapped_positions) == ("sincos", True)
    charts = vqa_demo_config(Namespace(), "chart_qa")
    assert charts == VQADemoConfig.for_dataset("chart_qa")
    assert (charts.dataset, charts.image_size, charts.dropout, charts.patch_stem) == (
        "chart_qa", 32, 0.0, "linear")
    small = vqa_demo_config(Namespace(small=True, overwrite=True), "sentiment")
    assert (small.dataset, small.epochs, small.overwrite) == ("sentiment", 1, True)


@pytest.mark.slow  # three tiny ViLTs compiled and trained
def test_demo_vqa_small_run_and_saved_model(tmp_path, capsys):
    output_dir = str(tmp_path / "out")
    status = cli.main(["demo", "vqa", "--small", "--output-dir", output_dir, "--json"])
    assert status == 0
    out = capsys.readouterr().out
    results = json.loads(out.strip().splitlines()[-1])
    for run in ("fusion", "text_only", "image_only"):
        assert set(results["by_group"][run]) >= {"all", "color", "held_out_combos"}
        assert 0 <= results["by_group"][run]["all"] <= 1
    assert results["accuracy"] == results["by_group"]["fusion"]["all"]
    assert results["warmup_cycles"] == {"fusion": 1, "text_only": 1, "image_only": 1}
    assert "text_only" in out and "held_out_combos" in out
    # The saved VQAClassifier reloads with equal outputs.
    model = keras.saving.load_model(results["model_path"])
    assert os.path.dirname(results["model_path"]) == output_dir
    data = generate_shapes_vqa("test", 4, 32)
    from kerasmm.datasets import shapes_vqa_tokenizer

    inputs = {"images": data["images"].astype("float32") / 127.5 - 1,
              **shapes_vqa_tokenizer()(data["questions"])}
    again = keras.saving.load_model(results["model_path"])
    np.testing.assert_allclose(np.asarray(model(inputs)), np.asarray(again(inputs)),
                               atol=1e-6)
    assert tuple(model(inputs).shape) == (4, 20)
    # A second run into the same folder is refused before training.
    assert cli.main(["demo", "vqa", "--small", "--output-dir", output_dir]) == 2


@pytest.mark.slow
def test_demo_sentiment_small_run_without_ablations(tmp_path):
    from kerasmm.recipes.vqa_demo import run_vqa_demo

    config = VQADemoConfig.small(dataset="sentiment", runs=("fusion",),
                                 output_dir=str(tmp_path))
    results = run_vqa_demo(config, verbose=0, log=lambda line: None)
    assert set(results["by_group"]) == {"fusion"}
    assert np.isnan(results["text_only_accuracy"])
    assert {"wish", "dread", "present", "absent"} <= set(results["by_group"]["fusion"])
    assert results["warmup_cycles"] == {"fusion": 0}  # no warm-up stage on sentiment


def test_warmup_stage_runs_again_below_its_accuracy(monkeypatch):
    from kerasmm.recipes import vqa_demo

    with pytest.raises(ValueError, match="warmup_stage_max_cycles.*=0"):
        VQADemoConfig(warmup_stage_max_cycles=0)
    with pytest.raises(ValueError, match="warmup_stage_min_accuracy must be in \\[0, 1\\].*=1.5"):
        VQADemoConfig(warmup_stage_min_accuracy=1.5)

    def warm_up(accuracies, cycles=None, **changes):
        """Cycles, log lines and fits of the warm-up loop whose cycles end at
        `accuracies` (`fit` itself is the recipe's, tested by the demo runs)."""
        config = VQADemoConfig(epochs=24, warmup_stage_epochs=12, **changes)
        fits, lines = [], []

        def fit(model, data, tokenizer, stage, blank, verbose):
            fits.append(stage)
            history = keras.callbacks.History()
            last = accuracies[len(fits) - 1]
            history.history = {"accuracy": [0.1] * (stage.epochs - 1) + [last]}
            return history, 2.0

        monkeypatch.setattr(vqa_demo, "train_vqa_model", fit)
        ran, seconds = vqa_demo.run_warmup_stage(None, {}, None, config, None, 0,
                                                 lines.append, "fusion", cycles)
        assert seconds == 2.0 * len(fits) and ran == len(fits)
        assert all(stage.epochs == 12 and stage.seed == config.seed for stage in fits)
        return ran, lines

    # The default: again while the last epoch is below 0.85, at most 4 cycles.
    assert warm_up([0.9]) == (1, [])
    cycles, lines = warm_up([0.683, 0.722, 0.85])
    assert cycles == 3 and len(lines) == 2
    assert lines[0] == ("[fusion] warm-up cycle 1 ended at training accuracy 0.683, "
                        "below 0.85: running it again")
    cycles, lines = warm_up([0.5] * 4)
    assert cycles == 4 and len(lines) == 4
    assert lines[-1].endswith("below 0.85: going on to the mix after 4 cycles")
    assert warm_up([0.5, 0.95], warmup_stage_max_cycles=1)[0] == 1
    assert warm_up([0.5, 0.95], warmup_stage_min_accuracy=0.4)[0] == 1
    # Given a count (an ablation: the fusion run's), exactly that many, whatever the accuracy.
    assert warm_up([0.9, 0.9], cycles=2) == (2, [])
    assert warm_up([0.5] * 5, cycles=1) == (1, [])


def test_ablations_warm_up_as_long_as_the_fusion_run(monkeypatch, tmp_path):
    from kerasmm.recipes import vqa_demo

    fits = []

    def fit(model, data, tokenizer, stage, blank, verbose):
        fits.append((blank, stage.epochs))
        history = keras.callbacks.History()
        # The fusion run's warm-up reaches 0.85 in its second cycle.
        history.history = {"accuracy": [0.9 if len(fits) == 2 else 0.5]}
        return history, 1.0

    monkeypatch.setattr(vqa_demo, "train_vqa_model", fit)
    config = VQADemoConfig.small(warmup_stage_max_cycles=4, warmup_stage_epochs=3,
                                 runs=("image_only", "fusion"), output_dir=str(tmp_path))
    results = vqa_demo.run_vqa_demo(config, verbose=0, log=lambda line: None)
    assert results["warmup_cycles"] == {"fusion": 2, "image_only": 2}
    # The fusion run first (2 warm-up cycles, the mix), then the ablation (the same).
    assert fits == [(None, 3), (None, 3), (None, 1), ("text", 3), ("text", 3), ("text", 1)]
    assert results["train_seconds"] == {"fusion": 3.0, "image_only": 3.0}


def test_training_mix_changes_only_the_training_split():
    from kerasmm.recipes.vqa_demo import training_data

    with pytest.raises(ValueError, match="single_position_fraction must be in"):
        VQADemoConfig(single_position_fraction=1.5)
    with pytest.raises(ValueError, match="pair_type_weights must be 5"):
        VQADemoConfig(pair_type_weights=(1, 1))
    config = VQADemoConfig.small(num_train=300, pair_type_weights=(0, 0, 0, 0, 1),
                                 single_position_fraction=1.0, swapped_positions=False)
    mixed = training_data(config)
    plain = training_data(VQADemoConfig.small(num_train=300, pair_type_weights=None,
                                              single_position_fraction=0.0,
                                              swapped_positions=False))
    np.testing.assert_array_equal(mixed["images"], plain["images"])
    types = np.array(mixed["question_types"])
    assert (types == "position").mean() > 2 * (np.array(plain["question_types"]) ==
                                               "position").mean()
    assert any(q.endswith("relative to the image?") for q in mixed["questions"])
    charts = training_data(VQADemoConfig.small(dataset="chart_qa", num_train=20))
    assert len(charts["questions"]) == 20
    with pytest.raises(ValueError, match="swapped_positions"):
        VQADemoConfig(swapped_positions=1)
    twins = training_data(VQADemoConfig.small(num_train=300, swapped_positions=True,
                                              pair_type_weights=None,
                                              single_position_fraction=0.0))
    pairs = int((np.array(plain["question_types"]) == "position").sum())
    assert pairs > 0 and len(twins["questions"]) == 300 + pairs == len(twins["images"])
    assert twins["questions"][:300] == plain["questions"]


def test_patch_stem_reaches_the_vilt():
    from kerasmm.datasets import SHAPES_VQA_ANSWERS, shapes_vqa_tokenizer
    from kerasmm.layers import ConvPatchEmbedding
    from kerasmm.recipes.vqa_demo import build_vqa_model

    tokenizer = shapes_vqa_tokenizer()
    model = build_vqa_model(VQADemoConfig.small(patch_stem="conv"), tokenizer,
                            len(SHAPES_VQA_ANSWERS))
    embedding = model.backbone.image_embedding.patch_embedding
    assert model.backbone.patch_stem == "conv" and isinstance(embedding, ConvPatchEmbedding)
    data = generate_shapes_vqa("test", 2, 32)
    logits = model({"images": data["images"].astype("float32") / 127.5 - 1,
                    **tokenizer(data["questions"])})
    assert tuple(logits.shape) == (2, len(SHAPES_VQA_ANSWERS))


def test_warmup_stage_data_keeps_the_warmup_types():
    import dataclasses

    from kerasmm.datasets.shapes import SHAPES
    from kerasmm.recipes.vqa_demo import warmup_stage_data

    with pytest.raises(ValueError, match="warmup_stage_epochs is for dataset='shapes_vqa'"):
        VQADemoConfig.for_dataset("chart_qa", warmup_stage_epochs=2)
    with pytest.raises(ValueError, match="warmup_stage_epochs"):
        VQADemoConfig(warmup_stage_epochs=-1)
    with pytest.raises(ValueError, match="warmup_stage_weights must be 5.*=\\(1, 1\\)"):
        VQADemoConfig(warmup_stage_weights=(1, 1))
    with pytest.raises(ValueError, match="warmup_stage_weights must be 5"):
        VQADemoConfig(warmup_stage_weights=None)
    config = VQADemoConfig.small(num_train=300, single_position_fraction=1.0,
                                 swapped_positions=True, pair_type_weights=None,
                                 warmup_stage_weights=(0, 0, 0, 0, 1))
    warm = warmup_stage_data(config)
    assert set(warm["question_types"]) == {"position"}
    assert len(warm["questions"]) == len(warm["images"]) == len(warm["answer_ids"])
    # Every two-shape scene whose shapes can be told apart, asked both ways.
    scenes = generate_shapes_vqa("train", 300, 32)
    distinct = (scenes["num_shapes"] == 2) & (
        (scenes["colors"][:, 0] != scenes["colors"][:, 1])
        | (scenes["shapes"][:, 0] != scenes["shapes"][:, 1]))
    pair = warm["num_shapes"] == 2
    assert pair.sum() == 2 * distinct.sum() > 0
    # The answer's axis is the scene's layout (relation 1: side by side).
    horizontal = np.isin(np.array(warm["answers"]), ["left", "right"])
    np.testing.assert_array_equal(horizontal[pair], warm["relation"][pair] == 1)
    assert all(q.endswith(" to the image?")
               for q, p in zip(warm["questions"], pair) if not p)
    assert (~pair).sum() > 0
    # Position and shape questions: only those two types are kept.
    both = warmup_stage_data(dataclasses.replace(config, warmup_stage_weights=(0, 0.4, 0, 0,
                                                                               0.6)))
    types = np.array(both["question_types"])
    assert set(types) == {"position", "shape"}
    assert set(np.array(both["answers"])[types == "shape"]) <= set(SHAPES)
