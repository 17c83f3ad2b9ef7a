"""Pick the distribution strategy that fits the machine this runs on."""

import importlib.util
import json
import os

import keras


def get_strategy(tpu=None):
    """Returns the distribution strategy for the current environment.

    TensorFlow backend, first match wins:

    1. `tf.distribute.TPUStrategy` when a TPU is reachable: `tpu` (a name or
       `"grpc://host:port"` address) if given, else the `TPU_NAME` /
       `TPU_CONFIG` environment (Cloud TPU nodes, GKE), else the
       `COLAB_TPU_ADDR` of a legacy Colab TPU, else a directly attached TPU
       (`/dev/accel*` or `/dev/vfio`: Cloud TPU VMs and today's Colab TPU
       runtime). The TPU system is connected and initialised here.
    2. `tf.distribute.MultiWorkerMirroredStrategy` when the `TF_CONFIG`
       environment variable names more than one worker (chief included).
    3. `tf.distribute.MirroredStrategy` when more than one GPU is visible.
    4. Otherwise the default strategy, `tf.distribute.get_strategy()`.

    JAX backend: with more than one device it calls
    `keras.distribution.set_distribution(keras.distribution.DataParallel(
    devices=jax.devices()))` and returns that `DataParallel`; with a single
    device it sets nothing and returns `None` (there is nothing to
    distribute, and a `None` strategy keeps `with strategy.scope()` out of
    JAX code). Other backends: returns `None`.

    Call it once, at the start of the program (before any other
    TensorFlow op), then build and compile inside the strategy's scope on
    TensorFlow. The contrastive losses in `kerasmm.losses` compute with the
    *global* batch under every one of these strategies: batch the dataset
    with the global batch size and `drop_remainder=True`, and each replica
    gets `global_batch / num_replicas` rows of it.

    The one line, `strategy = kerasmm.distribute.get_strategy()`, in each
    environment:

    - **Colab TPU** (Runtime > Change runtime type > TPU) or a Cloud TPU
      VM / node: returns a `TPUStrategy` over all TPU cores, after
      connecting to and initialising the TPU. Pass `tpu="name"` for a named
      Cloud TPU that the environment does not announce.
    - **Several GPUs on one machine**: returns a `MirroredStrategy` over
      every visible GPU.
    - **Several machines (multi-host)**: start the same script on every
      host, each with a `TF_CONFIG` naming all workers and its own index,
      e.g. on the second host
      `TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
      "task": {"type": "worker", "index": 1}}'`. It returns a
      `MultiWorkerMirroredStrategy`; `fit` splits each global batch across
      the hosts (kerasmm models carry the workaround Keras needs there, see
      `MultiWorkerTrainerMixin`). `.repeat()` the dataset and pass
      `steps_per_epoch` so the per-replica batch shape stays static.
    - **JAX backend** (`KERAS_BACKEND=jax`, e.g. on a TPU VM or several
      GPUs): sets `keras.distribution.DataParallel` over all devices and
      returns it; no scope is needed, the arrays are global.

    Args:
        tpu: optional TPU name or `"grpc://..."` address, passed to
            `tf.distribute.cluster_resolver.TPUClusterResolver`. Only read on
            the TensorFlow backend.

    Returns:
        A `tf.distribute.Strategy` (TensorFlow), a
        `keras.distribution.DataParallel` or `None` (JAX), or `None`.

    Example:

    >>> import contextlib
    >>> # The same line on a Colab TPU, on several GPUs, and on each host of a
    >>> # multi-host job (each host with its TF_CONFIG set). TensorFlow: build and
    >>> # compile in the strategy's scope. JAX: the call already set Keras'
    >>> # DataParallel distribution (None on one device).
    >>> strategy = kerasmm.distribute.get_strategy()
    >>> with strategy.scope() if strategy else contextlib.nullcontext():
    ...     model = keras.Sequential([keras.layers.Dense(1)])
    ...     model.compile(optimizer="sgd", loss="mse")
    """
    backend = keras.backend.backend()
    if backend == "jax":
        return _jax_data_parallel()
    if backend != "tensorflow":
        return None
    import tensorflow as tf

    resolver = _tpu_cluster_resolver(tpu)
    if resolver is not None:
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if num_workers_in_tf_config() > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def num_workers_in_tf_config(tf_config=None):
    """Number of workers (chief included) named in a `TF_CONFIG` string.

    Args:
        tf_config: JSON string; defaults to the `TF_CONFIG` environment
            variable. Missing or empty means 0 workers.

    Example:

    >>> config = '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {}}'
    >>> kerasmm.distribute.num_workers_in_tf_config(config)
    2
    """
    if tf_config is None:
        tf_config = os.environ.get("TF_CONFIG", "")
    if not tf_config:
        return 0
    try:
        cluster = json.loads(tf_config).get("cluster", {})
    except (ValueError, AttributeError):
        raise ValueError(
            "TF_CONFIG must be a JSON object with a 'cluster' entry. "
            f"Received: TF_CONFIG={tf_config!r}"
        )
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _tpu_cluster_resolver(tpu):
    import tensorflow as tf

    resolver_class = tf.distribute.cluster_resolver.TPUClusterResolver
    if tpu is not None:
        return resolver_class(tpu=tpu)
    try:
        # Resolves TPU_NAME / TPU_CONFIG / GKE endpoints; raises ValueError
        # (without any network access) when none is set.
        return resolver_class()
    except ValueError:
        pass
    if os.environ.get("COLAB_TPU_ADDR"):
        return resolver_class(tpu="grpc://" + os.environ["COLAB_TPU_ADDR"])
    if _has_local_tpu():
        return resolver_class(tpu="local")
    return None


def _has_local_tpu():
    """Whether TPU chips are attached to this host (a Cloud TPU VM).

    TPU VMs expose the chips as `/dev/accel*` (v2-v4) or through VFIO (v5e
    and later) and ship the `libtpu` runtime; GPU hosts may have VFIO too,
    hence the `libtpu` check.
    """
    has_chips = os.path.exists("/dev/accel0") or (
        os.path.isdir("/dev/vfio")
        and any(name != "vfio" for name in os.listdir("/dev/vfio"))
    )
    return has_chips and importlib.util.find_spec("libtpu") is not None


def _jax_data_parallel():
    import jax

    devices = jax.devices()
    if len(devices) <= 1:
        return None
    distribution = keras.distribution.DataParallel(devices=devices)
    keras.distribution.set_distribution(distribution)
    return distribution
