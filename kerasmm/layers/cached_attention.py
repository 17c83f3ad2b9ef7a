"""One-token steps of `SelfAttention` / `CrossAttention` blocks with a key/value cache.

Autoregressive decoding runs a block on one new position at a time. These
functions reuse a built block's own weights (norms, projections, MLP) and
equal its full call at that position: `self_attention_step` keeps the keys
and values of earlier positions in a static-shaped cache written at `index`
(so the loop compiles once under XLA), `cross_attention_keys` projects the
context once per batch for every later `cross_attention_step`.

Example:
>>> block = kerasmm.layers.SelfAttention(num_heads=2, causal=True)
>>> x = keras.random.normal((1, 3, 8))
>>> full = block(x)
>>> cache = init_self_attention_cache(block, batch_size=1, max_length=3)
>>> for i in range(3):
...     y, cache = self_attention_step(block, x[:, i:i + 1], i, cache)
>>> bool(np.allclose(y, full[:, 2:3], atol=1e-5))
True
"""

from keras import ops

from kerasmm.layers.multi_head_attention import dot_product_attention
from kerasmm.utils.checks import check_bool


def _heads(dense, x, num_heads):
    y = dense(x)
    return ops.reshape(y, (ops.shape(y)[0], ops.shape(y)[1], num_heads,
                           y.shape[-1] // num_heads))


def _merge_heads(x):
    return ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], x.shape[-2] * x.shape[-1]))


def init_self_attention_cache(block, batch_size, max_length, dtype=None, key_mask=False):
    """Zero keys and values `(B, max_length, heads, head_dim)` for a built block.

    With `key_mask=True` the cache also holds `"mask"`, bool `(B, max_length)`,
    all True: which positions' keys later positions attend to, written by
    each `self_attention_step(..., key_mask=...)`.
    """
    attention = block.attention
    heads = attention.num_heads
    dtype = dtype or block.compute_dtype
    key_width = attention.key_dense.kernel.shape[-1] // heads
    value_width = attention.value_dense.kernel.shape[-1] // heads
    cache = {"key": ops.zeros((batch_size, max_length, heads, key_width), dtype),
             "value": ops.zeros((batch_size, max_length, heads, value_width), dtype)}
    if check_bool("key_mask", key_mask):
        cache["mask"] = ops.ones((batch_size, max_length), "bool")
    return cache


def self_attention_step(block, x, index, cache, key_mask=None):
    """A causal `SelfAttention` block on position `index` only.

    Args:
        block: a built `kerasmm.layers.SelfAttention`.
        x: `(B, 1, D)`, the block's input at position `index`.
        index: int32 scalar (tensor or int), the position.
        cache: dict `{"key", "value"}` from `init_self_attention_cache`
            (and `"mask"` with its `key_mask=True`).
        key_mask: optional bool `(B, 1)`: whether this position's key is
            visible, to this position and every later one (a padding
            mask's column, filled one step at a time). Needs a cache with
            `"mask"`; None there means visible. The query attends to the
            visible keys up to `index`: keep at least one (e.g. position 0).

    Returns:
        `(y, cache)`: the block's output `(B, 1, D)` and the cache with this
        position's key and value (and mask) written in.
    """
    if key_mask is not None and "mask" not in cache:
        raise ValueError("key_mask needs a cache made with "
                         "init_self_attention_cache(..., key_mask=True)")
    attention = block.attention
    heads = attention.num_heads
    h = block.attention_norm(x)
    start = (0, index, 0, 0)
    cache = dict(cache)
    cache["key"] = ops.slice_update(
        cache["key"], start, ops.cast(_heads(attention.key_dense, h, heads), cache["key"].dtype))
    cache["value"] = ops.slice_update(
        cache["value"], start,
        ops.cast(_heads(attention.value_dense, h, heads), cache["value"].dtype))
    visible = (ops.arange(cache["key"].shape[1]) <= index)[None, None, None, :]
    if "mask" in cache:
        if key_mask is None:
            key_mask = ops.ones((ops.shape(x)[0], 1), "bool")
        cache["mask"] = ops.slice_update(cache["mask"], (0, index),
                                         ops.cast(ops.reshape(key_mask, (-1, 1)), "bool"))
        visible = ops.logical_and(visible, cache["mask"][:, None, None, :])
    a = dot_product_attention(_heads(attention.query_dense, h, heads), cache["key"],
                              cache["value"], visible)
    x = x + attention.output_dense(_merge_heads(a))
    return x + block.mlp(block.mlp_norm(x)), cache


def cross_attention_keys(block, context):
    """The context's keys and values for a built `CrossAttention` block."""
    attention = block.attention
    c = block.context_norm(context)
    return {"key": _heads(attention.key_dense, c, attention.num_heads),
            "value": _heads(attention.value_dense, c, attention.num_heads)}


def cross_attention_step(block, x, keys):
    """A `CrossAttention` block on `x` `(B, T, D)` with precomputed `keys`."""
    attention = block.attention
    q = _heads(attention.query_dense, block.query_norm(x), attention.num_heads)
    a = attention.output_dense(_merge_heads(
        dot_product_attention(q, keys["key"], keys["value"])))
    if block.use_query_residual:
        a = a + x
    return a + block.mlp(block.mlp_norm(a))
