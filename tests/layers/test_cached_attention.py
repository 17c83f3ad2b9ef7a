import keras
import numpy as np
import pytest

from kerasmm.layers import CrossAttention, SelfAttention
from kerasmm.layers.attentional_pooler import AttentionalPooler
from kerasmm.layers.cached_attention import (cross_attention_keys, cross_attention_step,
                                             init_self_attention_cache, self_attention_step)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_cached_steps_equal_the_full_blocks():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 12)).astype("float32")
    context = rng.normal(size=(2, 7, 12)).astype("float32")
    block = SelfAttention(num_heads=3, causal=True, qk_channels=6, v_channels=9)
    cross = CrossAttention(num_heads=3, qk_channels=12)
    full = to_numpy(cross(block(x), context))
    cache = init_self_attention_cache(block, batch_size=2, max_length=6)
    assert tuple(cache["key"].shape) == (2, 6, 3, 2) and tuple(cache["value"].shape) == (2, 6, 3, 3)
    keys = cross_attention_keys(cross, context)
    for i in range(5):
        y, cache = self_attention_step(block, x[:, i:i + 1], keras.ops.convert_to_tensor(i), cache)
        np.testing.assert_allclose(to_numpy(cross_attention_step(cross, y, keys)),
                                   full[:, i:i + 1], atol=1e-5)
    # Positions not yet decoded stay zero in the cache.
    assert np.all(to_numpy(cache["key"])[:, 5:] == 0)


def test_key_mask_steps_equal_the_full_masked_block():
    """A key mask written one step at a time equals the block's full call
    with that (batch, length) mask; the default cache has no mask."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    mask = np.array([[1, 0, 1, 1, 0], [1, 1, 0, 0, 1]], bool)
    block = SelfAttention(num_heads=2, causal=True)
    full = to_numpy(block(x, mask=mask))
    assert np.abs(full - to_numpy(block(x))).max() > 1e-2  # The mask matters.
    assert sorted(init_self_attention_cache(block, 2, 5)) == ["key", "value"]
    cache = init_self_attention_cache(block, batch_size=2, max_length=5, key_mask=True)
    for i in range(5):
        y, cache = self_attention_step(block, x[:, i:i + 1], i, cache, key_mask=mask[:, i:i + 1])
        np.testing.assert_allclose(to_numpy(y), full[:, i:i + 1], atol=1e-5)
    np.testing.assert_array_equal(to_numpy(cache["mask"]), mask)
    with pytest.raises(ValueError, match="key_mask needs a cache"):
        self_attention_step(block, x[:, :1], 0, init_self_attention_cache(block, 2, 5),
                            key_mask=mask[:, :1])
    with pytest.raises(ValueError, match="key_mask must be a bool"):
        init_self_attention_cache(block, 2, 5, key_mask=1)


def test_attentional_pooler_matches_numpy():
    rng = np.random.default_rng(1)
    tokens = rng.normal(size=(2, 5, 6)).astype("float32")
    pooler = AttentionalPooler(output_dim=8, num_heads=2, num_queries=3)
    out = to_numpy(pooler(tokens))

    def norm(x, layer):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-5) * to_numpy(layer.gamma) + to_numpy(layer.beta)

    def dense(x, layer):
        return x @ to_numpy(layer.kernel) + to_numpy(layer.bias)

    attention = pooler.attention
    q = dense(norm(to_numpy(pooler.queries), pooler.query_norm), attention.query_dense)
    t = norm(tokens, pooler.token_norm)
    k, v = dense(t, attention.key_dense), dense(t, attention.value_dense)
    heads = []
    for h in range(2):
        s = slice(4 * h, 4 * h + 4)
        logits = np.einsum("qd,bkd->bqk", q[:, s], k[..., s]) / 2.0
        weights = np.exp(logits - logits.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        heads.append(weights @ v[..., s])
    expected = dense(np.concatenate(heads, -1), attention.output_dense)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    restored = AttentionalPooler.from_config(pooler.get_config())
    assert restored.get_config() == pooler.get_config()
