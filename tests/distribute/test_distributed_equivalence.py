"""With N replicas the contrastive losses equal one device on the global batch.

Each backend runs in its own process: TensorFlow needs its 4 logical CPUs
configured before it initialises, JAX its 4 host devices.
"""

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_script(script, **env):
    environment = dict(os.environ, PYTHONPATH=ROOT, **env)
    process = subprocess.run(
        [sys.executable, os.path.join(HERE, script)],
        capture_output=True, text=True, timeout=900, env=environment,
    )
    assert process.returncode == 0, process.stderr[-4000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.tf_only
def test_mirrored_strategy_equals_one_device_global_batch():
    results = run_script("equivalence_tf.py")
    for name in ("clip", "siglip_chunked", "info_nce", "nce"):
        measured = results[name]
        assert measured["loss_diff"] <= 1e-5, (name, measured)
        assert measured["grad_diff"] <= 1e-5, (name, measured)
        assert measured["grad_scale"] > 1e-2, (name, measured)
        # A per-replica loss without the gather is a different objective.
        assert measured["naive_diff"] > 1e-2, (name, measured)
    # Weights after 3 fit steps under MirroredStrategy equal one device.
    assert results["fit_clip"]["weight_diff"] <= 1e-5, results["fit_clip"]
    assert results["fit_clip"]["moved"] > 1e-2, results["fit_clip"]


@pytest.mark.slow
def test_jax_data_parallel_equals_one_device_global_batch():
    results = run_script(
        "equivalence_jax.py",
        KERAS_BACKEND="jax",
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
    )
    assert results["distribution"] == "DataParallel"
    assert results["num_replicas"] == 4
    assert results["devices_per_variable"] == 4
    for name in ("clip", "siglip_chunked"):
        measured = results[name]
        assert measured["loss_diff"] <= 1e-5, (name, measured)
        assert measured["weight_diff"] <= 1e-5, (name, measured)
        assert measured["moved"] > 1e-2, (name, measured)
        assert measured["naive_diff"] > 1e-2, (name, measured)


@pytest.mark.slow
@pytest.mark.tf_only
def test_mirrored_fit_on_longest_padded_batches_equals_one_device_full_width():
    results = run_script("longest_padding_tf.py")
    assert results["replicas"] == 4
    assert results["full_widths"] == [32] * 2 and results["widths"] == [12, 16], results
    assert results["weight_diff"] <= 1e-5 and results["moved"] > 1e-2, results
