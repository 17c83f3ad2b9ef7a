import keras
import numpy as np
import pytest

from kerasmm.distribute import all_gather
from kerasmm.distribute import num_replicas


def test_single_replica_returns_input_and_zero_offset():
    x = keras.ops.convert_to_tensor(np.arange(6.0).reshape(3, 2))
    gathered, offset = all_gather(x)
    assert offset == 0
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(gathered),
                                  np.arange(6.0).reshape(3, 2))
    assert num_replicas() == 1


@pytest.mark.tf_only
def test_tf_default_and_cross_replica_contexts_do_not_gather():
    import tensorflow as tf

    x = tf.ones((2, 3))

    @tf.function
    def in_graph(t):
        gathered, offset = all_gather(t)
        return gathered, offset

    gathered, offset = in_graph(x)
    assert int(offset) == 0 and gathered.shape == (2, 3)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():  # cross-replica context
        gathered, offset = all_gather(x)
        assert offset == 0 and gathered is x
    per_replica = strategy.run(lambda t: all_gather(t)[0], args=(x,))
    assert per_replica.shape == (2, 3)
