"""Cross-replica collectives used by the global-batch contrastive losses.

The losses in `kerasmm.losses` compute, on each replica, only that replica's
rows of the *global* logit matrix. For that they need the other side's
embeddings from every replica, with a gradient that flows back to the replica
that produced them. This module hides how that is done on each backend:

- TensorFlow under a `tf.distribute` strategy with more than one replica:
  `tf.distribute.get_replica_context().all_gather(x, axis=0)`. Its gradient
  is the all-reduce-sum of the upstream gradient, sliced back to this
  replica's rows, so gradients of the gathered rows reach the replicas that
  own them.
- JAX with `keras.distribution.DataParallel`: the train step is one jitted
  program over *global* arrays sharded along the batch; `x` already holds the
  whole global batch, and XLA inserts the collectives. Nothing to gather.
- One replica, or TensorFlow's cross-replica context (for example Keras'
  symbolic build inside `strategy.scope()`): nothing to gather.
"""

import keras


def _tf_replica_context():
    """The current multi-replica TF replica context, or None.

    Returns None on non-TensorFlow backends, in cross-replica context and when
    the strategy has a single replica.
    """
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if tf.distribute.in_cross_replica_context():
        return None
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1:
        return None
    return context


def all_gather(x):
    """Gathers `x` from all replicas along axis 0, with gradient.

    Args:
        x: tensor of shape `(local_batch, ...)`: this replica's rows. Every
            replica must hold the same number of rows (batch the dataset
            with `drop_remainder=True`, which TPUs require anyway).

    Returns:
        A tuple `(gathered, offset)`. `gathered` has shape
        `(global_batch, ...)`, replicas' rows in replica order; `offset` is
        the index of this replica's first row in `gathered`, so this
        replica's rows are `gathered[offset:offset + local_batch]`. With one
        replica, in TF cross-replica context, and on JAX (where arrays are
        already global under `keras.distribution.DataParallel`) it returns
        `(x, 0)`.

    Example:

    >>> x = keras.ops.ones((4, 8))
    >>> gathered, offset = kerasmm.distribute.all_gather(x)  # one replica: (x, 0)
    >>> tuple(gathered.shape), int(offset)
    ((4, 8), 0)
    """
    context = _tf_replica_context()
    if context is None:
        return x, 0
    import tensorflow as tf

    gathered = _with_dense_gradient(context.all_gather(x, axis=0))
    local_batch = tf.shape(x)[0]
    offset = tf.cast(context.replica_id_in_sync_group, "int32") * local_batch
    return gathered, offset


def _with_dense_gradient(x):
    """Identity whose gradient is densified.

    When the gathered tensor is only read through gathers (`take`), its
    gradient arrives as `tf.IndexedSlices`, which the all-reduce inside
    `all_gather`'s gradient cannot take.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def identity(value):
        return tf.identity(value), lambda upstream: tf.convert_to_tensor(
            upstream
        )

    return identity(x)


def num_replicas():
    """Number of replicas a global batch is split across.

    TensorFlow: `num_replicas_in_sync` of the current strategy (1 without
    one). JAX: the size of the batch axis of the current
    `keras.distribution` device mesh (1 without a distribution). Other
    backends: 1.

    Example:

    >>> kerasmm.distribute.num_replicas()  # outside any strategy
    1
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return int(tf.distribute.get_strategy().num_replicas_in_sync)
    if backend == "jax":
        distribution = keras.distribution.distribution()
        if distribution is None:
            return 1
        mesh = distribution.device_mesh
        batch_dim = getattr(distribution, "batch_dim_name", None)
        if batch_dim is not None and batch_dim in mesh.axis_names:
            return int(mesh.shape[mesh.axis_names.index(batch_dim)])
        return int(mesh.devices.size)
    return 1
