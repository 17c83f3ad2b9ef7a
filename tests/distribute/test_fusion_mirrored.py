"""All three fusion backbones train with fit under MirroredStrategy on 4
logical CPUs, and the weights equal one device's on the global batch."""

import pytest

from tests.distribute.test_distributed_equivalence import run_script


@pytest.mark.slow
@pytest.mark.tf_only
def test_fusion_backbones_fit_under_mirrored_strategy_as_one_device():
    results = run_script("fusion_mirrored_tf.py")
    for name in ("vilt", "mmbt", "coattention"):
        measured = results[name]
        assert measured["moved"] > 1e-3, (name, measured)
        # float32 sums in another order: differences scale with the weights.
        assert measured["weight_diff"] <= 1e-5 * max(1.0, measured["moved"]), (name, measured)
        assert abs(measured["loss"] - measured["mirrored_loss"]) <= 1e-5, (name, measured)
