"""Two local worker processes under `MultiWorkerMirroredStrategy` read disjoint
shards that together cover every sample.

Each worker (this file run as a script) builds the strategy from its
`TF_CONFIG` and reads the shards through
`strategy.distribute_datasets_from_function`, whose `InputContext` tells
`webdataset_dataset` which worker it is. (keras#20585 breaks `model.fit`
under this strategy, not `tf.data`.)
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUM_SAMPLES = 23
SAMPLES_PER_SHARD = 4


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
@pytest.mark.tf_only
def test_two_workers_read_disjoint_complete_shards(tmp_path):
    import tensorflow as tf

    from kerasmm.datasets import write_webdataset

    images = np.zeros((NUM_SAMPLES, 6, 7, 3), "uint8")
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": images, "caption": [f"c{i}" for i in range(NUM_SAMPLES)]})
    pattern = write_webdataset(dataset, str(tmp_path / "s-%03d.tar"),
                               samples_per_shard=SAMPLES_PER_SHARD,
                               image_format="png")["pattern"]
    ports = ",".join(map(str, _free_ports(2)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow",
               PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    workers = [subprocess.Popen([sys.executable, os.path.abspath(__file__), pattern,
                                 str(index), ports], env=env, cwd=REPO_ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for index in range(2)]
    results = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for worker in workers:
            worker.kill()
    keys = [[int(k) for k in result["keys"]] for result in results]
    assert [r["num_input_pipelines"] for r in results] == [2, 2]
    assert not set(keys[0]) & set(keys[1])
    assert sorted(keys[0] + keys[1]) == list(range(NUM_SAMPLES))
    for index, worker_keys in enumerate(keys):
        # Worker i reads shards i, i + 2, ... and nothing else.
        assert {k // SAMPLES_PER_SHARD % 2 for k in worker_keys} == {index}


def _worker(pattern, index, ports):
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"localhost:{port}" for port in ports.split(",")]},
        "task": {"type": "worker", "index": index}})
    import tensorflow as tf

    from kerasmm.datasets import webdataset_dataset

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    contexts = []

    def dataset_fn(input_context):
        contexts.append(input_context)
        dataset = webdataset_dataset(pattern, input_context=input_context, seed=0,
                                     batch_size=2)
        return dataset.map(lambda sample: sample["key"])

    keys = []
    for batch in strategy.distribute_datasets_from_function(dataset_fn):
        for local in strategy.experimental_local_results(batch):
            keys += [key.decode() for key in local.numpy()]
    print(json.dumps({"keys": keys,
                      "num_input_pipelines": contexts[0].num_input_pipelines}), flush=True)


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]), sys.argv[3])
