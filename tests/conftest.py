import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under `pytest -n N` the workers already fill the cores: one intra-op
    # thread each (and in the processes tests start) keeps TensorFlow's
    # pools from oversubscribing them (the README command's pytest: 14.7
    # minutes against 16.0 on 2 cores). Set before TensorFlow starts;
    # single-process runs keep TensorFlow's default.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_policy():
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
