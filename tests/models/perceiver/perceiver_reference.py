"""Numpy transcriptions of Hugging Face's Perceiver formulas (test references).

Written from `transformers/models/perceiver/modeling_perceiver.py`
(channels-first images, `space_to_depth`, `generate_fourier_features`,
`PerceiverLayer`), independent of the kerasmm code under test; the weights
are read from the kerasmm layers by name.
"""

import math

import numpy as np
from keras import ops


def weights(layer):
    """{relative path: float64 array} of a layer's variables."""
    prefix = (layer.path or layer.name) + "/"
    return {v.path[v.path.index(prefix) + len(prefix):]:
            np.asarray(ops.convert_to_numpy(v), "float64") for v in layer.weights}


def space_to_depth_nchw(frames, spatial, temporal=1):
    """HF `space_to_depth` on channels-first (B, C, H, W) or (B, T, C, H, W)."""
    if frames.ndim == 4:
        b, c, h, w = frames.shape
        x = frames.reshape(b, c, h // spatial, spatial, w // spatial, spatial)
        x = x.transpose(0, 2, 4, 3, 5, 1)
        return x.reshape(b, h // spatial, w // spatial, spatial * spatial * c)
    b, t, c, h, w = frames.shape
    x = frames.reshape(b, t // temporal, temporal, c, h // spatial, spatial,
                       w // spatial, spatial)
    x = x.transpose(0, 1, 4, 6, 2, 5, 7, 3)
    return x.reshape(b, t // temporal, h // spatial, w // spatial,
                     temporal * spatial * spatial * c)


def linear_positions(index_dims):
    ranges = [np.linspace(-1.0, 1.0, n) for n in index_dims]
    grid = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1)
    return grid.reshape(-1, len(index_dims))


def fourier_features(index_dims, num_bands, max_resolution=None, concat_pos=True,
                     sine_only=False, pos=None):
    """HF `generate_fourier_features` for the linear grid (or given `pos`)."""
    pos = linear_positions(index_dims) if pos is None else pos
    max_resolution = max_resolution or index_dims
    freqs = np.stack([np.linspace(1.0, r / 2, num_bands) for r in max_resolution])
    f = (pos[:, :, None] * freqs[None]).reshape(len(pos), -1)
    f = np.sin(np.pi * f) if sine_only else np.concatenate(
        [np.sin(np.pi * f), np.cos(np.pi * f)], axis=-1)
    return np.concatenate([pos, f], axis=-1) if concat_pos else f


def layer_norm(x, w, name, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w[f"{name}/gamma"] + w[f"{name}/beta"]


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def dense(x, w, name):
    return x @ w[f"{name}/kernel"] + w[f"{name}/bias"]


def attention(q_in, kv_in, w, num_heads, mask=None):
    """HF `PerceiverSelfAttention` + output projection; mask (B, M) True = keep."""
    q = dense(q_in, w, "attention/query")
    k = dense(kv_in, w, "attention/key")
    v = dense(kv_in, w, "attention/value")

    def heads(t):
        return t.reshape(t.shape[0], t.shape[1], num_heads, -1).transpose(0, 2, 1, 3)

    q, k, v = heads(q), heads(k), heads(v)
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores + np.where(mask, 0.0, np.finfo("float64").min)[:, None, None, :]
    scores = scores - scores.max(-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(-1, keepdims=True)
    out = (probs @ v).transpose(0, 2, 1, 3).reshape(q_in.shape[0], q_in.shape[1], -1)
    return dense(out, w, "attention/output")


def mlp(x, w):
    return dense(gelu(dense(x, w, "mlp/dense_1")), w, "mlp/dense_2")


def cross_attention_layer(block, query, context, mask=None):
    """HF `PerceiverLayer(is_cross_attention=True)`."""
    w = weights(block)
    x = attention(layer_norm(query, w, "query_norm"), layer_norm(context, w, "context_norm"),
                  w, block.num_heads, mask)
    if block.use_query_residual:
        x = x + query
    return x + mlp(layer_norm(x, w, "mlp_norm"), w)


def self_attention_layer(block, x):
    """HF `PerceiverLayer(is_cross_attention=False)`."""
    w = weights(block)
    h = layer_norm(x, w, "attention_norm")
    x = x + attention(h, h, w, block.num_heads)
    return x + mlp(layer_norm(x, w, "mlp_norm"), w)
