"""Pre-LayerNorm attention blocks: Perceiver cross-attention and transformer self-attention."""

import keras
from keras import ops

from kerasmm.layers.activations import get_activation
from kerasmm.layers.multi_head_attention import MultiHeadAttention
from kerasmm.layers.multi_head_attention import check_positive_int
from kerasmm.layers.multi_head_attention import check_rank


def _check_rate(name, value):
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1). Received: {name}={value}")


def _check_mask(name, mask, batch_and_length):
    """Checks a (B, L) mask against the static (B, L) of the masked tensor."""
    shape = tuple(mask.shape)
    if len(shape) != 2 or any(
        a is not None and b is not None and a != b
        for a, b in zip(shape, batch_and_length)
    ):
        raise ValueError(
            f"{name} must have shape (batch, length) = {tuple(batch_and_length)}. "
            f"Received: {name} with shape {shape}"
        )


def _check_same_batch(query_shape, context_shape):
    b1, b2 = query_shape[0], context_shape[0]
    if b1 is not None and b2 is not None and b1 != b2:
        raise ValueError(
            "query and context must have the same batch size. Received: "
            f"query batch={b1}, context batch={b2}"
        )


def _resolve_qk(key_dim, qk_channels, num_heads):
    if key_dim is not None and qk_channels is not None:
        if key_dim * num_heads != qk_channels:
            raise ValueError(
                "Pass key_dim (per head) or qk_channels (total), not both "
                f"inconsistently. Received: key_dim={key_dim}, "
                f"qk_channels={qk_channels}, num_heads={num_heads}"
            )
    return qk_channels if key_dim is None else key_dim * num_heads


def maybe_remat(layer, remat):
    """`layer`, or with `remat=True` a callable that rematerialises it.

    The rematerialised call goes through `keras.remat` (TF:
    `tf.recompute_grad`, JAX: `jax.checkpoint`): the activations inside
    `layer` are not kept for the backward pass but recomputed from its
    inputs, trading compute for memory. Only floating-point tensors are
    handed to `keras.remat`, positionally: TF graph mode refuses keyword
    arguments there and `jax.checkpoint` would turn Python flags such as
    `training` into traced arrays. Everything else (masks, flags) is
    closed over. (Keras' own `RematScope` passes all arguments through and
    fails on both counts.) Stateful randomness inside `layer` (dropout)
    would be drawn again in the recomputation, so callers allow remat only
    without dropout.
    """
    if not remat:
        return layer

    def rematerialized_call(*args, **kwargs):
        names = list(kwargs)
        values = list(args) + [kwargs[name] for name in names]
        differentiable = [_is_float_tensor(v) for v in values]

        def forward(*tensors):
            tensors = iter(tensors)
            filled = [next(tensors) if d else v for v, d in zip(values, differentiable)]
            return layer(*filled[:len(args)], **dict(zip(names, filled[len(args):])))

        return keras.remat(forward)(*[v for v, d in zip(values, differentiable) if d])

    return rematerialized_call


def check_remat(remat, dropout=0.0):
    """`remat` as a bool; a ValueError when it is combined with dropout."""
    if not isinstance(remat, bool):
        raise ValueError(f"remat must be a bool. Received: remat={remat!r}")
    if remat and dropout:
        raise ValueError(
            "remat=True needs dropout=0: the recomputation in the backward pass "
            f"would draw new dropout masks. Received: remat={remat}, dropout={dropout}"
        )
    return remat


def _is_float_tensor(value):
    return ops.is_tensor(value) and "float" in keras.backend.standardize_dtype(value.dtype)


@keras.saving.register_keras_serializable(package="kerasmm")
class MLP(keras.layers.Layer):
    """Dense(hidden) -> activation -> Dense(output) -> dropout.

    Args:
        hidden_dim: width of the hidden layer.
        output_dim: output width; defaults to the input's width.
        activation: activation name or callable (`"quick_gelu"` for CLIP).
        dropout: dropout rate on the output.
    """

    def __init__(self, hidden_dim, output_dim=None, activation="gelu",
                 dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("hidden_dim", hidden_dim)
        check_positive_int("output_dim", output_dim, allow_none=True)
        _check_rate("dropout", dropout)
        get_activation(activation)
        self.hidden_dim = hidden_dim
        self.output_dim = output_dim
        self.activation = activation
        self.dropout = dropout
        self._activation_fn = get_activation(activation)
        self._dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        self.dense_1 = keras.layers.Dense(self.hidden_dim, name="dense_1",
                                          dtype=self.dtype_policy)
        self.dense_1.build(input_shape)
        self.dense_2 = keras.layers.Dense(self.output_dim or input_shape[-1],
                                          name="dense_2", dtype=self.dtype_policy)
        self.dense_2.build(tuple(input_shape[:-1]) + (self.hidden_dim,))

    def call(self, x, training=None):
        x = self._activation_fn(self.dense_1(x))
        return self._dropout(self.dense_2(x), training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim or input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim, "output_dim": self.output_dim,
                       "activation": self.activation, "dropout": self.dropout})
        return config


class _AttentionBlock(keras.layers.Layer):
    """Arguments and config shared by the two pre-LN blocks."""

    def __init__(self, num_heads, key_dim=None, widening_factor=4, dropout=0.0,
                 qk_channels=None, v_channels=None, activation="gelu",
                 attention_dropout=0.0, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("key_dim", key_dim, allow_none=True)
        check_positive_int("widening_factor", widening_factor)
        check_positive_int("qk_channels", qk_channels, allow_none=True)
        check_positive_int("v_channels", v_channels, allow_none=True)
        _check_rate("dropout", dropout)
        _check_rate("attention_dropout", attention_dropout)
        get_activation(activation)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.widening_factor = widening_factor
        self.dropout = dropout
        self.qk_channels = qk_channels
        self.v_channels = v_channels
        self.activation = activation
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self._qk = _resolve_qk(key_dim, qk_channels, num_heads)
        self._dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def _norm(self, name, shape):
        layer = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name=name, dtype=self.dtype_policy)
        layer.build(shape)
        return layer

    def _mlp(self, shape):
        layer = MLP(self.widening_factor * shape[-1], activation=self.activation,
                    dropout=self.dropout, name="mlp", dtype=self.dtype_policy)
        layer.build(shape)
        return layer

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "widening_factor": self.widening_factor,
            "dropout": self.dropout,
            "qk_channels": self.qk_channels,
            "v_channels": self.v_channels,
            "activation": self.activation,
            "attention_dropout": self.attention_dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        })
        return config


@keras.saving.register_keras_serializable(package="kerasmm")
class CrossAttention(_AttentionBlock):
    """Perceiver IO cross-attention block (DeepMind `perceiver.py: CrossAttention`).

    `x = query + attend(LN(query), LN(context))` (the residual is optional),
    then `x = x + MLP(LN(x))`. Query and context may differ in length and
    width. By default the q/k width follows the context (`shape_for_attn="kv"`)
    and the output width follows the query.

    Args:
        num_heads: number of attention heads.
        key_dim: per-head q/k width (alternative to `qk_channels`).
        widening_factor: MLP hidden width = `widening_factor * output width`.
        dropout: dropout rate after attention and after the MLP.
        qk_channels: total q/k width. Default: see `shape_for_attn`.
        v_channels: total value width. Defaults to the q/k width.
        output_channels: output width. Defaults to the query's width.
        use_query_residual: add the query to the attention output.
        shape_for_attn: `"kv"` or `"q"`: whose width sets the default q/k width.
        activation: MLP activation (`"gelu"` is exact erf GELU).
        attention_dropout: dropout rate on attention weights.
        layer_norm_epsilon: LayerNorm epsilon.

    Call arguments:
        query: `(B, N, Dq)`.
        context: `(B, M, Dc)`.
        context_mask: optional bool `(B, M)`; False positions are never attended.
        training: Python bool.

    Example:
    >>> block = CrossAttention(num_heads=2, widening_factor=1)
    >>> latents, inputs = keras.random.normal((2, 4, 8)), keras.random.normal((2, 50, 6))
    >>> tuple(block(latents, inputs).shape)
    (2, 4, 8)

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    def __init__(self, num_heads, key_dim=None, widening_factor=4, dropout=0.0,
                 qk_channels=None, v_channels=None, output_channels=None,
                 use_query_residual=True, shape_for_attn="kv", activation="gelu",
                 attention_dropout=0.0, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(num_heads, key_dim=key_dim, widening_factor=widening_factor,
                         dropout=dropout, qk_channels=qk_channels,
                         v_channels=v_channels, activation=activation,
                         attention_dropout=attention_dropout,
                         layer_norm_epsilon=layer_norm_epsilon, **kwargs)
        check_positive_int("output_channels", output_channels, allow_none=True)
        if shape_for_attn not in ("kv", "q"):
            raise ValueError(
                f"shape_for_attn must be 'kv' or 'q'. Received: shape_for_attn={shape_for_attn!r}"
            )
        self.output_channels = output_channels
        self.use_query_residual = use_query_residual
        self.shape_for_attn = shape_for_attn

    def build(self, query_shape, context_shape):
        check_rank("query", query_shape, 3)
        check_rank("context", context_shape, 3)
        _check_same_batch(query_shape, context_shape)
        out = self.output_channels or query_shape[-1]
        if self.use_query_residual and out != query_shape[-1]:
            raise ValueError(
                "With use_query_residual=True, output_channels must equal the "
                f"query width. Received: output_channels={out}, query width="
                f"{query_shape[-1]}"
            )
        default_qk = context_shape[-1] if self.shape_for_attn == "kv" else query_shape[-1]
        self.query_norm = self._norm("query_norm", query_shape)
        self.context_norm = self._norm("context_norm", context_shape)
        self.attention = MultiHeadAttention(
            self.num_heads, qk_channels=self._qk or default_qk,
            v_channels=self.v_channels, output_channels=out,
            attention_dropout=self.attention_dropout, name="attention",
            dtype=self.dtype_policy)
        self.attention.build(query_shape, context_shape)
        out_shape = tuple(query_shape[:-1]) + (out,)
        self.mlp_norm = self._norm("mlp_norm", out_shape)
        self.mlp = self._mlp(out_shape)

    def call(self, query, context, context_mask=None, training=None):
        _check_same_batch(query.shape, context.shape)
        attention_mask = None
        if context_mask is not None:
            _check_mask("context_mask", context_mask, context.shape[:2])
            attention_mask = ops.cast(context_mask, "bool")[:, None, :]
        x = self.attention(self.query_norm(query), self.context_norm(context),
                           attention_mask=attention_mask, training=training)
        x = self._dropout(x, training=training)
        if self.use_query_residual:
            x = x + query
        return x + self.mlp(self.mlp_norm(x), training=training)

    def compute_output_shape(self, query_shape, context_shape):
        return tuple(query_shape[:-1]) + (self.output_channels or query_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update({
            "output_channels": self.output_channels,
            "use_query_residual": self.use_query_residual,
            "shape_for_attn": self.shape_for_attn,
        })
        return config


@keras.saving.register_keras_serializable(package="kerasmm")
class SelfAttention(_AttentionBlock):
    """Pre-LN transformer block: `x += attend(LN(x))`, then `x += MLP(LN(x))`.

    The block of CLIP's towers (`activation="quick_gelu"`) and of the
    Perceiver latent transformer.

    Args:
        num_heads: number of attention heads.
        key_dim: per-head q/k width (alternative to `qk_channels`).
        widening_factor: MLP hidden width = `widening_factor * width`.
        causal: if True, position i attends only to positions <= i.
        dropout: dropout rate after attention and after the MLP.
        qk_channels: total q/k width. Defaults to the input's width.
        v_channels: total value width. Defaults to the q/k width.
        activation: MLP activation: `"gelu"`, `"quick_gelu"`, any Keras name.
        attention_dropout: dropout rate on attention weights.
        layer_norm_epsilon: LayerNorm epsilon.

    Call arguments:
        x: `(B, N, D)`.
        mask: optional bool `(B, N)` padding mask; False positions are never
            attended to.
        training: Python bool.
        query_index: optional int `(B,)`: compute only that position of
            each row, `(B, 1, D)`, equal to the full output at it (it still
            attends to every position). For a last block whose other
            outputs are discarded (CLIP's pooled towers): the MLP and the
            query/output projections run on one token instead of `N`.

    Example:
    >>> block = SelfAttention(num_heads=2, causal=True, activation="quick_gelu")
    >>> tuple(block(keras.random.normal((2, 5, 8))).shape)
    (2, 5, 8)
    """

    def __init__(self, num_heads, key_dim=None, widening_factor=4, causal=False,
                 dropout=0.0, qk_channels=None, v_channels=None, activation="gelu",
                 attention_dropout=0.0, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(num_heads, key_dim=key_dim, widening_factor=widening_factor,
                         dropout=dropout, qk_channels=qk_channels,
                         v_channels=v_channels, activation=activation,
                         attention_dropout=attention_dropout,
                         layer_norm_epsilon=layer_norm_epsilon, **kwargs)
        self.causal = bool(causal)

    def build(self, input_shape):
        check_rank("x", input_shape, 3)
        self.attention_norm = self._norm("attention_norm", input_shape)
        self.attention = MultiHeadAttention(
            self.num_heads, qk_channels=self._qk, v_channels=self.v_channels,
            output_channels=input_shape[-1],
            attention_dropout=self.attention_dropout, name="attention",
            dtype=self.dtype_policy)
        self.attention.build(input_shape, input_shape)
        self.mlp_norm = self._norm("mlp_norm", input_shape)
        self.mlp = self._mlp(input_shape)

    def _attention_mask(self, x, mask, query_index=None):
        attention_mask = None
        if mask is not None:
            _check_mask("mask", mask, x.shape[:2])
            attention_mask = ops.cast(mask, "bool")[:, None, :]
        if self.causal:
            length = ops.shape(x)[1]
            keys = ops.arange(length, dtype="int32")[None, :]
            if query_index is None:
                causal = (ops.arange(length, dtype="int32")[:, None] >= keys)[None, :, :]
            else:  # The rows of the queried positions, (B, 1, N).
                causal = (query_index[:, None] >= keys)[:, None, :]
            attention_mask = causal if attention_mask is None else ops.logical_and(
                attention_mask, causal)
        return attention_mask

    def call(self, x, mask=None, training=None, query_index=None):
        if len(x.shape) != 3:
            raise ValueError(f"x must have rank 3. Received: x with shape {tuple(x.shape)}")
        if query_index is not None:
            if len(query_index.shape) != 1:
                raise ValueError("query_index must have shape (batch,). Received: "
                                 f"query_index with shape {tuple(query_index.shape)}")
            query_index = ops.cast(query_index, "int32")
        attention_mask = self._attention_mask(x, mask, query_index)
        h = self.attention_norm(x)
        query = h
        if query_index is not None:
            rows = query_index[:, None, None]
            x = ops.take_along_axis(x, rows, axis=1)
            query = ops.take_along_axis(h, rows, axis=1)
        h = self.attention(query, h, attention_mask=attention_mask, training=training)
        x = x + self._dropout(h, training=training)
        return x + self.mlp(self.mlp_norm(x), training=training)

    def compute_mask(self, x, mask=None):
        return mask

    def compute_output_shape(self, x_shape, mask_shape=None):
        return tuple(x_shape)

    def get_config(self):
        config = super().get_config()
        config["causal"] = self.causal
        return config
