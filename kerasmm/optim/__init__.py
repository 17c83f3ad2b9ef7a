"""kerasmm.optim: fine-tuning helpers for Keras optimizers (ground floor).

- `WarmupCosineDecay`: linear warmup then cosine decay (open_clip's schedule).
- `weight_decay_exclusions(model)`: the variables open_clip's rule keeps out
  of weight decay (norms, biases, embeddings, `logit_scale` / `logit_bias`).
- `layerwise_lr_decay(model, base_lr, decay)` and
  `scale_learning_rates(optimizer, multipliers)`: layer-wise learning-rate
  decay over transformer towers, exact for Adam.
"""

from kerasmm.optim.layerwise_decay import layerwise_lr_decay  # noqa: F401
from kerasmm.optim.layerwise_decay import scale_learning_rates  # noqa: F401
from kerasmm.optim.warmup_cosine_decay import WarmupCosineDecay  # noqa: F401
from kerasmm.optim.weight_decay import weight_decay_exclusions  # noqa: F401
