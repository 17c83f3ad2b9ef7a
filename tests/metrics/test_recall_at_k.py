import keras
import numpy as np
import pytest

from kerasmm.metrics import RecallAtK


def brute_force_recall(queries, candidates, k):
    """Fraction of rows whose own candidate is among the top-k by argsort."""
    similarity = queries @ candidates.T
    top_k = np.argsort(-similarity, axis=1)[:, :k]
    return np.mean([i in top_k[i] for i in range(len(queries))])


def make_batch(batch, dim=6, noise=1.0, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(batch, dim)).astype("float32")
    texts = (images + noise * rng.normal(size=(batch, dim))).astype("float32")
    return {"image_embeddings": images, "text_embeddings": texts}


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("direction", ["image_to_text", "text_to_image"])
def test_matches_brute_force_over_batches(k, direction):
    metric = RecallAtK(k=k, direction=direction)
    batches = [make_batch(12, seed=s) for s in range(3)]
    for batch in batches:
        metric.update_state(None, batch)
    per_batch = []
    for batch in batches:
        images, texts = batch["image_embeddings"], batch["text_embeddings"]
        if direction == "text_to_image":
            images, texts = texts, images
        per_batch.append(brute_force_recall(images, texts, k))
    assert 0.0 < np.mean(per_batch) < 1.0  # the check is not trivial
    np.testing.assert_allclose(float(metric.result()), np.mean(per_batch),
                               rtol=1e-6)


def test_unequal_batches_average_over_queries():
    metric = RecallAtK(k=2)
    small, large = make_batch(5, seed=1), make_batch(15, seed=2)
    metric.update_state(None, small)
    metric.update_state(None, (large["image_embeddings"],
                               large["text_embeddings"]))
    hits = sum(
        len(b["image_embeddings"]) * brute_force_recall(
            b["image_embeddings"], b["text_embeddings"], 2)
        for b in (small, large)
    )
    np.testing.assert_allclose(float(metric.result()), hits / 20, rtol=1e-6)


def test_reset_and_names():
    metric = RecallAtK(k=5, direction="text_to_image")
    assert metric.name == "t2i_recall@5"
    assert RecallAtK().name == "i2t_recall@1"
    assert RecallAtK(name="r1").name == "r1"
    metric.update_state(None, make_batch(8))
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_config_round_trip():
    metric = RecallAtK(k=3, direction="text_to_image", name="r3")
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric)
    )
    assert isinstance(restored, RecallAtK)
    assert (restored.k, restored.direction, restored.name) == (
        3, "text_to_image", "r3")


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="k=0"):
        RecallAtK(k=0)
    with pytest.raises(ValueError, match="direction=both"):
        RecallAtK(direction="both")
    with pytest.raises(ValueError, match="text_embeddings"):
        RecallAtK().update_state(None, {"image_embeddings": np.ones((2, 3))})
    with pytest.raises(ValueError, match="2D"):
        RecallAtK().update_state(None, (np.ones((2, 3, 1)), np.ones((2, 3))))
