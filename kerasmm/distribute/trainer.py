"""Trainer mixins: `fit` under `tf.distribute.MultiWorkerMirroredStrategy`, and
one trace instead of two for the first `fit` on TensorFlow.

`MultiWorkerTrainerMixin` lets Keras' `fit` run under
`tf.distribute.MultiWorkerMirroredStrategy`.

Keras 3 (up to at least 3.15) cannot `fit` or `evaluate` a model under a
`MultiWorkerMirroredStrategy` that spans several workers
(keras-team/keras#20585). Two calls in
`keras/src/backend/tensorflow/trainer.py` fail:

1. `_maybe_symbolic_build` builds the model from the first batch, which it
   turns into plain tensors with `strategy.reduce("MEAN", batch,
   axis=None)`. The multi-worker strategy cannot reduce a nested
   `PerReplica` batch ("Attempt to convert a value (PerReplica...) with an
   unsupported type ... to a Tensor").
2. Past that, `reduce_per_replica` reduces each value the train/test step
   returns (the metric results, scalars) with `strategy.reduce("MEAN", v,
   axis=0)`, which fails on a scalar ("Invalid reduction dimension 0 for
   input with 0 dimensions").

`MultiWorkerTrainerMixin` works around both inside the model class, without
patching Keras. It changes nothing on other strategies or backends.
`tests/distribute/test_multi_worker.py` checks that plain Keras still fails,
so we learn when upstream fixes it and that mixin can go.

`BuildBeforeTracingMixin`: see its docstring.
"""

import keras
from keras import ops


def in_multi_worker_mode(strategy):
    """Whether `strategy` is a TF multi-worker strategy with several workers.

    Args:
        strategy: a `tf.distribute.Strategy`, or anything else (then False).

    Example:
    >>> import tensorflow as tf
    >>> kerasmm.distribute.in_multi_worker_mode(tf.distribute.get_strategy())
    False
    """
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy
    ) and bool(strategy.extended._in_multi_worker_mode())


class MultiWorkerTrainerMixin:
    """Mixin that lets `fit` / `evaluate` run on several TF workers.

    Mix it in front of `keras.Model` (kerasmm's `CLIP`, `Perceiver` and
    `PerceiverIO` do). Under a `tf.distribute.MultiWorkerMirroredStrategy`
    whose `TF_CONFIG` names several workers it works around
    keras-team/keras#20585 (see this module's docstring):

    - the first batch, used to build the model before training, is read
      from this worker's first replica instead of being reduced across
      workers (only its shapes and dtypes matter);
    - the train and test steps return their scalar logs as shape `(1,)`
      tensors, which Keras' multi-worker `strategy.reduce("MEAN", v,
      axis=0)` averages over all replicas into the same scalar the
      single-worker path computes.

    On every other strategy and on other backends it defers to Keras
    unchanged.

    Under the multi-worker strategy, tf.distribute gives a finite dataset a
    dynamic per-replica batch size (it allows a partial last batch);
    `.repeat()` the dataset and pass `steps_per_epoch` to keep it static.

    Example:

    >>> class MyModel(kerasmm.distribute.MultiWorkerTrainerMixin, keras.Model):
    ...     def __init__(self, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.dense = keras.layers.Dense(1)
    ...
    ...     def call(self, x):
    ...         return self.dense(x)
    >>> # On each worker, with TF_CONFIG set, build and compile inside
    >>> # kerasmm.distribute.get_strategy().scope(); without TF_CONFIG (here) the
    >>> # mixin leaves Keras' own fit in place.
    >>> model = MyModel()
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x = np.ones((8, 3), "float32")
    >>> len(model.fit(x, x[:, :1], epochs=1, verbose=0).history["loss"])
    1
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = getattr(self, "_distribute_strategy", None)
        if iterator is None or not in_multi_worker_mode(strategy):
            return super()._maybe_symbolic_build(
                iterator=iterator, data_batch=data_batch
            )
        import tensorflow as tf

        def local(value):
            if isinstance(value, tf.distribute.DistributedValues):
                return strategy.experimental_local_results(value)[0]
            return value

        for _, _, distributed_iterator in iterator:
            data_batch = keras.tree.map_structure(
                local, next(distributed_iterator)
            )
            break
        return super()._maybe_symbolic_build(data_batch=data_batch)

    def train_step(self, *args, **kwargs):
        return self._multi_worker_logs(super().train_step(*args, **kwargs))

    def test_step(self, *args, **kwargs):
        return self._multi_worker_logs(super().test_step(*args, **kwargs))

    def _multi_worker_logs(self, logs):
        if not in_multi_worker_mode(getattr(self, "distribute_strategy", None)):
            return logs

        def to_rank_1(value):
            if ops.is_tensor(value) and len(value.shape) == 0:
                return ops.reshape(value, (1,))
            return value

        return keras.tree.map_structure(to_rank_1, logs)


class BuildBeforeTracingMixin:
    """Mixin that builds the optimizer and compiled metrics before `fit` traces.

    Mix it in front of `keras.Model` (kerasmm's trainable models do). Keras
    3 (up to at least 3.15) on TensorFlow builds the optimizer (from the
    model's weights) and the compiled loss and metrics (from the first
    batch) eagerly only under a distribution strategy; without one it leaves
    their variables (Adam's moments, an EMA's copies, the metrics' totals)
    to be created while `tf.function` traces the train or test step.
    Variables created in a trace make `tf.function` trace the step twice,
    and each is created from inside a graph, slowly (~15 ms each). The
    first `fit` of the 16x16 U-Net in `tests/models/diffusion/shapes16.py`
    (202 weights, AdamW with EMA: 606 optimizer variables) took 36 s that
    way and 18 s with this mixin.

    Without a strategy, with the model built, it does what Keras does under
    one (`fit`, `evaluate`, `train_on_batch`, `test_on_batch`): the compiled
    loss and metrics and the optimizer are built from the shapes of the data
    (the dataset's `element_spec`; no batch is read, so the data order is
    unchanged). The variables and the numbers trained are the same. Otherwise (a strategy,
    an unbuilt model, data of other than dense tensors, another backend:
    JAX builds eagerly already) it defers to Keras.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if (keras.backend.backend() == "tensorflow"
                and getattr(self, "_distribute_strategy", None) is None
                and all(layer.built for layer in self._flatten_layers())):
            if data_batch is None:
                data_batch = _dense_element_spec(iterator)
            if data_batch is not None:
                import tensorflow as tf

                # Keras builds (the loss, metrics and optimizer) only when a
                # strategy is set; lend it the default one.
                self._distribute_strategy = tf.distribute.get_strategy()
                try:
                    return super()._maybe_symbolic_build(data_batch=data_batch)
                finally:
                    self._distribute_strategy = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


def _dense_element_spec(iterator):
    """The `tf.TensorSpec` structure of a Keras TF epoch iterator's dataset, or None."""
    import tensorflow as tf

    dataset = getattr(iterator, "_distributed_dataset", None)
    if not isinstance(dataset, tf.data.Dataset):
        return None
    spec = dataset.element_spec
    if not all(isinstance(leaf, tf.TensorSpec) for leaf in tf.nest.flatten(spec)):
        return None
    return spec
