import keras
import pytest

from kerasmm.distribute import get_strategy
from kerasmm.distribute import num_workers_in_tf_config


@pytest.fixture
def plain_environment(monkeypatch):
    for name in ("TF_CONFIG", "TPU_NAME", "TPU_CONFIG", "COLAB_TPU_ADDR",
                 "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)


def test_single_device_gives_the_default(plain_environment):
    strategy = get_strategy()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        assert strategy is tf.distribute.get_strategy()
        assert strategy.num_replicas_in_sync == 1
    else:
        # One JAX device: nothing to distribute, nothing set.
        assert strategy is None
        assert keras.distribution.distribution() is None


def test_one_worker_tf_config_is_not_multi_worker(plain_environment,
                                                  monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG",
        '{"cluster": {"worker": ["localhost:12345"]}, '
        '"task": {"type": "worker", "index": 0}}',
    )
    strategy = get_strategy()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        assert strategy is tf.distribute.get_strategy()


def test_workers_in_tf_config():
    assert num_workers_in_tf_config("") == 0
    assert num_workers_in_tf_config('{"cluster": {}}') == 0
    assert num_workers_in_tf_config(
        '{"cluster": {"worker": ["a:1", "b:2"], "chief": ["c:3"]}}') == 3
    with pytest.raises(ValueError, match="TF_CONFIG"):
        num_workers_in_tf_config("not json")
