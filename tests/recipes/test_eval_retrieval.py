"""`kerasmm eval retrieval` and `evaluate_retrieval`: a Karpathy-format set made here,
the shapes test split against the shipped record, mocked TFDS coco_captions, errors."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from kerasmm import cli
from kerasmm import datasets
from kerasmm.metrics import zero_shot_retrieval_metrics
from kerasmm.models import CLIP
from kerasmm.models import CLIPPreprocessor
from kerasmm.recipes import ClipDemoConfig
from kerasmm.recipes.evaluation import RetrievalEvalConfig
from kerasmm.recipes.evaluation import evaluate_retrieval
from kerasmm.recipes.evaluation import read_karpathy
from kerasmm.recipes.shapes_clip_tiny import METRICS_FILENAME
from kerasmm.recipes.shapes_clip_tiny import SHIPPED_PRESET_DIR

PRESET = "shapes_clip_tiny"
CLIP_BENCHMARK_KEYS = {f"{kind}_retrieval_recall@{k}" for kind in ("image", "text")
                       for k in (1, 5, 10)}
# The keys of a CLIP_benchmark result file (clip_benchmark/cli.py, `dump`).
CLIP_BENCHMARK_DUMP = ("dataset", "model", "pretrained", "task", "metrics", "language")


@pytest.fixture(scope="module")
def tiny():
    return CLIP.from_preset(PRESET), CLIPPreprocessor.from_preset(PRESET)


def _karpathy_set(root, num_test=12, num_train=3):
    """Shapes images as PNGs in root/images/<filepath>/, described by
    root/dataset.json in Karpathy's format: 2 captions per test image (its
    own and one of another image), some entries with a `filepath`."""
    data = datasets.generate_shapes("test", num_test + num_train, ClipDemoConfig().image_size)
    captions = [str(c) for c in data["captions"]]
    entries = []
    for i, image in enumerate(data["images"]):
        filepath = "val2014" if i % 2 else ""
        folder = root / "images" / filepath
        folder.mkdir(parents=True, exist_ok=True)
        name = f"COCO_{i:06d}.png"
        (folder / name).write_bytes(tf.io.encode_png(image).numpy())
        entry = {"filename": name, "imgid": i, "split": "test" if i < num_test else "train",
                 "sentences": [{"raw": captions[i], "tokens": captions[i].split()},
                               {"raw": captions[(i + 5) % len(captions)]}]}
        if filepath:
            entry["filepath"] = filepath
        entries.append(entry)
    path = root / "dataset.json"
    path.write_text(json.dumps({"images": entries, "dataset": "coco"}))
    return path, data["images"][:num_test], entries[:num_test]


def test_karpathy_json_recalls_are_the_benchmark_metrics(tmp_path, tiny, capsys):
    """The CLI on a Karpathy-format set made here gives the recalls that
    `kerasmm.metrics.zero_shot_retrieval_metrics` computes on embeddings
    computed here; the train entries are left out."""
    path, images, entries = _karpathy_set(tmp_path)
    output = tmp_path / "results.json"
    assert cli.main(["eval", "retrieval", "--dataset", str(path), "--image-root",
                     str(tmp_path / "images"), "--batch-size", "5", "--output",
                     str(output), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    with open(output) as f:
        results = json.load(f)
    assert results == printed

    clip, preprocessor = tiny
    captions = [s["raw"] for entry in entries for s in entry["sentences"]]
    image_embeddings = clip.encode_image(preprocessor({"images": images})["images"])
    text_embeddings = clip.encode_text(preprocessor({"prompts": captions})["token_ids"])
    expected = zero_shot_retrieval_metrics(image_embeddings, text_embeddings,
                                           text_to_image=np.repeat(np.arange(12), 2))
    assert set(results["metrics"]) == CLIP_BENCHMARK_KEYS
    assert results["metrics"] == pytest.approx(expected, abs=1e-9)
    assert (results["num_examples"], results["num_captions"]) == (12, 24)
    assert tuple(results)[:6] == CLIP_BENCHMARK_DUMP
    assert (results["task"], results["split"]) == ("zeroshot_retrieval", "test")


def test_karpathy_images_default_to_the_json_folder(tmp_path):
    path, _, _ = _karpathy_set(tmp_path, num_test=2, num_train=1)
    with pytest.raises(ValueError, match="2 of its test images are not under image_root"):
        read_karpathy(str(path), "test")
    paths, captions = read_karpathy(str(path), "train", str(tmp_path / "images"))
    assert len(paths) == 1 and len(captions[0]) == 2 and os.path.isfile(paths[0])
    with pytest.raises(ValueError, match=r"no image in split 'val'. Its splits: \['test', "):
        read_karpathy(str(path), "val", str(tmp_path / "images"))
    (tmp_path / "bad.json").write_text(json.dumps({"annotations": []}))
    with pytest.raises(ValueError, match="not a Karpathy-format JSON"):
        read_karpathy(str(tmp_path / "bad.json"), "test")


def test_shapes_test_split_gives_the_shipped_record():
    """The shapes test split (2,000 images, one caption each): text-to-image
    recall is the demo's `t2i_recall@k`, recorded with the shipped weights."""
    results = evaluate_retrieval(RetrievalEvalConfig(batch_size=256), verbose=0)
    with open(os.path.join(SHIPPED_PRESET_DIR, METRICS_FILENAME)) as f:
        shipped = json.load(f)
    for k in (1, 5):
        assert results["metrics"][f"image_retrieval_recall@{k}"] == pytest.approx(
            shipped[f"t2i_recall@{k}"], abs=1e-4)
    assert results["num_examples"] == results["num_captions"] == 2000


def test_tfds_coco_captions_from_mock_data(tiny):
    """TFDS `coco_captions` (mock data: random images and captions, several
    per image) gives the metrics computed here on the same examples."""
    with tfds.testing.mock_data(num_examples=6):
        results = evaluate_retrieval(RetrievalEvalConfig(
            dataset="tfds:coco_captions", recall_k=(1, 5), batch_size=4), verbose=0)
        examples = list(tfds.load("coco_captions", split="test"))
    clip, preprocessor = tiny
    image_embeddings = np.concatenate([
        clip.encode_image(preprocessor({"images": ex["image"]})["images"][None])
        for ex in examples])
    captions = [[t.decode() for t in ex["captions"]["text"].numpy()] for ex in examples]
    text_embeddings = clip.encode_text(
        preprocessor({"prompts": sum(captions, [])})["token_ids"])
    expected = zero_shot_retrieval_metrics(
        image_embeddings, text_embeddings, recall_k_list=(1, 5),
        text_to_image=np.repeat(np.arange(6), [len(c) for c in captions]))
    assert results["metrics"] == pytest.approx(expected, abs=1e-6)
    assert results["num_examples"] == 6
    assert results["num_captions"] == sum(len(c) for c in captions) > 6


def test_recall_k_above_the_number_of_images_is_refused():
    with pytest.raises(ValueError, match=r"recall_k must be at most the number of images \(8\)"):
        evaluate_retrieval(RetrievalEvalConfig(num_examples=8), verbose=0)


@pytest.mark.parametrize("changes, match", [
    ({"dataset": "/no/such/dataset.json"}, "or an existing file"),
    ({"image_root": "/no/such/folder"}, "image_root must be None or an existing directory"),
    ({"image_root": "."}, "image_root is for a Karpathy JSON dataset only"),
    ({"recall_k": (1, 0)}, "recall_k must be a positive integer"),
    ({"split": ""}, "split must be None or a non-empty string"),
    ({"download": "yes"}, "download must be a bool"),
])
def test_bad_config_is_refused_naming_the_field(changes, match):
    with pytest.raises(ValueError, match=match):
        RetrievalEvalConfig(**changes)
