"""The CLIP demo's evaluation: zero-shot accuracy and retrieval recall."""

import numpy as np

from kerasmm import datasets
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.tasks import Retriever
from kerasmm.tasks import ZeroShotClassifier


def load_test_split(config):
    """The first `config.num_test` test examples of the shapes dataset.

    Returns:
        dict: `generate_shapes`' arrays (raw uint8 `images` for pictures, the
        scene descriptions `colors`, `shapes`, ...) plus `inputs`, the
        CLIP-normalised images the model takes (as in training), and
        `captions` as a list of str.
    """
    data = datasets.generate_shapes("test", config.num_test, config.image_size)
    data["inputs"] = np.asarray(CLIPImagePreprocessor(config.image_size)(data["images"]))
    data["captions"] = [str(c) for c in data["captions"]]
    return data


def evaluate_clip(clip, config, tokenizer=None, test_data=None):
    """Zero-shot accuracy and test-split retrieval of a shapes CLIP.

    Zero-shot: `kerasmm.tasks.ZeroShotClassifier` over `ZERO_SHOT_CLASSES`
    with the `ZERO_SHOT_TEMPLATES` prompt ensemble, on
    `shapes_zero_shot_set(config.num_per_class)`; accuracy overall, on the
    25 seen classes and on the 5 `HELD_OUT_CLASS_IDS` never seen in
    training. Retrieval: `kerasmm.tasks.Retriever.evaluate` on the test
    split, each caption paired with its own image (identical captions of
    different images count as misses, so R@1 has a ceiling below 1).

    Args:
        clip: a shapes `kerasmm.models.CLIP`.
        config: a `ClipDemoConfig` (`image_size`, `num_per_class`,
            `num_test`, `eval_batch_size`).
        tokenizer: defaults to `shapes_tokenizer()`.
        test_data: `load_test_split(config)`, if already loaded.

    Returns:
        dict of floats: `zero_shot_accuracy`, `zero_shot_accuracy_seen`,
        `zero_shot_accuracy_held_out`, `i2t_recall@1`, `i2t_recall@5`,
        `t2i_recall@1`, `t2i_recall@5`, and `held_out_accuracy` (dict,
        per held-out class name).
    """
    tokenizer = tokenizer or datasets.shapes_tokenizer()
    classifier = ZeroShotClassifier(
        clip, tokenizer, list(datasets.ZERO_SHOT_CLASSES),
        list(datasets.ZERO_SHOT_TEMPLATES), batch_size=config.eval_batch_size)
    images, labels = datasets.shapes_zero_shot_set(config.num_per_class, config.image_size)
    correct = classifier.classify(images) == labels
    held_out = np.isin(labels, datasets.HELD_OUT_CLASS_IDS)
    results = {
        "zero_shot_accuracy": float(correct.mean()),
        "zero_shot_accuracy_seen": float(correct[~held_out].mean()),
        "zero_shot_accuracy_held_out": float(correct[held_out].mean()),
    }
    test_data = test_data or load_test_split(config)
    retriever = Retriever(clip, tokenizer, batch_size=config.eval_batch_size)
    results.update(retriever.evaluate(test_data["inputs"], test_data["captions"],
                                      ks=(1, 5)))
    results["held_out_accuracy"] = {
        datasets.ZERO_SHOT_CLASSES[c]: float(correct[labels == c].mean())
        for c in datasets.HELD_OUT_CLASS_IDS
    }
    return results


def format_results(results):
    """The results of `evaluate_clip` as a text table."""
    held = ", ".join(f"{name} {acc:.2f}" for name, acc in results["held_out_accuracy"].items())
    num_held = len(datasets.HELD_OUT_CLASS_IDS)
    num_seen = len(datasets.ZERO_SHOT_CLASSES) - num_held
    rows = [
        (f"zero-shot accuracy, all {num_held + num_seen} classes",
         results["zero_shot_accuracy"]),
        (f"  {num_seen} colour x shape classes seen in training",
         results["zero_shot_accuracy_seen"]),
        (f"  {num_held} classes held out of training", results["zero_shot_accuracy_held_out"]),
        ("retrieval on the test split, image -> text R@1", results["i2t_recall@1"]),
        ("                                           R@5", results["i2t_recall@5"]),
        ("                             text -> image R@1", results["t2i_recall@1"]),
        ("                                           R@5", results["t2i_recall@5"]),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{'metric':<{width}}  value", "-" * (width + 7)]
    lines += [f"{name:<{width}}  {value:.3f}" for name, value in rows]
    lines.append(f"held-out classes: {held}")
    return "\n".join(lines)
