"""The demo's zero-shot and retrieval numbers against numpy (`clip_evaluation`)."""

import keras
import numpy as np
import pytest

from kerasmm import datasets
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.recipes import ClipDemoConfig
from kerasmm.recipes import evaluate_clip
from kerasmm.recipes import format_results
from kerasmm.recipes import load_test_split


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), "float64")


def test_load_test_split_inputs_are_the_preprocessed_images():
    config = ClipDemoConfig(num_test=6)
    data = load_test_split(config)
    assert data["images"].dtype == np.uint8 and len(data["captions"]) == 6
    assert all(isinstance(c, str) for c in data["captions"])
    np.testing.assert_allclose(
        data["inputs"], np.asarray(CLIPImagePreprocessor(config.image_size)(data["images"])))


@pytest.mark.slow
def test_evaluate_clip_matches_numpy(trained_clip):
    config = ClipDemoConfig(num_per_class=2, num_test=40)
    tokenizer = datasets.shapes_tokenizer()
    results = evaluate_clip(trained_clip, config, tokenizer)

    # Zero-shot, transcribed from the CLIP paper: average the normalised
    # prompt embeddings of each class, renormalise, take the best class.
    classes, templates = datasets.ZERO_SHOT_CLASSES, datasets.ZERO_SHOT_TEMPLATES
    prompts = [t.format(c) for c in classes for t in templates]
    text = _numpy(trained_clip.encode_text(np.asarray(tokenizer(prompts))))
    class_embeddings = text.reshape(len(classes), len(templates), -1).mean(axis=1)
    class_embeddings /= np.linalg.norm(class_embeddings, axis=1, keepdims=True)
    images, labels = datasets.shapes_zero_shot_set(2, config.image_size)
    predictions = np.argmax(_numpy(trained_clip.encode_image(images))
                            @ class_embeddings.T, axis=1)
    correct = predictions == labels
    held = np.isin(labels, datasets.HELD_OUT_CLASS_IDS)
    assert results["zero_shot_accuracy"] == pytest.approx(correct.mean())
    assert results["zero_shot_accuracy_seen"] == pytest.approx(correct[~held].mean())
    assert results["zero_shot_accuracy_held_out"] == pytest.approx(correct[held].mean())
    assert set(results["held_out_accuracy"]) == {
        classes[i] for i in datasets.HELD_OUT_CLASS_IDS}

    # Retrieval by brute force: caption i belongs to image i.
    test = datasets.generate_shapes("test", 40, config.image_size)
    image_embeddings = _numpy(trained_clip.encode_image(
        np.asarray(CLIPImagePreprocessor(config.image_size)(test["images"]))))
    text_embeddings = _numpy(trained_clip.encode_text(
        np.asarray(tokenizer([str(c) for c in test["captions"]]))))
    similarity = image_embeddings @ text_embeddings.T
    own = np.diag(similarity)
    i2t_rank = (similarity > own[:, None]).sum(axis=1)
    t2i_rank = (similarity.T > own[:, None]).sum(axis=1)
    for k in (1, 5):
        assert results[f"i2t_recall@{k}"] == pytest.approx(np.mean(i2t_rank < k), abs=1e-6)
        assert results[f"t2i_recall@{k}"] == pytest.approx(np.mean(t2i_rank < k), abs=1e-6)


def test_format_results_table():
    results = {"zero_shot_accuracy": 0.9123, "zero_shot_accuracy_seen": 0.95,
               "zero_shot_accuracy_held_out": 0.7, "i2t_recall@1": 0.25,
               "i2t_recall@5": 0.5, "t2i_recall@1": 0.125, "t2i_recall@5": 0.625,
               "held_out_accuracy": {"red triangle": 0.5, "purple diamond": 1.0}}
    table = format_results(results)
    assert "zero-shot accuracy, all 30 classes" in table and "0.912" in table
    assert "5 classes held out of training" in table and "0.700" in table
    assert table.splitlines()[-1] == "held-out classes: red triangle 0.50, purple diamond 1.00"
