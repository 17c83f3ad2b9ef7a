"""Which strategy `get_strategy` picks, environment by environment.

The strategies themselves are replaced by recorders: a real TPU, GPU set or
worker cluster is not available here (and a MultiWorkerMirroredStrategy
can only be created at program start; test_multi_worker.py runs a real
one). What is tested is the selection: TPU > multi-worker > multi-GPU >
default, and what each strategy is built from.
"""

import pytest

from kerasmm.distribute import strategy as strategy_module

pytestmark = pytest.mark.tf_only

TWO_WORKERS = ('{"cluster": {"worker": ["localhost:2222", "localhost:2223"]},'
               ' "task": {"type": "worker", "index": 1}}')


class Recorder:
    """Stands in for a strategy or TPU call; remembers how it was built."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


@pytest.fixture
def fake_tf(monkeypatch):
    """No TPU, no GPU, no TF_CONFIG; every strategy class a recorder."""
    import tensorflow as tf

    for name in ("TF_CONFIG", "TPU_NAME", "TPU_CONFIG", "COLAB_TPU_ADDR",
                 "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)
    calls = []

    class Resolver(Recorder):
        announced = False  # whether the environment names a TPU

        def __init__(self, tpu=None):
            if tpu is None and not Resolver.announced:
                # What the real resolver does without any TPU setting.
                raise ValueError("Please provide a TPU Name to connect to.")
            super().__init__(tpu=tpu)

    strategies = {name: type(name, (Recorder,), {}) for name in (
        "TPUStrategy", "MultiWorkerMirroredStrategy", "MirroredStrategy")}
    for name, cls in strategies.items():
        monkeypatch.setattr(tf.distribute, name, cls)
    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver",
                        Resolver)
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster",
                        lambda r: calls.append(("connect", r)))
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system",
                        lambda r: calls.append(("initialize", r)))
    monkeypatch.setattr(strategy_module, "_has_local_tpu", lambda: False)
    gpus = []
    real_list = tf.config.list_logical_devices
    monkeypatch.setattr(
        tf.config, "list_logical_devices",
        lambda kind=None: list(gpus) if kind == "GPU" else real_list(kind))
    return {"tf": tf, "calls": calls, "resolver": Resolver, "gpus": gpus,
            **strategies}


def assert_tpu_strategy(fake, strategy, tpu):
    assert isinstance(strategy, fake["TPUStrategy"])
    resolver = strategy.args[0]
    assert isinstance(resolver, fake["resolver"])
    assert resolver.kwargs == {"tpu": tpu}
    # The TPU system is connected and initialised before the strategy.
    assert fake["calls"] == [("connect", resolver), ("initialize", resolver)]


def test_nothing_gives_the_default_strategy(fake_tf):
    strategy = strategy_module.get_strategy()
    assert strategy is fake_tf["tf"].distribute.get_strategy()
    assert fake_tf["calls"] == []


def test_two_workers_in_tf_config_give_multi_worker(fake_tf, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", TWO_WORKERS)
    strategy = strategy_module.get_strategy()
    assert isinstance(strategy, fake_tf["MultiWorkerMirroredStrategy"])
    # It reads TF_CONFIG itself: no arguments.
    assert strategy.args == () and strategy.kwargs == {}


def test_chief_and_one_worker_give_multi_worker(fake_tf, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"chief": ["a:1"], '
                       '"worker": ["b:2"]}, "task": {"type": "chief", '
                       '"index": 0}}')
    assert isinstance(strategy_module.get_strategy(),
                      fake_tf["MultiWorkerMirroredStrategy"])


def test_several_gpus_give_mirrored(fake_tf):
    fake_tf["gpus"].extend(["/gpu:0", "/gpu:1"])
    strategy = strategy_module.get_strategy()
    assert isinstance(strategy, fake_tf["MirroredStrategy"])
    assert strategy.args == ()  # all visible GPUs


def test_one_gpu_gives_the_default_strategy(fake_tf):
    fake_tf["gpus"].append("/gpu:0")
    assert (strategy_module.get_strategy()
            is fake_tf["tf"].distribute.get_strategy())


def test_multi_worker_wins_over_gpus(fake_tf, monkeypatch):
    fake_tf["gpus"].extend(["/gpu:0", "/gpu:1"])
    monkeypatch.setenv("TF_CONFIG", TWO_WORKERS)
    assert isinstance(strategy_module.get_strategy(),
                      fake_tf["MultiWorkerMirroredStrategy"])


def test_legacy_colab_tpu_wins_over_everything(fake_tf, monkeypatch):
    fake_tf["gpus"].extend(["/gpu:0", "/gpu:1"])
    monkeypatch.setenv("TF_CONFIG", TWO_WORKERS)
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    assert_tpu_strategy(fake_tf, strategy_module.get_strategy(),
                        "grpc://10.0.0.2:8470")


def test_explicit_tpu_name(fake_tf):
    assert_tpu_strategy(fake_tf, strategy_module.get_strategy(tpu="my-tpu"),
                        "my-tpu")


def test_tpu_announced_by_the_environment(fake_tf):
    # TPU_NAME / TPU_CONFIG / GKE: the resolver finds it without arguments.
    fake_tf["resolver"].announced = True
    assert_tpu_strategy(fake_tf, strategy_module.get_strategy(), None)


def test_attached_tpu_of_a_tpu_vm(fake_tf, monkeypatch):
    # Cloud TPU VMs and today's Colab TPU runtime: chips on this host.
    monkeypatch.setattr(strategy_module, "_has_local_tpu", lambda: True)
    assert_tpu_strategy(fake_tf, strategy_module.get_strategy(), "local")


@pytest.mark.parametrize("devices, libtpu, expected", [
    ({"/dev/accel0"}, True, True),            # TPU v2-v4 VM
    ({"/dev/vfio/0"}, True, True),            # v5e and later
    ({"/dev/vfio/0"}, False, False),          # a GPU host with VFIO
    (set(), True, False),                     # libtpu installed, no chips
])
def test_has_local_tpu(monkeypatch, devices, libtpu, expected):
    import importlib.util
    import os

    monkeypatch.setattr(os.path, "exists", lambda path: path in devices)
    monkeypatch.setattr(os.path, "isdir", lambda path: path == "/dev/vfio"
                        and any(d.startswith("/dev/vfio/") for d in devices))
    monkeypatch.setattr(os, "listdir", lambda path: sorted(
        d.rsplit("/", 1)[1] for d in devices if d.startswith(path + "/")))
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: object() if libtpu else None)
    assert strategy_module._has_local_tpu() is expected
