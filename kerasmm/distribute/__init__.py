"""kerasmm.distribute: strategies and cross-replica collectives.

`get_strategy()` picks TPU, multi-worker, multi-GPU or the default strategy
(TensorFlow) or sets Keras' `DataParallel` distribution (JAX);
`all_gather(x)` gathers a per-replica tensor across replicas with gradient,
for the global-batch contrastive losses. `MultiWorkerTrainerMixin` and
`BuildBeforeTracingMixin` adjust Keras' TensorFlow trainer (see
`kerasmm/distribute/trainer.py`). `gradient_boundary.materialize_gradient`
keeps XLA's CPU compiler (JAX) from recomputing the residual stream's
gradient in every block (see `kerasmm/distribute/gradient_boundary.py`).
"""

from kerasmm.distribute.collectives import all_gather
from kerasmm.distribute.collectives import num_replicas
from kerasmm.distribute.strategy import get_strategy
from kerasmm.distribute.strategy import num_workers_in_tf_config
from kerasmm.distribute.trainer import BuildBeforeTracingMixin
from kerasmm.distribute.trainer import MultiWorkerTrainerMixin
from kerasmm.distribute.trainer import in_multi_worker_mode
