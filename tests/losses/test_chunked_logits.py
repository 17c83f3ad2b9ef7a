"""Chunked logits: memory really scales with local batch x chunk."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

# XLA's buffer assignment gives the exact temporary memory of the compiled
# loss-and-gradient program; JAX exposes it, so measure there (in a fresh
# process, whatever the backend of this test run).
SCRIPT = """
import json, jax, jax.numpy as jnp
from kerasmm.losses import CLIPLoss, SigLIPLoss
batch, dim = 4096, 32
x = jnp.ones((batch, dim), "float32")
sizes = {}
for loss in (CLIPLoss(), CLIPLoss(chunk_size=128), SigLIPLoss(),
             SigLIPLoss(chunk_size=128)):
    def f(i, t, s):
        return loss(None, {"image_embeddings": i, "text_embeddings": t,
                           "logit_scale": s, "logit_bias": s})
    compiled = jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2))).lower(
        x, x, jnp.float32(1.0)).compile()
    key = type(loss).__name__ + ("_chunked" if loss.chunk_size else "")
    sizes[key] = compiled.memory_analysis().temp_size_in_bytes
print(json.dumps(sizes))
"""


@pytest.mark.slow
def test_chunked_loss_memory_does_not_grow_with_batch_squared():
    environment = dict(os.environ, PYTHONPATH=ROOT, KERAS_BACKEND="jax")
    process = subprocess.run([sys.executable, "-c", SCRIPT],
                             capture_output=True, text=True, timeout=600,
                             env=environment)
    assert process.returncode == 0, process.stderr[-4000:]
    sizes = json.loads(process.stdout.strip().splitlines()[-1])
    logit_matrix = 4096 * 4096 * 4  # bytes of one float32 logit matrix
    for name in ("CLIPLoss", "SigLIPLoss"):
        # Unchunked holds at least the full logit matrix ...
        assert sizes[name] >= logit_matrix, sizes
        # ... chunked only (4096 x 128) blocks and the embedding gradients.
        assert sizes[f"{name}_chunked"] < logit_matrix / 4, sizes
