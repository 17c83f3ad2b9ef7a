"""Text generation for decoders: one compiled loop (XLA / `jax.jit`) per shape.

`GenerationMixin` gives a model `generate()` (greedy, beam search, sampling);
`sampling` holds the logits processors as pure functions.
"""

from kerasmm.models.generation import sampling  # noqa: F401
from kerasmm.models.generation.generation_mixin import GenerationMixin  # noqa: F401
