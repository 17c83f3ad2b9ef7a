"""`MultiHeadAttention` computes q/k/v (self-attention) or k/v (cross-attention)
with one matmul over kernels concatenated inside the call: same outputs and
gradients as the separate Dense layers, same weights and names."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kerasmm.layers import MultiHeadAttention
from kerasmm.layers import SelfAttention


def unfused(layer):
    layer._fusable = lambda training=None: False
    return layer


def blocks():
    keras.utils.set_random_seed(1)
    x = keras.random.normal((2, 7, 12))
    fused = SelfAttention(num_heads=3, causal=True, name="block")
    fused.build(x.shape)
    plain = SelfAttention(num_heads=3, causal=True, name="block")
    plain.build(x.shape)
    plain.set_weights(fused.get_weights())
    unfused(plain.attention)
    return x, fused, plain


def test_self_attention_block_is_unchanged_by_the_fusion():
    x, fused, plain = blocks()
    assert [w.path for w in fused.weights] == [w.path for w in plain.weights]
    assert any(w.path.endswith("attention/query/kernel") for w in fused.weights)
    # On JAX the fusion runs in training only (`MultiHeadAttention._fusable`).
    for kwargs in ({}, {"training": True}, {"query_index": ops.convert_to_tensor([0, 6])}):
        np.testing.assert_allclose(fused(x, **kwargs), plain(x, **kwargs), atol=1e-6)


@pytest.mark.tf_only
def test_gradients_are_unchanged_by_the_fusion():
    x, fused, plain = blocks()

    def gradients(block):
        with tf.GradientTape() as tape:
            loss = ops.sum(ops.square(block(x)))
        return tape.gradient(loss, block.trainable_variables)

    for a, b in zip(gradients(fused), gradients(plain)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_cross_attention_fuses_keys_and_values_only():
    keras.utils.set_random_seed(2)
    query, context = keras.random.normal((2, 3, 8)), keras.random.normal((2, 5, 6))
    fused = MultiHeadAttention(num_heads=2, qk_channels=8, v_channels=4)
    fused.build(query.shape, context.shape)
    plain = unfused(MultiHeadAttention(num_heads=2, qk_channels=8, v_channels=4))
    plain.build(query.shape, context.shape)
    plain.set_weights(fused.get_weights())
    q, k, v = fused._projections(query, context, training=True)
    assert (tuple(q.shape), tuple(k.shape), tuple(v.shape)) == ((2, 3, 8), (2, 5, 8),
                                                               (2, 5, 4))
    for training in (None, True):
        np.testing.assert_allclose(fused(query, context, training=training),
                                   plain(query, context, training=training), atol=1e-6)
