import warnings

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

from kerasmm.recipes.adversarial_alignment import MODALITIES
from kerasmm.recipes.adversarial_alignment import AdversarialAlignmentConfig
from kerasmm.recipes.adversarial_alignment import train_adversarial_alignment


def fresh_discriminator_accuracy(result):
    """Held-out accuracy of a new classifier trained on the frozen embeddings:
    whether the modalities can still be told apart, not whether the trained
    discriminator was fooled."""
    outputs = result["model"].predict({k: result["test"][k] for k in MODALITIES}, verbose=0)
    features = np.concatenate([outputs["embedding_a"], outputs["embedding_b"]])
    n = len(outputs["embedding_a"])
    labels = np.concatenate([np.zeros(n), np.ones(n)])
    order = np.random.default_rng(0).permutation(2 * n)
    train, test = order[:n], order[n:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings
        probe = MLPClassifier((32,), max_iter=300, random_state=0)
        return probe.fit(features[train], labels[train]).score(features[test], labels[test])


@pytest.mark.slow
def test_discriminator_falls_to_chance_while_the_task_is_learnt():
    aligned = train_adversarial_alignment(AdversarialAlignmentConfig())
    control = train_adversarial_alignment(AdversarialAlignmentConfig(lambda_=0.0))
    for result in (aligned, control):
        assert result["task_accuracy"] > 0.9  # chance 0.25
    # Without reversal the modalities stay apart ...
    assert control["discriminator_accuracy"] > 0.85
    assert fresh_discriminator_accuracy(control) > 0.8
    # ... with it, the discriminator first tells them apart, then falls to
    # chance, and a fresh classifier cannot do much better.
    history = aligned["discriminator_accuracy_history"]
    assert history[0] > 0.7
    assert abs(aligned["discriminator_accuracy"] - 0.5) < 0.12
    assert fresh_discriminator_accuracy(aligned) < 0.72


def test_config_validation():
    with pytest.raises(ValueError, match="lambda_"):
        AdversarialAlignmentConfig(lambda_=-1.0)
    with pytest.raises(ValueError, match="discriminator_lr_multiplier"):
        AdversarialAlignmentConfig(discriminator_lr_multiplier=0.0)
