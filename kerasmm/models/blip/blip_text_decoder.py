"""BLIP's BERT text decoder with its language-model head (HF `BlipTextLMHeadModel`)."""

import keras
from keras import ops

from kerasmm.layers.activations import get_activation
from kerasmm.models.blip.blip_text_encoder import BLIPTextEncoder
from kerasmm.models.clip.clip_utils import layer_norm


@keras.saving.register_keras_serializable(package="kerasmm")
class BLIPTextDecoder(BLIPTextEncoder):
    """BLIP's causal BERT with cross-attention and a tied language-model head.

    A `BLIPTextEncoder` whose self-attention is causal, followed by BERT's
    prediction head as Hugging Face's `BlipTextLMHeadModel` has it: Dense,
    activation, LayerNorm, then the token embedding transposed (tied, as
    in every BLIP checkpoint) plus a bias, giving next-token logits.

    `cross_cache`, `init_cache` and `decode_step` run it one token at a
    time with a key/value cache (what `generate` of the BLIP tasks uses):
    the cross-attention keys and values of the encoder tokens are computed
    once, each step only embeds its token and attends to the cached keys.

    Args: those of `BLIPTextEncoder` (`cross_attention_dim` is required in
    practice: the decoder attends to image or question tokens).

    Call arguments: those of `BLIPTextEncoder`.

    Returns:
        float32 logits `(B, L, vocabulary_size)`; position `i` predicts
        token `i + 1`.

    Example:
    >>> decoder = BLIPTextDecoder(vocabulary_size=50, hidden_dim=16, num_layers=1,
    ...                           num_heads=2, intermediate_dim=32,
    ...                           max_sequence_length=8, cross_attention_dim=12)
    >>> logits = decoder({"token_ids": np.array([[48, 5, 7]]),
    ...                   "encoder_tokens": np.zeros((1, 3, 12), "float32")})
    >>> tuple(logits.shape)
    (1, 3, 50)
    """

    causal = True

    def build(self, input_shape=None):
        if self.built:
            return
        dtype = self.dtype_policy
        self.head_dense = keras.layers.Dense(self.hidden_dim, name="head_dense", dtype=dtype)
        self.head_dense.build((None, None, self.hidden_dim))
        self.head_norm = layer_norm(self.layer_norm_epsilon, "head_norm", dtype)
        self.head_norm.build((None, None, self.hidden_dim))
        self.head_bias = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros",
                                         name="head_bias")
        super().build(input_shape)

    def logits(self, x):
        """Next-token logits (float32) of decoder outputs `(..., hidden_dim)`."""
        x = self.head_norm(get_activation(self.activation)(self.head_dense(x)))
        table = ops.cast(self.token_embedding.embeddings, x.dtype)
        # Contracting the table's last axis: no transposed copy of it per step.
        logits = ops.einsum("...d,vd->...v", x, table) + ops.cast(self.head_bias, x.dtype)
        return ops.cast(logits, "float32")

    def call(self, inputs, training=None):
        return self.logits(super().call(inputs, training=training))

    # === Cached decoding ===

    def cross_cache(self, encoder_tokens, encoder_mask=None):
        """What every step reads of the encoder tokens: each layer's
        cross-attention keys and values and the `(B, M)` bool mask."""
        encoder_tokens = ops.cast(encoder_tokens, self.compute_dtype)
        if encoder_mask is None:
            encoder_mask = ops.ones(ops.shape(encoder_tokens)[:2], dtype="bool")
        pairs = [block.cross_key_values(encoder_tokens) for block in self.blocks]
        return {"cross_keys": tuple(k for k, _ in pairs),
                "cross_values": tuple(v for _, v in pairs),
                "encoder_mask": ops.cast(encoder_mask, "bool")}

    def init_cache(self, batch_size, max_length):
        """Zeros for each layer's self-attention keys and values,
        `(batch_size, num_heads, max_length, head_dim)`."""
        if max_length > self.max_sequence_length:
            raise ValueError(f"max_length (new tokens plus any prompt's) must not exceed "
                             f"max_sequence_length. Received: max_length={max_length}, "
                             f"max_sequence_length={self.max_sequence_length}")
        shape = (batch_size, self.num_heads, max_length, self.hidden_dim // self.num_heads)
        zeros = tuple(ops.zeros(shape, self.compute_dtype) for _ in self.blocks)
        return {"keys": zeros, "values": zeros}

    def decode_step(self, token_ids, index, cache, cross):
        """Logits `(B, vocabulary_size)` after `token_ids` `(B, 1)` at
        position `index`, and the cache with that position written."""
        index = ops.cast(index, "int32")
        x = self.embed(token_ids, start=index)
        keys, values = list(cache["keys"]), list(cache["values"])
        for i, block in enumerate(self.blocks):
            layer_cross = None
            if cross is not None:
                layer_cross = (cross["cross_keys"][i], cross["cross_values"][i],
                               cross["encoder_mask"])
            x, keys[i], values[i] = block.decode_step(x, index, keys[i], values[i],
                                                      layer_cross)
        return self.logits(x[:, 0, :]), {"keys": tuple(keys), "values": tuple(values)}
