"""`TextToImageTransformer`: DALL-E-style text-then-image-token generation over a VQ-VAE."""

import keras
import numpy as np
from keras import ops

from kerasmm.distribute import BuildBeforeTracingMixin
from kerasmm.layers.cached_attention import init_self_attention_cache
from kerasmm.layers.cached_attention import self_attention_step
from kerasmm.layers.self_attention import SelfAttention
from kerasmm.models.generation import GenerationMixin
from kerasmm.models.vqvae.vqvae_model import VQVAE
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank
from kerasmm.utils.checks import check_rate
from kerasmm.utils.tensor_checks import check_token_ids

# Logit of the start-of-image token at sampling time: never drawn.
_NEVER = -1e9


@keras.saving.register_keras_serializable(package="kerasmm")
class TextToImageTransformer(GenerationMixin, BuildBeforeTracingMixin, keras.Model):
    """One causal transformer over `[text tokens ; image codes]` (DALL-E's stage 2).

    A frozen `VQVAE` turns each image into `h * w` codes (raster order).
    Text tokens and image codes have their own embeddings and learned
    positions; the sequence is the text, a start-of-image token (id
    `vqvae.num_embeddings`) and the codes but the last, and the decoder
    predicts each code from everything before it. The loss is built in
    (cross-entropy on the image codes only, averaged over them), so
    `compile(optimizer=...)` and `fit({"images", "token_ids"})` are enough
    (`{"image_codes", "token_ids"}` skips the VQ-VAE encoder when codes are
    precomputed with `vqvae.encode`). Padding text tokens are read as
    tokens, as in DALL-E: train and sample with the same padding.

    `generate_images` samples the codes with `GenerationMixin.generate`
    (one compiled loop, keys and values cached; the text is run once to
    fill the cache) and decodes them with the VQ-VAE.

    Args:
        vqvae: a `kerasmm.models.VQVAE` (trained; it is frozen here).
        vocabulary_size: int, the text vocabulary size.
        context_length: int, the most text tokens.
        hidden_dim: int, the transformer's width.
        num_layers: int, causal self-attention blocks.
        num_heads: int, attention heads.
        intermediate_dim: MLP width (default `4 * hidden_dim`).
        dropout: dropout rate in the blocks.
        layer_norm_epsilon: LayerNorm epsilon.

    Call arguments:
        inputs: dict with `"token_ids"` int `(B, L)`, `L <= context_length`,
            and `"images"` float `(B, H, W, C)` in [-1, 1] or `"image_codes"`
            int `(B, h, w)`.

    Returns:
        `{"logits"}` float32 `(B, h * w, num_embeddings)`, the next-code
        logits at every image position, and `"labels"` int32 `(B, h * w)`.

    Example:
    >>> vqvae = kerasmm.models.VQVAE(image_shape=(8, 8, 1), num_embeddings=16,
    ...                              embedding_dim=4, hidden_dims=(8,))
    >>> model = TextToImageTransformer(vqvae, vocabulary_size=10, context_length=3,
    ...                                hidden_dim=16, num_layers=1, num_heads=2)
    >>> images = model.generate_images(np.array([[1, 2, 3]]), seed=0)
    >>> images.shape
    (1, 8, 8, 1)

    Reference:
        Ramesh et al., "Zero-Shot Text-to-Image Generation", ICML 2021.
    """

    def __init__(self, vqvae, vocabulary_size, context_length, hidden_dim=128,
                 num_layers=4, num_heads=4, intermediate_dim=None, dropout=0.0,
                 layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(vqvae, VQVAE):
            raise ValueError(f"vqvae must be a kerasmm.models.VQVAE. Received: vqvae={vqvae!r}")
        for name, value in (("vocabulary_size", vocabulary_size),
                            ("context_length", context_length), ("hidden_dim", hidden_dim),
                            ("num_layers", num_layers), ("num_heads", num_heads)):
            check_positive_int(name, value)
        check_positive_int("intermediate_dim", intermediate_dim, allow_none=True)
        check_rate("dropout", dropout)
        check_number("layer_norm_epsilon", layer_norm_epsilon, minimum=0.0,
                     exclusive_minimum=True)
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim must be divisible by num_heads. Received: "
                             f"hidden_dim={hidden_dim}, num_heads={num_heads}")
        vqvae.trainable = False
        self.vqvae = vqvae
        self.vocabulary_size = vocabulary_size
        self.context_length = context_length
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.num_codes = vqvae.num_embeddings
        self.num_image_tokens = int(np.prod(vqvae.code_shape))
        # The start-of-image token; the end and pad ids of `generate` too
        # (never sampled, so every row runs to `num_image_tokens`).
        self.start_token_id = self.end_token_id = self.pad_token_id = self.num_codes

        # === Layers ===
        init = keras.initializers.RandomNormal(stddev=0.02)
        self.text_embedding = keras.layers.Embedding(
            vocabulary_size, hidden_dim, embeddings_initializer=init, name="text_embedding")
        self.text_embedding.build((None, None))
        self.image_embedding = keras.layers.Embedding(
            self.num_codes + 1, hidden_dim, embeddings_initializer=init, name="image_embedding")
        self.image_embedding.build((None, None))
        self.text_position = self.add_weight(
            shape=(context_length, hidden_dim), initializer=init, name="text_position")
        self.image_position = self.add_weight(
            shape=(self.num_image_tokens, hidden_dim), initializer=init, name="image_position")
        self.blocks = []
        for i in range(num_layers):
            block = SelfAttention(num_heads, causal=True, intermediate_dim=intermediate_dim,
                                  dropout=dropout, layer_norm_epsilon=layer_norm_epsilon,
                                  name=f"block_{i}")
            block.build((None, None, hidden_dim))
            self.blocks.append(block)
        self.final_norm = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon,
                                                          name="final_norm")
        self.final_norm.build((None, None, hidden_dim))
        self.code_head = keras.layers.Dense(self.num_codes, name="code_head")
        self.code_head.build((None, None, hidden_dim))
        self.code_loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, name="code_loss")
        self.built = True

    def _check_token_ids(self, token_ids):
        check_rank("token_ids", token_ids.shape, 2)
        length = token_ids.shape[1]
        if length is not None and length > self.context_length:
            raise ValueError(f"token_ids must have at most context_length="
                             f"{self.context_length} tokens. Received: token_ids with "
                             f"shape {tuple(token_ids.shape)}")
        return check_token_ids("token_ids", token_ids, self.vocabulary_size)

    def _text_states(self, token_ids):
        x = self.text_embedding(token_ids)
        positions = ops.convert_to_tensor(self.text_position)[: token_ids.shape[1]]
        return x + ops.cast(positions, x.dtype)[None]

    def image_codes(self, inputs):
        """int32 codes `(B, h * w)` of `inputs["image_codes"]` or `inputs["images"]`."""
        if "image_codes" in inputs:
            codes = ops.convert_to_tensor(inputs["image_codes"])
            if tuple(codes.shape[1:]) != self.vqvae.code_shape:
                raise ValueError(f"image_codes must have shape (batch, "
                                 f"{self.vqvae.code_shape[0]}, {self.vqvae.code_shape[1]}). "
                                 f"Received: image_codes with shape {tuple(codes.shape)}")
            codes = check_token_ids("image_codes", codes, self.num_codes)
        else:
            codes = self.vqvae.encode(inputs["images"])
        return ops.reshape(ops.cast(codes, "int32"), (-1, self.num_image_tokens))

    def call(self, inputs, training=None):
        token_ids = self._check_token_ids(ops.convert_to_tensor(inputs["token_ids"]))
        codes = self.image_codes(inputs)
        start = ops.full((ops.shape(codes)[0], 1), self.start_token_id, dtype="int32")
        image_inputs = ops.concatenate([start, codes[:, :-1]], axis=1)
        images = self.image_embedding(image_inputs)
        images = images + ops.cast(self.image_position, images.dtype)[None]
        x = ops.concatenate([self._text_states(token_ids), images], axis=1)
        for block in self.blocks:
            x = block(x, training=training)
        x = self.final_norm(x[:, token_ids.shape[1]:])
        return {"logits": ops.cast(self.code_head(x), "float32"), "labels": codes}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self.code_loss(y_pred["labels"], y_pred["logits"])

    # === Generation (GenerationMixin) ===

    def generation_context(self, token_ids):
        # Runs the text once and keeps each block's keys and values.
        x = self._text_states(ops.cast(token_ids, "int32"))
        text = []
        for block in self.blocks:
            attention = block.attention
            h = block.attention_norm(x)
            text.append({name: self._split_heads(dense(h), attention.num_heads)
                         for name, dense in (("key", attention.key_dense),
                                             ("value", attention.value_dense))})
            x = block(x)
        return {"text": text}

    @staticmethod
    def _split_heads(x, num_heads):
        return ops.reshape(x, (ops.shape(x)[0], x.shape[1], num_heads, x.shape[2] // num_heads))

    def init_cache(self, context, batch_size, max_length):
        if max_length > self.num_image_tokens:
            raise ValueError(f"max_length must be <= the number of image tokens "
                             f"{self.num_image_tokens}. Received: max_length={max_length}")
        cache = []
        for block, text in zip(self.blocks, context["text"]):
            length = text["key"].shape[1] + max_length
            empty = init_self_attention_cache(block, batch_size, length)
            cache.append({name: ops.slice_update(empty[name], (0, 0, 0, 0),
                                                 ops.cast(text[name], empty[name].dtype))
                          for name in ("key", "value")})
        return cache

    def decode_step(self, token_ids, index, cache, context):
        index = ops.cast(index, "int32")
        x = self.image_embedding(token_ids)
        position = ops.slice(ops.convert_to_tensor(self.image_position), (index, 0),
                             (1, self.hidden_dim))
        x = x + ops.cast(position, x.dtype)[None]
        text_length = context["text"][0]["key"].shape[1]
        cache = list(cache)
        for i, block in enumerate(self.blocks):
            x, cache[i] = self_attention_step(block, x, index + text_length, cache[i])
        logits = ops.cast(self.code_head(self.final_norm(x))[:, 0], "float32")
        never = ops.full((ops.shape(logits)[0], 1), _NEVER, dtype="float32")
        return ops.concatenate([logits, never], axis=1), cache

    def generate_images(self, token_ids, temperature=1.0, top_k=None, top_p=None, seed=None):
        """Samples images for a batch of prompts.

        Args:
            token_ids: int `(B, L)` text tokens, `L <= context_length`,
                padded as in training.
            temperature, top_k, top_p: sampling settings of `generate`.
            seed: int for reproducible samples (None: a fresh one).

        Returns:
            float32 NumPy images `(B, H, W, C)` in [-1, 1].
        """
        token_ids = self._check_token_ids(ops.convert_to_tensor(token_ids))
        codes = self.generate(token_ids, max_length=self.num_image_tokens, strategy="sample",
                              temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        codes = codes.reshape((-1, *self.vqvae.code_shape))
        return np.asarray(ops.convert_to_numpy(self.vqvae.decode(codes)), dtype="float32")

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update({
            "vqvae": keras.saving.serialize_keras_object(self.vqvae),
            **{name: getattr(self, name) for name in (
                "vocabulary_size", "context_length", "hidden_dim", "num_layers", "num_heads",
                "intermediate_dim", "dropout", "layer_norm_epsilon")},
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["vqvae"], dict):
            config["vqvae"] = keras.saving.deserialize_keras_object(config["vqvae"])
        return cls(**config)
