"""SigLIP's text tower (Hugging Face `SiglipTextModel`, big_vision `text_transformer.py`)."""

import keras
from keras import ops

from kerasmm.layers import LearnedPositionEmbedding
from kerasmm.layers.remat import maybe_remat
from kerasmm.models.clip.clip_utils import layer_norm
from kerasmm.models.clip.clip_utils import normal
from kerasmm.models.siglip.siglip_utils import encoder_blocks
from kerasmm.models.siglip.siglip_utils import set_transformer_args
from kerasmm.models.siglip.siglip_utils import transformer_config
from kerasmm.utils.checks import check_mask
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank
from kerasmm.utils.tensor_checks import check_token_ids


@keras.saving.register_keras_serializable(package="kerasmm")
class SigLIPTextEncoder(keras.Model):
    """SigLIP's text tower: a bidirectional transformer read at its last token.

    Mirrors Hugging Face's `SiglipTextModel`: token embedding plus learned
    positions, `num_layers` pre-LN blocks *without* a causal mask
    (`kerasmm.layers.SelfAttention`, biases everywhere, `gelu_approximate`),
    `ln_final`, the features at the *last* position of each row (SigLIP pads
    every text to `context_length`, so that position holds the end token or
    padding, as in training) and a linear `head` with bias to `output_dim`.
    The output is *not* L2-normalised; `kerasmm.models.SigLIP` normalises it.

    Pooled path: only the last position is read, so the last block
    computes that one token alone. With `output_tokens=True` the call also
    returns every position's features after `ln_final`.

    A `padding_mask` may be passed (keras-hub's convention, Hugging Face's
    `attention_mask`): masked positions are then never attended to. SigLIP
    was trained without one, on texts padded to the full length.

    Weights and their Hugging Face names (`text_model.` prefix):
    `token_embedding` (`embeddings.token_embedding`),
    `position_embedding/embeddings` (`embeddings.position_embedding`),
    `block_i` (`encoder.layers.i`, named as in `SigLIPVisionEncoder`),
    `ln_final` (`final_layer_norm`), `head` (`head`).

    Args:
        vocabulary_size: int, number of token ids (SigLIP: 32000; SigLIP 2,
            Gemma's: 256000).
        context_length: int, longest token sequence (rows of the position
            table; SigLIP: 64).
        hidden_dim: int, width of the transformer.
        num_layers: int, number of transformer blocks.
        num_heads: int, attention heads; must divide `hidden_dim`.
        intermediate_dim: int, hidden width of each block's MLP; None is
            `4 * hidden_dim`.
        output_dim: int, width of the output (Hugging Face's
            `projection_size`); None is `hidden_dim`.
        activation: MLP activation, `"gelu_approximate"` for SigLIP.
        layer_norm_epsilon: float > 0, epsilon of every LayerNorm.
        remat: bool, rematerialise each block in the backward pass.
        output_tokens: bool, also return every position's features.

    Call arguments:
        inputs: int `token_ids` `(batch, length)` with `length <=
            context_length`, or a dict with `"token_ids"` and an optional
            bool `"padding_mask"` of the same shape.
        training: Python bool.

    Returns:
        `(batch, output_dim)` text features; with `output_tokens=True` a dict
        `{"pooled": (batch, output_dim), "tokens": (batch, length,
        hidden_dim)}`.

    Example:
    >>> encoder = SigLIPTextEncoder(vocabulary_size=64, context_length=8,
    ...                             hidden_dim=16, num_layers=2, num_heads=2)
    >>> tuple(encoder(np.array([[5, 9, 1, 1, 1, 1, 1, 1]])).shape)
    (1, 16)

    Reference:
        Zhai et al., "Sigmoid Loss for Language Image Pre-Training", 2023;
        Hugging Face transformers `models/siglip/modeling_siglip.py`.
    """

    def __init__(self, vocabulary_size=32000, context_length=64, hidden_dim=768,
                 num_layers=12, num_heads=12, intermediate_dim=None, output_dim=None,
                 activation="gelu_approximate", layer_norm_epsilon=1e-6, remat=False,
                 output_tokens=False, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("context_length", context_length)
        check_positive_int("output_dim", output_dim, allow_none=True)
        set_transformer_args(self, hidden_dim, num_layers, num_heads, intermediate_dim,
                             activation, layer_norm_epsilon, remat, output_tokens)
        self.vocabulary_size = vocabulary_size
        self.context_length = context_length
        self.output_dim = output_dim or hidden_dim
        dtype = self.dtype_policy

        # === Layers ===
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, hidden_dim, embeddings_initializer=normal(hidden_dim ** -0.5),
            name="token_embedding", dtype=dtype)
        self.position_embedding = LearnedPositionEmbedding(
            context_length, initializer=normal(hidden_dim ** -0.5),
            name="position_embedding", dtype=dtype)
        self.blocks = encoder_blocks(self)
        self.ln_final = layer_norm(self.layer_norm_epsilon, "ln_final", dtype)
        self.head = keras.layers.Dense(self.output_dim, name="head", dtype=dtype)
        self.build((None, context_length))

    def build(self, input_shape):
        if self.built:
            return
        self.token_embedding.build((None, self.context_length))
        for layer in (self.position_embedding, *self.blocks, self.ln_final):
            layer.build((None, self.context_length, self.hidden_dim))
        self.head.build((None, self.hidden_dim))

    # === Inputs ===

    def _unpack(self, inputs):
        """`(token_ids, padding_mask)` of token ids or a dict, checked."""
        if not isinstance(inputs, dict):
            inputs = {"token_ids": inputs}
        elif "token_ids" not in inputs:
            raise ValueError("inputs must be token ids or a dict with the key "
                             f"'token_ids'. Received: inputs keys={sorted(inputs)}")
        token_ids, padding_mask = inputs["token_ids"], inputs.get("padding_mask")
        self._check_length(token_ids.shape)
        if padding_mask is not None:
            check_mask("padding_mask", padding_mask.shape, tuple(token_ids.shape))
        token_ids = check_token_ids("token_ids", token_ids, self.vocabulary_size)
        return ops.cast(token_ids, "int32"), padding_mask

    def _check_length(self, shape):
        check_rank("token_ids", shape, 2)
        if shape[1] is not None and shape[1] > self.context_length:
            raise ValueError(
                "token_ids must not be longer than context_length. Received: token_ids "
                f"with shape {tuple(shape)}, context_length={self.context_length}")

    # === Forward ===

    def call(self, inputs, training=None):
        token_ids, padding_mask = self._unpack(inputs)
        x = self.token_embedding(token_ids)
        x = x + self.position_embedding(x)
        last = len(self.blocks) - (0 if self.output_tokens else 1)
        for block in self.blocks[:last]:
            x = maybe_remat(block, self.remat)(x, mask=padding_mask, training=training)
        if self.output_tokens:
            tokens = self.ln_final(x)
            return {"pooled": self.head(tokens[:, -1, :]), "tokens": tokens}
        # Only the last position is read: the last block computes it alone.
        batch, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        x = maybe_remat(self.blocks[-1], self.remat)(
            x, mask=padding_mask, training=training,
            query_index=ops.full((batch,), length - 1, dtype="int32"))
        return self.head(self.ln_final(x[:, 0, :]))

    def compute_output_shape(self, input_shape):
        shape = input_shape["token_ids"] if isinstance(input_shape, dict) else input_shape
        self._check_length(shape)
        pooled = (shape[0], self.output_dim)
        if self.output_tokens:
            return {"pooled": pooled, "tokens": (shape[0], shape[1], self.hidden_dim)}
        return pooled

    def get_config(self):
        config = super().get_config()
        config.update({"vocabulary_size": self.vocabulary_size,
                       "context_length": self.context_length,
                       "output_dim": self.output_dim, **transformer_config(self)})
        return config
