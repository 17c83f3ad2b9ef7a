import keras
import numpy as np
import pytest

from kerasmm.losses import VQASoftScoreLoss, vqa_soft_scores


def _numpy_loss(counts, logits):
    targets = np.minimum(1.0, counts / 3.0)
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    bce = -(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    return bce.sum(axis=-1).mean()


def test_matches_numpy_formula():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 11, size=(6, 9)).astype("float32")
    logits = rng.normal(size=(6, 9)).astype("float32") * 3
    np.testing.assert_allclose(float(VQASoftScoreLoss()(counts, logits)),
                               _numpy_loss(counts, logits), rtol=1e-5)
    scores = np.minimum(1.0, counts / 3.0)
    np.testing.assert_allclose(float(VQASoftScoreLoss(from_counts=False)(scores, logits)),
                               _numpy_loss(counts, logits), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(vqa_soft_scores(counts)), scores)
    # The same as Keras' binary cross-entropy on logits, times num_answers.
    keras_bce = keras.losses.BinaryCrossentropy(from_logits=True)(scores, logits)
    np.testing.assert_allclose(float(VQASoftScoreLoss()(counts, logits)),
                               9 * float(keras_bce), rtol=1e-5)


def test_stable_at_large_logits_and_config_round_trip():
    loss = VQASoftScoreLoss(full_credit_count=2)
    value = float(loss(np.array([[2.0, 0.0]]), np.array([[200.0, -200.0]], "float32")))
    assert value == pytest.approx(0.0, abs=1e-6)
    value = float(loss(np.array([[0.0, 2.0]]), np.array([[200.0, -200.0]], "float32")))
    assert value == pytest.approx(400.0, rel=1e-5)
    clone = VQASoftScoreLoss.from_config(loss.get_config())
    assert clone.full_credit_count == 2 and clone.from_counts
    with pytest.raises(ValueError, match="full_credit_count must be"):
        VQASoftScoreLoss(full_credit_count=0)
    with pytest.raises(ValueError, match="from_counts must be a bool"):
        VQASoftScoreLoss(from_counts="yes")


@pytest.mark.slow  # traces a ViLT train step
def test_trains_a_vqa_classifier_with_fit():
    from kerasmm.models import ViLT
    from kerasmm.tasks import VQAClassifier

    keras.utils.set_random_seed(0)
    model = VQAClassifier(ViLT(vocabulary_size=20, image_size=16, patch_size=8, hidden_dim=8,
                               num_layers=1, num_heads=2, max_sequence_length=4),
                          num_answers=3)
    x = {"images": np.random.default_rng(0).normal(size=(64, 16, 16, 3)).astype("float32"),
         "token_ids": np.tile([[1, 5, 2, 0]], (64, 1))}
    counts = np.tile([[10.0, 1.0, 0.0]], (64, 1))
    model.compile(keras.optimizers.Adam(1e-2), VQASoftScoreLoss(), jit_compile=False)
    history = model.fit(x, counts, epochs=2, batch_size=8, verbose=0)
    # The summed BCE cannot fall below the targets' binary entropies (soft
    # scores 1, 1/3, 0): the gap to that floor must halve at least.
    t = np.array([1.0, 1.0 / 3.0, 0.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = float(np.nansum(-t * np.log(t) - (1 - t) * np.log(1 - t)))
    first, last = history.history["loss"][0], history.history["loss"][-1]
    assert last - floor < 0.5 * (first - floor), (first, last, floor)
