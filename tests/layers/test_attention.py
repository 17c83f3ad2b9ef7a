import keras
import numpy as np
import pytest
from keras import ops

from kerasmm.layers import CrossAttention, MultiHeadAttention, SelfAttention
from tests.test_case import TestCase, to_numpy

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.normal(size=shape).astype("float32")


# ----------------------------------------------------------- numpy references
def np_layer_norm(x, gamma, beta, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def np_softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def np_gelu(x):
    from math import erf
    return 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))


def np_quick_gelu(x):
    return x / (1 + np.exp(-1.702 * x))


def np_mha(layer, q_in, kv_in, mask=None):
    """softmax(Q K^T / sqrt(d)) V per head, with the layer's own weights."""
    w = {v.path.split("/")[-2] + "/" + v.name: np.asarray(ops.convert_to_numpy(v), "float64")
         for v in layer.weights}
    q = q_in @ w["query/kernel"] + w["query/bias"]
    k = kv_in @ w["key/kernel"] + w["key/bias"]
    v = kv_in @ w["value/kernel"] + w["value/bias"]
    h = layer.num_heads
    split = lambda t: t.reshape(t.shape[0], t.shape[1], h, -1).transpose(0, 2, 1, 3)
    q, k, v = split(q), split(k), split(v)
    logits = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    if mask is not None:
        logits = np.where(mask[:, None], logits, -np.inf)
    out = (np_softmax(logits) @ v).transpose(0, 2, 1, 3).reshape(q_in.shape[0], q_in.shape[1], -1)
    return out @ w["output/kernel"] + w["output/bias"]


def _weights(layer, prefix):
    return [np.asarray(ops.convert_to_numpy(v), "float64") for v in layer.weights
            if v.path.split("/")[-2] == prefix]


def np_mlp(mlp, x, act):
    k1, b1 = _weights(mlp, "dense_1")
    k2, b2 = _weights(mlp, "dense_2")
    return act(x @ k1 + b1) @ k2 + b2


def np_norm(norm, x):
    gamma, beta = [np.asarray(ops.convert_to_numpy(v), "float64") for v in norm.weights]
    return np_layer_norm(x, gamma, beta, norm.epsilon)


# ----------------------------------------------------------------- the tests
class TestCrossAttention(TestCase):
    def test_common_checks(self):
        self.run_layer_test(
            CrossAttention,
            {"num_heads": 2, "widening_factor": 2, "qk_channels": 8, "v_channels": 12},
            [rand(2, 3, 6), rand(2, 7, 10)],
            expected_output_shape=(2, 3, 6),
        )

    def test_output_channels_without_residual(self):
        self.run_layer_test(
            CrossAttention,
            {"num_heads": 1, "output_channels": 5, "use_query_residual": False,
             "widening_factor": 1},
            [rand(2, 4, 6), rand(2, 9, 3)],
            expected_output_shape=(2, 4, 5),
            check_mixed_precision=False,
        )

    def test_matches_numpy_formula(self):
        query, context = rand(2, 3, 6), rand(2, 7, 10)
        mask = np.ones((2, 7), bool)
        mask[0, 4:] = False
        layer = CrossAttention(num_heads=2, qk_channels=8, v_channels=4, widening_factor=2)
        out = to_numpy(layer(query, context, context_mask=mask))
        q64, c64 = query.astype("float64"), context.astype("float64")
        x = np_mha(layer.attention, np_norm(layer.query_norm, q64),
                   np_norm(layer.context_norm, c64), mask[:, None, :]) + q64
        x = x + np_mlp(layer.mlp, np_norm(layer.mlp_norm, x), np_gelu)
        np.testing.assert_allclose(out, x, atol=2e-5)

    def test_default_qk_channels_follow_shape_for_attn(self):
        query, context = rand(1, 3, 6), rand(1, 5, 10)
        kv = CrossAttention(num_heads=2)
        kv(query, context)
        assert kv.attention.query_dense.kernel.shape == (6, 10)
        q = CrossAttention(num_heads=2, shape_for_attn="q")
        q(query, context)
        assert q.attention.query_dense.kernel.shape == (6, 6)

    def test_masked_context_has_no_influence(self):
        query, context = rand(2, 3, 6), rand(2, 8, 5)
        mask = np.ones((2, 8), bool)
        mask[:, 5:] = False
        layer = CrossAttention(num_heads=1)
        out = to_numpy(layer(query, context, context_mask=mask))
        changed = context.copy()
        changed[:, 5:] = 1e3 * rand(2, 3, 5)
        out2 = to_numpy(layer(query, changed, context_mask=mask))
        np.testing.assert_array_equal(out, out2)
        # And unmasked positions do have influence.
        changed[:, 0] += rand(2, 5)  # not constant: LayerNorm would cancel that
        assert not np.allclose(out, to_numpy(layer(query, changed, context_mask=mask)))

    @pytest.mark.parametrize(
        "kwargs, message",
        [({"num_heads": 0}, "num_heads"),
         ({"num_heads": 2, "widening_factor": -1}, "widening_factor"),
         ({"num_heads": 2, "dropout": 1.5}, "dropout"),
         ({"num_heads": 2, "shape_for_attn": "x"}, "shape_for_attn"),
         ({"num_heads": 2, "key_dim": 4, "qk_channels": 6}, "key_dim")])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            CrossAttention(**kwargs)

    def test_bad_inputs(self):
        layer = CrossAttention(num_heads=3, qk_channels=8)
        with pytest.raises(ValueError, match="num_heads must divide qk_channels"):
            layer(rand(2, 3, 6), rand(2, 4, 6))
        with pytest.raises(ValueError, match="query must have rank 3"):
            CrossAttention(num_heads=1)(rand(2, 6), rand(2, 4, 6))
        with pytest.raises(ValueError, match="same batch size"):
            CrossAttention(num_heads=1)(rand(2, 3, 6), rand(3, 4, 6))
        layer = CrossAttention(num_heads=1)
        layer(rand(2, 3, 6), rand(2, 4, 6))
        with pytest.raises(ValueError, match="context_mask"):
            layer(rand(2, 3, 6), rand(2, 4, 6), context_mask=np.ones((2, 5), bool))
        with pytest.raises(ValueError, match="output_channels"):
            CrossAttention(num_heads=1, output_channels=4)(rand(2, 3, 6), rand(2, 4, 6))


class TestSelfAttention(TestCase):
    def test_common_checks(self):
        self.run_layer_test(
            SelfAttention,
            {"num_heads": 2, "causal": True, "activation": "quick_gelu"},
            rand(2, 5, 8),
            expected_output_shape=(2, 5, 8),
        )

    def test_with_mask_argument(self):
        mask = np.ones((2, 5), bool)
        self.run_layer_test(
            SelfAttention, {"num_heads": 2, "key_dim": 3}, [rand(2, 5, 8), mask],
            expected_output_shape=(2, 5, 8), check_mixed_precision=False)

    def test_matches_numpy_formula(self):
        x = rand(2, 5, 8)
        mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
        layer = SelfAttention(num_heads=2, causal=True, activation="quick_gelu",
                              v_channels=4)
        out = to_numpy(layer(x, mask=mask))
        x64 = x.astype("float64")
        causal = np.tril(np.ones((5, 5), bool))
        full = mask[:, None, :] & causal[None]
        h = np_norm(layer.attention_norm, x64)
        y = x64 + np_mha(layer.attention, h, h, full)
        y = y + np_mlp(layer.mlp, np_norm(layer.mlp_norm, y), np_quick_gelu)
        np.testing.assert_allclose(out, y, atol=2e-5)

    @pytest.mark.parametrize("causal", [False, True])
    def test_query_index_matches_numpy_rows(self, causal):
        """One position per row: the numpy formula's output at that row."""
        x = rand(3, 5, 8)
        mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool)
        index = np.array([2, 4, 0], "int32")
        layer = SelfAttention(num_heads=2, causal=causal, activation="quick_gelu")
        out = to_numpy(layer(x, mask=mask, query_index=index))
        assert out.shape == (3, 1, 8)
        x64 = x.astype("float64")
        full = np.repeat(mask[:, None, :], 5, axis=1)
        if causal:
            full &= np.tril(np.ones((5, 5), bool))[None]
        h = np_norm(layer.attention_norm, x64)
        y = x64 + np_mha(layer.attention, h, h, full)
        y = y + np_mlp(layer.mlp, np_norm(layer.mlp_norm, y), np_quick_gelu)
        np.testing.assert_allclose(out[:, 0], y[np.arange(3), index], atol=2e-5)
        with pytest.raises(ValueError, match="query_index must have shape"):
            layer(x, query_index=index[:, None])

    def test_causal_never_sees_later_tokens(self):
        x = rand(1, 6, 8)
        layer = SelfAttention(num_heads=2, causal=True)
        out = to_numpy(layer(x))
        changed = x.copy()
        changed[:, 4:] = rand(1, 2, 8) * 100
        out2 = to_numpy(layer(changed))
        np.testing.assert_array_equal(out[:, :4], out2[:, :4])
        assert not np.allclose(out[:, 4:], out2[:, 4:])

    def test_padding_mask_has_no_influence(self):
        x = rand(2, 6, 8)
        mask = np.array([[1] * 4 + [0] * 2] * 2, bool)
        layer = SelfAttention(num_heads=2)
        out = to_numpy(layer(x, mask=mask))
        changed = x.copy()
        changed[:, 4:] = rand(2, 2, 8) * 100
        out2 = to_numpy(layer(changed, mask=mask))
        np.testing.assert_array_equal(out[:, :4], out2[:, :4])

    def test_bad_inputs(self):
        with pytest.raises(ValueError, match="num_heads must divide qk_channels"):
            SelfAttention(num_heads=3)(rand(2, 5, 8))
        with pytest.raises(ValueError, match="x must have rank 3"):
            SelfAttention(num_heads=2)(rand(2, 8))
        layer = SelfAttention(num_heads=2)
        with pytest.raises(ValueError, match="mask must have shape"):
            layer(rand(2, 5, 8), mask=np.ones((2, 4), bool))
        with pytest.raises(ValueError, match="activation"):
            SelfAttention(num_heads=2, activation="no_such_activation")


class TestMultiHeadAttention(TestCase):
    def test_common_checks(self):
        self.run_layer_test(
            MultiHeadAttention, {"num_heads": 2, "qk_channels": 8, "v_channels": 6},
            [rand(2, 3, 4), rand(2, 5, 7)], expected_output_shape=(2, 3, 4))

    def test_matches_numpy_formula(self):
        q, c = rand(2, 3, 4), rand(2, 5, 7)
        layer = MultiHeadAttention(num_heads=2, qk_channels=8, v_channels=6,
                                   output_channels=3)
        out = to_numpy(layer(q, c))
        np.testing.assert_allclose(out, np_mha(layer, q.astype("float64"),
                                                c.astype("float64")), atol=1e-5)


def test_perceiver_style_model_round_trips(tmp_path):
    """A small Perceiver composed from the layers survives `.keras` unchanged."""
    from kerasmm.layers import LatentArray
    inputs = keras.Input((20, 6))
    latents = LatentArray(num_latents=4, latent_dim=8)(inputs)
    x = CrossAttention(num_heads=1, widening_factor=1)(latents, inputs)
    x = SelfAttention(num_heads=2)(x)
    x = SelfAttention(num_heads=2)(x)
    outputs = keras.layers.Dense(3)(keras.ops.mean(x, axis=1))
    model = keras.Model(inputs, outputs)
    data = rand(3, 20, 6)
    expected = to_numpy(model(data))
    model.save(tmp_path / "perceiver.keras")
    restored = keras.saving.load_model(tmp_path / "perceiver.keras")
    np.testing.assert_allclose(to_numpy(restored(data)), expected, atol=1e-6)


def np_attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d)) v, `(B, N, H, D)` layout, float64."""
    q, k, v = (np.asarray(t, "float64").transpose(0, 2, 1, 3) for t in (q, k, v))
    logits = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    if mask is not None:
        logits = np.where(mask, logits, -np.inf)
    return (np_softmax(logits) @ v).transpose(0, 2, 1, 3)


@pytest.mark.parametrize("mask_shape", [None, (2, 1, 3, 5), (1, 1, 1, 5), (2, 2, 3, 5)])
@pytest.mark.parametrize("value_width", [4, 6])
def test_dot_product_attention_matches_numpy(monkeypatch, mask_shape, value_width):
    """The attention kernel on every path: on JAX, in inference, float32
    inputs of one head width go through `keras.ops.dot_product_attention`;
    the rest (and every other backend) through kerasmm's einsums."""
    from kerasmm.layers import multi_head_attention

    q, k, v = rand(2, 3, 2, 4), rand(2, 5, 2, 4), rand(2, 5, 2, value_width)
    mask = None
    if mask_shape is not None:
        mask = np.random.default_rng(1).random(mask_shape) > 0.4
        mask[..., 0] = True  # every query sees a key
    calls = []
    backend_attention = ops.dot_product_attention
    monkeypatch.setattr(ops, "dot_product_attention",
                        lambda *a, **kw: calls.append(1) or backend_attention(*a, **kw))
    out = multi_head_attention.dot_product_attention(
        *(ops.convert_to_tensor(t) for t in (q, k, v)),
        None if mask is None else ops.convert_to_tensor(mask))
    np.testing.assert_allclose(to_numpy(out), np_attention(q, k, v, mask), atol=1e-5)
    expected_calls = int(keras.backend.backend() == "jax" and value_width == 4)
    assert len(calls) == expected_calls
    dropout = keras.layers.Dropout(0.5)
    multi_head_attention.dot_product_attention(
        *(ops.convert_to_tensor(t) for t in (q, k, v)), dropout=dropout, training=True)
    assert len(calls) == expected_calls  # training: kerasmm's einsums, no new call
