"""kerasmm.metrics.benchmark against numpy transcriptions of CLIP_benchmark.

The references below follow CLIP_benchmark's code line by line
(`clip_benchmark/metrics/zeroshot_classification.py: accuracy, evaluate`
and `zeroshot_retrieval.py: evaluate, recall_at_k`, LAION-AI/CLIP_benchmark
at 48de38c), with `torch.topk` as a stable descending argsort: among tied
scores the lower index comes first, the order kerasmm documents.
"""

import keras
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from kerasmm.metrics import zero_shot_classification_metrics
from kerasmm.metrics import retrieval_recall
from kerasmm.metrics import zero_shot_retrieval_metrics


def topk_indices(scores, k):
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def reference_accuracy(output, target, topk):
    pred = topk_indices(output, max(topk)).T
    correct = pred == target.reshape(1, -1)
    n = len(target)
    return [float(correct[:k].reshape(-1).astype("float32").sum()) / n for k in topk]


def reference_classification(logits, target):
    pred = np.argmax(logits, axis=1)
    if logits.shape[1] >= 5:
        acc1, acc5 = reference_accuracy(logits, target, topk=(1, 5))
    else:
        (acc1,) = reference_accuracy(logits, target, topk=(1,))
        acc5 = float("nan")
    return {"acc1": acc1, "acc5": acc5,
            "mean_per_class_recall": balanced_accuracy_score(target, pred)}


def reference_recall_at_k(scores, positive_pairs, k):
    nb_texts, nb_images = scores.shape
    topk = topk_indices(scores, k)
    nb_positive = positive_pairs.sum(axis=1)
    topk_onehot = np.eye(nb_images, dtype="int64")[topk]  # nb_texts, k, nb_images
    positive_pairs_reshaped = positive_pairs.reshape(nb_texts, 1, nb_images)
    nb_true_positive = (topk_onehot * positive_pairs_reshaped).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return nb_true_positive / nb_positive


def reference_retrieval(images_emb, texts_emb, texts_image_index, recall_k_list):
    scores = texts_emb @ images_emb.T
    positive_pairs = np.zeros_like(scores, dtype=bool)
    positive_pairs[np.arange(len(scores)), texts_image_index] = True
    metrics = {}
    for recall_k in recall_k_list:
        metrics[f"image_retrieval_recall@{recall_k}"] = float(
            (reference_recall_at_k(scores, positive_pairs, recall_k) > 0).mean())
        metrics[f"text_retrieval_recall@{recall_k}"] = float(
            (reference_recall_at_k(scores.T, positive_pairs.T, recall_k) > 0).mean())
    return metrics


def assert_metrics_equal(got, expected):
    assert list(got) == list(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-12, err_msg=key)


# === Zero-shot classification ===

@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("num_classes", [3, 5, 10])
@pytest.mark.parametrize("ties", [False, True])
def test_classification_matches_clip_benchmark(num_classes, ties):
    rng = np.random.default_rng(num_classes)
    if ties:  # few distinct values: many exact ties, also with the true class
        logits = rng.integers(0, 3, size=(200, num_classes)).astype("float32")
    else:
        logits = rng.normal(size=(200, num_classes)).astype("float32")
    labels = rng.integers(0, num_classes, size=200)
    labels[labels == 1] = 0  # a class that never occurs (but may be predicted)
    assert_metrics_equal(zero_shot_classification_metrics(logits, labels),
                         reference_classification(logits, labels))


def test_classification_of_embeddings_and_tensors():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(64, 8)).astype("float32")
    classes = rng.normal(size=(7, 8)).astype("float32")
    logits = 100.0 * images @ classes.T
    labels = rng.integers(0, 7, size=64)
    got = zero_shot_classification_metrics(keras.ops.convert_to_tensor(logits),
                                           keras.ops.convert_to_tensor(labels))
    assert_metrics_equal(got, reference_classification(logits, labels))
    assert 0.0 < got["acc1"] < got["acc5"] < 1.0


def test_perfect_and_worst_logits():
    labels = np.array([0, 1, 2, 3, 4, 5])
    perfect = zero_shot_classification_metrics(np.eye(6) * 5, labels)
    assert perfect == {"acc1": 1.0, "acc5": 1.0, "mean_per_class_recall": 1.0}
    worst = zero_shot_classification_metrics(-np.eye(6), labels)
    assert worst == {"acc1": 0.0, "acc5": 0.0, "mean_per_class_recall": 0.0}


@pytest.mark.parametrize("logits, labels, match", [
    (np.zeros((3, 4)), np.zeros(2, int), "labels"),
    (np.zeros(4), np.zeros(4, int), "logits must have rank 2"),
    (np.zeros((3, 4)), np.array([0, 1, 4]), r"labels must be integers in \[0, 4\)"),
    (np.zeros((3, 4)), np.array([0.0, 1.0, 2.0]), "labels must be integers"),
])
def test_classification_bad_inputs(logits, labels, match):
    with pytest.raises(ValueError, match=match):
        zero_shot_classification_metrics(logits, labels)


# === Zero-shot retrieval ===

def multi_caption_set(num_images=40, captions_per_image=5, dim=16, seed=0, integer=False):
    rng = np.random.default_rng(seed)
    if integer:  # small integers: dot products are exact, so ties are exact
        images = rng.integers(-1, 2, size=(num_images, dim)).astype("float32")
        texts = rng.integers(-1, 2, size=(num_images * captions_per_image, dim))
        texts = texts.astype("float32")
    else:
        images = rng.normal(size=(num_images, dim)).astype("float32")
        images /= np.linalg.norm(images, axis=1, keepdims=True)
        texts = np.repeat(images, captions_per_image, axis=0) + 0.9 * rng.normal(
            size=(num_images * captions_per_image, dim)).astype("float32")
        texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    text_to_image = np.repeat(np.arange(num_images), captions_per_image)
    order = rng.permutation(len(texts))  # captions not grouped by image
    return images, texts[order], text_to_image[order]


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("chunk_size", [7, 1024])
def test_retrieval_matches_clip_benchmark(integer, chunk_size):
    images, texts, text_to_image = multi_caption_set(integer=integer)
    if integer:
        scores = texts @ images.T
        assert (np.sort(scores, axis=1)[:, 1:] == np.sort(scores, axis=1)[:, :-1]).any()
    ks = (1, 5, 10)
    got = zero_shot_retrieval_metrics(images, texts, text_to_image, recall_k_list=ks,
                                      chunk_size=chunk_size)
    expected = reference_retrieval(images, texts, text_to_image, ks)
    assert_metrics_equal(got, expected)
    assert 0.0 < got["image_retrieval_recall@1"] < got["image_retrieval_recall@10"]
    if integer:  # the tie rule matters here: ties in the query's favour score higher
        favourable = retrieval_recall(images, texts, text_to_image, ks=ks)
        assert favourable["t2i_recall@5"] > got["image_retrieval_recall@5"]
        assert favourable["i2t_recall@5"] > got["text_retrieval_recall@5"]


def test_retrieval_one_caption_per_image_and_an_uncaptioned_image():
    images, texts, _ = multi_caption_set(num_images=12, captions_per_image=1, seed=3)
    assert_metrics_equal(zero_shot_retrieval_metrics(images, texts, recall_k_list=(1, 3)),
                         reference_retrieval(images, texts, np.arange(12), (1, 3)))
    # Image 11 has no caption: CLIP_benchmark's 0/0 recall counts as a miss.
    text_to_image = np.minimum(np.arange(12), 10)
    got = zero_shot_retrieval_metrics(images, texts, text_to_image, recall_k_list=(12,))
    assert_metrics_equal(got, reference_retrieval(images, texts, text_to_image, (12,)))
    assert got["text_retrieval_recall@12"] == pytest.approx(11 / 12)


@pytest.mark.parametrize("kwargs, match", [
    ({"text_to_image": np.arange(9)}, "text_to_image"),
    ({"text_to_image": np.full(10, 5)}, r"in \[0, 5\)"),
    ({"recall_k_list": (1, 6)}, r"recall_k_list must hold ks in \[1, 5\]"),
    ({"recall_k_list": (0,)}, "recall_k_list"),
    ({"chunk_size": 0}, "chunk_size"),
])
def test_retrieval_bad_inputs(kwargs, match):
    images = np.ones((5, 3), "float32")
    texts = np.ones((10, 3), "float32")
    arguments = {"text_to_image": np.arange(10) // 2, "recall_k_list": (1,), **kwargs}
    with pytest.raises(ValueError, match=match):
        zero_shot_retrieval_metrics(images, texts, **arguments)
    with pytest.raises(ValueError, match="as many rows unless text_to_image"):
        zero_shot_retrieval_metrics(images, texts)
