"""A numpy transcription of OpenAI's `clip/model.py`, for parity tests.

`*_state(model)` exports a kerasmm tower's weights as an OpenAI-style state
dict (OpenAI names, PyTorch layouts: Linear weights `(out, in)`, convs
OIHW). The `openai_*` functions then run OpenAI's forward pass line by line
in float64 numpy (convolutions in NCHW, as PyTorch). The two halves share no
code with kerasmm, so agreement checks the towers and the name map the
weight converters need.
"""

import numpy as np
from keras import ops


def t(variable):
    return np.asarray(ops.convert_to_numpy(variable), "float64")


# ------------------------------------------------------------------ state dicts
def _linear(state, name, dense):
    state[f"{name}.weight"] = t(dense.kernel).T
    if dense.bias is not None:
        state[f"{name}.bias"] = t(dense.bias)


def _layer_norm(state, name, norm):
    state[f"{name}.weight"], state[f"{name}.bias"] = t(norm.gamma), t(norm.beta)


def _blocks(state, prefix, blocks):
    for i, block in enumerate(blocks):
        p = f"{prefix}.resblocks.{i}"
        attention = block.attention
        dense = (attention.query_dense, attention.key_dense, attention.value_dense)
        _layer_norm(state, f"{p}.ln_1", block.attention_norm)
        state[f"{p}.attn.in_proj_weight"] = np.concatenate([t(d.kernel).T for d in dense])
        state[f"{p}.attn.in_proj_bias"] = np.concatenate([t(d.bias) for d in dense])
        _linear(state, f"{p}.attn.out_proj", attention.output_dense)
        _layer_norm(state, f"{p}.ln_2", block.mlp_norm)
        _linear(state, f"{p}.mlp.c_fc", block.mlp.dense_1)
        _linear(state, f"{p}.mlp.c_proj", block.mlp.dense_2)


def vit_state(vit):
    state = {
        "conv1.weight": t(vit.patch_embedding.projection.kernel).transpose(3, 2, 0, 1),
        "class_embedding": t(vit.class_embedding),
        "positional_embedding": t(vit.position_embedding.embeddings),
        "proj": t(vit.projection.kernel),
    }
    _layer_norm(state, "ln_pre", vit.ln_pre)
    _blocks(state, "transformer", vit.blocks)
    _layer_norm(state, "ln_post", vit.ln_post)
    return state


def text_state(text):
    state = {
        "token_embedding.weight": t(text.token_embedding.embeddings),
        "positional_embedding": t(text.position_embedding.embeddings),
        "text_projection": t(text.projection.kernel),
    }
    _blocks(state, "transformer", text.blocks)
    _layer_norm(state, "ln_final", text.ln_final)
    return state


def _conv_bn(state, conv_name, conv, bn_name, bn):
    state[f"{conv_name}.weight"] = t(conv.kernel).transpose(3, 2, 0, 1)
    state[f"{bn_name}.weight"], state[f"{bn_name}.bias"] = t(bn.gamma), t(bn.beta)
    state[f"{bn_name}.running_mean"] = t(bn.moving_mean)
    state[f"{bn_name}.running_var"] = t(bn.moving_variance)


def bottleneck_state(block, prefix=""):
    state = {}
    for i in (1, 2, 3):
        _conv_bn(state, f"{prefix}conv{i}", getattr(block, f"conv{i}"),
                 f"{prefix}bn{i}", getattr(block, f"bn{i}"))
    if block.downsample_conv is not None:
        _conv_bn(state, f"{prefix}downsample.0", block.downsample_conv,
                 f"{prefix}downsample.1", block.downsample_bn)
    return state


def attention_pool_state(pool, prefix=""):
    state = {f"{prefix}positional_embedding": t(pool.positional_embedding)}
    attention = pool.attention
    for name, dense in (("q_proj", attention.query_dense), ("k_proj", attention.key_dense),
                        ("v_proj", attention.value_dense), ("c_proj", attention.output_dense)):
        _linear(state, f"{prefix}{name}", dense)
    return state


def resnet_state(resnet):
    state = {}
    for i in (1, 2, 3):
        _conv_bn(state, f"conv{i}", getattr(resnet, f"stem_conv{i}"),
                 f"bn{i}", getattr(resnet, f"stem_bn{i}"))
    for s, stage in enumerate(resnet.stages):
        for b, block in enumerate(stage):
            state.update(bottleneck_state(block, f"layer{s + 1}.{b}."))
    state.update(attention_pool_state(resnet.attention_pool, "attnpool."))
    return state


# ------------------------------------------------------------ OpenAI's forward
def layer_norm(x, state, name, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * state[f"{name}.weight"] + state[f"{name}.bias"]


def quick_gelu(x):
    return x * (1.0 / (1.0 + np.exp(-1.702 * x)))


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def multi_head_attention(query, key, value, w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o,
                         heads, additive_mask=None):
    """`F.multi_head_attention_forward`, batch first: (N, L, D) inputs."""
    def split(x):
        n, length, d = x.shape
        return x.reshape(n, length, heads, d // heads).transpose(0, 2, 1, 3)
    q, k, v = split(query @ w_q.T + b_q), split(key @ w_k.T + b_k), split(value @ w_v.T + b_v)
    q = q * (q.shape[-1] ** -0.5)
    scores = q @ k.transpose(0, 1, 3, 2)
    if additive_mask is not None:
        scores = scores + additive_mask
    out = softmax(scores) @ v
    n, _, length, _ = out.shape
    out = out.transpose(0, 2, 1, 3).reshape(n, length, -1)
    return out @ w_o.T + b_o


def residual_attention_block(x, state, p, heads, attn_mask=None):
    d = x.shape[-1]
    w, b = state[f"{p}.attn.in_proj_weight"], state[f"{p}.attn.in_proj_bias"]
    h = layer_norm(x, state, f"{p}.ln_1")
    x = x + multi_head_attention(
        h, h, h, w[:d], b[:d], w[d:2 * d], b[d:2 * d], w[2 * d:], b[2 * d:],
        state[f"{p}.attn.out_proj.weight"], state[f"{p}.attn.out_proj.bias"], heads,
        attn_mask)
    h = layer_norm(x, state, f"{p}.ln_2")
    h = quick_gelu(h @ state[f"{p}.mlp.c_fc.weight"].T + state[f"{p}.mlp.c_fc.bias"])
    return x + h @ state[f"{p}.mlp.c_proj.weight"].T + state[f"{p}.mlp.c_proj.bias"]


def conv2d(x, weight, stride=1, padding=0):
    """NCHW x OIHW convolution, PyTorch semantics (symmetric zero padding)."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    _, _, height, width = x.shape
    _, _, kh, kw = weight.shape
    ho, wo = (height - kh) // stride + 1, (width - kw) // stride + 1
    out = 0.0
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            out = out + np.einsum("nchw,oc->nohw", patch, weight[:, :, i, j])
    return out


def avg_pool(x, k):
    n, c, h, w = x.shape
    ho, wo = h // k, w // k
    return x[:, :, :ho * k, :wo * k].reshape(n, c, ho, k, wo, k).mean(axis=(3, 5))


def batch_norm(x, state, name, eps=1e-5):
    def per_channel(v):
        return state[f"{name}.{v}"][None, :, None, None]
    return ((x - per_channel("running_mean")) / np.sqrt(per_channel("running_var") + eps)
            * per_channel("weight") + per_channel("bias"))


def relu(x):
    return np.maximum(x, 0.0)


def openai_bottleneck(x, state, stride, p=""):
    out = relu(batch_norm(conv2d(x, state[f"{p}conv1.weight"]), state, f"{p}bn1"))
    out = relu(batch_norm(conv2d(out, state[f"{p}conv2.weight"], padding=1), state, f"{p}bn2"))
    if stride > 1:
        out = avg_pool(out, stride)
    out = batch_norm(conv2d(out, state[f"{p}conv3.weight"]), state, f"{p}bn3")
    identity = x
    if f"{p}downsample.0.weight" in state:
        identity = x if stride == 1 else avg_pool(x, stride)
        identity = batch_norm(conv2d(identity, state[f"{p}downsample.0.weight"]), state,
                              f"{p}downsample.1")
    return relu(out + identity)


def openai_attention_pool(x, state, heads, p=""):
    """OpenAI `AttentionPool2d.forward` on NCHW `x`; returns `(N, output_dim)`."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h * w).transpose(0, 2, 1)  # (N, HW, C), batch first
    x = np.concatenate([x.mean(axis=1, keepdims=True), x], axis=1)
    x = x + state[f"{p}positional_embedding"][None]
    out = multi_head_attention(
        x, x, x, state[f"{p}q_proj.weight"], state[f"{p}q_proj.bias"],
        state[f"{p}k_proj.weight"], state[f"{p}k_proj.bias"],
        state[f"{p}v_proj.weight"], state[f"{p}v_proj.bias"],
        state[f"{p}c_proj.weight"], state[f"{p}c_proj.bias"], heads)
    return out[:, 0]


def openai_modified_resnet(images_nhwc, state, block_counts, heads):
    x = images_nhwc.astype("float64").transpose(0, 3, 1, 2)
    x = relu(batch_norm(conv2d(x, state["conv1.weight"], stride=2, padding=1), state, "bn1"))
    x = relu(batch_norm(conv2d(x, state["conv2.weight"], padding=1), state, "bn2"))
    x = relu(batch_norm(conv2d(x, state["conv3.weight"], padding=1), state, "bn3"))
    x = avg_pool(x, 2)
    for s, count in enumerate(block_counts):
        for b in range(count):
            stride = 2 if s > 0 and b == 0 else 1
            x = openai_bottleneck(x, state, stride, f"layer{s + 1}.{b}.")
    return openai_attention_pool(x, state, heads, "attnpool.")


def openai_vision_transformer(images_nhwc, state, heads):
    x = images_nhwc.astype("float64").transpose(0, 3, 1, 2)
    patch = state["conv1.weight"].shape[-1]
    x = conv2d(x, state["conv1.weight"], stride=patch)  # (N, width, grid, grid)
    x = x.reshape(x.shape[0], x.shape[1], -1).transpose(0, 2, 1)
    cls = np.broadcast_to(state["class_embedding"], (x.shape[0], 1, x.shape[-1]))
    x = np.concatenate([cls, x], axis=1) + state["positional_embedding"]
    x = layer_norm(x, state, "ln_pre")
    layers = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")})
    for i in range(layers):
        x = residual_attention_block(x, state, f"transformer.resblocks.{i}", heads)
    return layer_norm(x[:, 0, :], state, "ln_post") @ state["proj"]


def openai_text_hidden(token_ids, state, heads):
    """`encode_text` up to `ln_final`: `(N, L, width)`."""
    length = token_ids.shape[1]
    x = state["token_embedding.weight"][token_ids] + state["positional_embedding"][:length]
    mask = np.triu(np.full((length, length), -np.inf), 1)
    layers = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")})
    for i in range(layers):
        x = residual_attention_block(x, state, f"transformer.resblocks.{i}", heads, mask)
    return layer_norm(x, state, "ln_final")


def openai_text_transformer(token_ids, state, heads):
    x = openai_text_hidden(token_ids, state, heads)
    # The EOT token is the highest id of each row (numpy's argmax: first max).
    return x[np.arange(x.shape[0]), token_ids.argmax(-1)] @ state["text_projection"]


# ------------------------------------------------------------------- weights
def randomize_weights(model, seed=0):
    """Gives every variable random values of a sensible scale.

    Fresh models have zero biases, unit LayerNorm / BatchNorm scales and
    zero-initialised last BatchNorms; random values make a parity test see
    each weight.
    """
    rng = np.random.default_rng(seed)
    for v in model.weights:
        shape, name = tuple(v.shape), v.path.split("/")[-1]
        if name == "moving_variance":
            value = rng.uniform(0.5, 1.5, shape)
        elif name == "gamma":
            value = 1.0 + 0.2 * rng.normal(size=shape)
        elif name == "kernel" and len(shape) >= 2:
            value = rng.normal(size=shape) / np.sqrt(np.prod(shape[:-1]))
        elif name == "logit_scale" or name == "logit_bias":
            continue
        else:
            value = 0.3 * rng.normal(size=shape)
        v.assign(value.astype("float32"))
