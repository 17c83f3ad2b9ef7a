"""CoCa: a contrastive image-text model that also captions (open_clip's CoCa)."""

import keras
from keras import ops

from kerasmm.distribute import BuildBeforeTracingMixin
from kerasmm.layers import CrossAttention
from kerasmm.layers import SelfAttention
from kerasmm.layers.attentional_pooler import AttentionalPooler
from kerasmm.losses import ContrastiveLossMixin
from kerasmm.models.clip.clip_utils import l2_normalize
from kerasmm.models.coca.coca_generation import CoCaGenerationMixin
from kerasmm.models.coca.coca_generation import check_preprocessor
from kerasmm.models.coca.coca_presets import COCA_PRESETS
from kerasmm.models.coca.coca_vision import as_tokens
from kerasmm.models.coca.coca_vision import check_vision_inputs
from kerasmm.models.coca.coca_vision import token_width
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rate
from kerasmm.utils.constants import LOGIT_SCALE_INIT


def caption_mask(token_ids, end_token_id, pad_token_id):
    """True up to and including the first end token, False on padding after it."""
    is_end = token_ids == end_token_id
    ends = ops.cast(is_end, "int32")
    no_end_before = (ops.cumsum(ends, axis=1) - ends) == 0
    return ops.logical_and(no_end_before,
                           ops.logical_or(token_ids != pad_token_id, is_end))


@keras.saving.register_keras_serializable(package="kerasmm")
class CoCa(CoCaGenerationMixin, ContrastiveLossMixin, BuildBeforeTracingMixin, keras.Model):
    """Contrastive Captioner: CLIP-style embeddings plus an image-conditioned decoder.

    As open_clip's `CoCa`: the image tokens of `vision_encoder` are pooled by
    two `AttentionalPooler`s, one query for the contrastive image embedding
    and `num_caption_queries` queries the decoder cross-attends to. Text goes
    through `num_unimodal_layers` causal blocks with a learned CLS token
    appended at the end, whose output gives the contrastive text embedding;
    the other positions continue through `num_multimodal_layers` blocks
    (causal self-attention, then cross-attention to the caption queries) to
    next-token logits. `fit` on `{"images", "token_ids"}` (start, words,
    end, padding) with `kerasmm.losses.CoCaLoss`: the decoder reads
    `token_ids[:, :-1]` and is trained to predict `token_ids[:, 1:]`.
    `generate(images, ...)` decodes with a key/value cache in one compiled
    loop (`kerasmm.models.generation.GenerationMixin`); `caption(pictures)`
    returns strings through `preprocessor`.

    Args:
        vision_encoder: a kerasmm image tower built with `output_tokens=True`
            (its `"tokens"` are used) or any Keras model mapping images to
            tokens `(B, N, D)` or vectors `(B, D)` (one token).
        vocabulary_size, context_length: the token ids' vocabulary and
            longest length (start and end included).
        hidden_dim: width of the text blocks and poolers.
        num_unimodal_layers, num_multimodal_layers: text block counts.
        num_heads: attention heads everywhere.
        output_dim: width of the contrastive embeddings.
        start_token_id, end_token_id, pad_token_id: special token ids.
        num_caption_queries: captioning queries of the pooler (open_clip: 256).
        intermediate_dim: MLP width (default `4 * hidden_dim`).
        activation, dropout, layer_norm_epsilon: of the blocks.
        logit_scale_init: initial log inverse temperature.
        shared_pooler: False: two poolers as above (the CoCa paper). True:
            open_clip's released layout, one pooler of `1 + num_caption_queries`
            queries whose first output gives the contrastive embedding, the
            rest the caption queries, all normalised by `image_norm`
            (`caption_pooler` holds it; no `contrastive_pooler` and
            `caption_norm`).
        pooler_num_heads: heads of the poolers (default `num_heads`;
            open_clip's `attn_pooler_heads`).
        text_mask: which text positions the unimodal blocks attend to.
            `"end_token"`: the start token, then up to and including the
            first end token, and CLS. `"open_clip"`: open_clip's CoCa text
            mask (`correct_cls_mask=False`, as every released CoCa was
            trained), shifted one position late: position 0 always, position
            `k > 0` (CLS included) unless token `k - 1` is `pad_token_id`;
            `generate` keeps it too (a generated `pad_token_id` before the
            end token is hidden from later positions, as open_clip does).
        preprocessor: optional `kerasmm.models.CoCaPreprocessor`, for
            `caption` (`from_preset` loads the preset's).

    Call arguments:
        inputs: dict `{"images": float (B, H, W, C), "token_ids": int (B, L)}`.

    Returns:
        dict: `"image_embeddings"`, `"text_embeddings"` (L2-normalised
        float32 `(B, output_dim)`), `"logit_scale"`, `"caption_logits"`
        `(B, L - 1, V)`, `"caption_labels"` (`token_ids[:, 1:]`) and
        `"caption_mask"` (bool, True on labels up to the first end token).

    Example:
    >>> coca = kerasmm.models.CoCa(
    ...     keras.Sequential([keras.layers.Conv2D(8, 4, strides=4),
    ...                       keras.layers.Reshape((16, 8))]),
    ...     vocabulary_size=20, context_length=8, hidden_dim=16,
    ...     num_unimodal_layers=1, num_multimodal_layers=1, num_heads=2,
    ...     output_dim=8, start_token_id=1, end_token_id=2, pad_token_id=0)
    >>> images = np.random.default_rng(0).normal(size=(2, 16, 16, 3))
    >>> outputs = coca({"images": images, "token_ids": np.ones((2, 8), "int32")})
    >>> tuple(outputs["caption_logits"].shape)
    (2, 7, 20)
    >>> coca.generate(images, max_length=5).shape[0]
    2

    Presets: `CoCa.from_preset` loads open_clip CoCa checkpoint directories
    (`open_clip_config.json` with a `multimodal_cfg`, see
    `kerasmm.convert.open_clip_coca`) and the names in `CoCa.presets`,
    with the preset's `CoCaPreprocessor` (CLIP's BPE from the checkpoint's
    `vocab.json` and `merges.txt`) as `preprocessor`:
    `CoCa.from_preset(directory).caption(pictures)` gives strings.

    Reference:
        Yu et al., "CoCa: Contrastive Captioners are Image-Text Foundation
        Models", 2022; open_clip `coca_model.py`.
    """

    family_presets = COCA_PRESETS

    def __init__(self, vision_encoder, vocabulary_size, context_length, hidden_dim,
                 num_unimodal_layers, num_multimodal_layers, num_heads, output_dim,
                 start_token_id, end_token_id, pad_token_id, num_caption_queries=32,
                 intermediate_dim=None, activation="gelu", dropout=0.0,
                 layer_norm_epsilon=1e-5, logit_scale_init=LOGIT_SCALE_INIT,
                 shared_pooler=False, pooler_num_heads=None, text_mask="end_token",
                 preprocessor=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("vocabulary_size", vocabulary_size),
                            ("context_length", context_length), ("hidden_dim", hidden_dim),
                            ("num_unimodal_layers", num_unimodal_layers),
                            ("num_multimodal_layers", num_multimodal_layers),
                            ("num_heads", num_heads), ("output_dim", output_dim),
                            ("num_caption_queries", num_caption_queries)):
            check_positive_int(name, value)
        if context_length < 2:
            raise ValueError("context_length must be >= 2 (a start token and one more). "
                             f"Received: context_length={context_length}")
        for name, value in (("start_token_id", start_token_id),
                            ("end_token_id", end_token_id), ("pad_token_id", pad_token_id)):
            check_int(name, value, minimum=0)
            if value >= vocabulary_size:
                raise ValueError(f"{name} must be < vocabulary_size={vocabulary_size}. "
                                 f"Received: {name}={value}")
        check_rate("dropout", dropout)
        check_positive_int("pooler_num_heads", pooler_num_heads, allow_none=True)
        self.shared_pooler = check_bool("shared_pooler", shared_pooler)
        self.pooler_num_heads = pooler_num_heads
        self.text_mask = check_choice("text_mask", text_mask, ("end_token", "open_clip"))
        self.vision_encoder = vision_encoder
        self.vocabulary_size = vocabulary_size
        self.context_length = context_length
        self.hidden_dim = hidden_dim
        self.num_unimodal_layers = num_unimodal_layers
        self.num_multimodal_layers = num_multimodal_layers
        self.num_heads = num_heads
        self.output_dim = output_dim
        self.start_token_id = start_token_id
        self.end_token_id = end_token_id
        self.pad_token_id = pad_token_id
        self.num_caption_queries = num_caption_queries
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.logit_scale_init = check_number("logit_scale_init", logit_scale_init)
        self.preprocessor = check_preprocessor(preprocessor, self)

        # === Layers ===
        tokens_shape = (None, None, token_width(vision_encoder))
        text_shape = (None, None, hidden_dim)
        pooler_heads = pooler_num_heads or num_heads
        self.contrastive_pooler = None
        if not self.shared_pooler:
            self.contrastive_pooler = self._built(AttentionalPooler(
                hidden_dim, pooler_heads, 1, layer_norm_epsilon,
                name="contrastive_pooler", dtype=self.dtype_policy), tokens_shape)
        self.caption_pooler = self._built(AttentionalPooler(
            hidden_dim, pooler_heads, num_caption_queries + int(self.shared_pooler),
            layer_norm_epsilon, name="caption_pooler", dtype=self.dtype_policy), tokens_shape)
        self.image_norm = self._norm("image_norm")
        self.caption_norm = None if self.shared_pooler else self._norm("caption_norm")
        self.image_projection = self._dense(output_dim, "image_projection")
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, hidden_dim, name="token_embedding", dtype=self.dtype_policy,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.token_embedding.build((None, None))
        # context_length + 1 rows: `encode_text` appends CLS after a full sequence.
        self.position_embedding = self.add_weight(
            shape=(context_length + 1, hidden_dim), name="position_embedding",
            initializer=keras.initializers.RandomNormal(stddev=0.01))
        self.cls_embedding = self.add_weight(
            shape=(hidden_dim,), name="cls_embedding",
            initializer=keras.initializers.RandomNormal(stddev=0.01))
        block_args = {"intermediate_dim": intermediate_dim, "activation": activation,
                      "dropout": dropout, "layer_norm_epsilon": layer_norm_epsilon,
                      "dtype": self.dtype_policy}
        self.unimodal_blocks = [
            self._built(SelfAttention(num_heads, causal=True, name=f"unimodal_{i}",
                                      **block_args), text_shape)
            for i in range(num_unimodal_layers)]
        self.text_norm = self._norm("text_norm")
        self.text_projection = self._dense(output_dim, "text_projection")
        self.decoder_self_blocks = [
            self._built(SelfAttention(num_heads, causal=True, name=f"decoder_self_{i}",
                                      **block_args), text_shape)
            for i in range(num_multimodal_layers)]
        self.decoder_cross_blocks = []
        for i in range(num_multimodal_layers):
            block = CrossAttention(num_heads, qk_channels=hidden_dim, name=f"decoder_cross_{i}",
                                   **block_args)
            block.build(text_shape, text_shape)
            self.decoder_cross_blocks.append(block)
        self.decoder_norm = self._norm("decoder_norm")
        self.vocabulary_projection = self._dense(vocabulary_size, "vocabulary_projection")
        # autocast=False: the temperature stays float32 under mixed precision.
        self.logit_scale = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.logit_scale_init),
            name="logit_scale", autocast=False)
        self.built = True

    @staticmethod
    def _built(layer, shape):
        layer.build(shape)
        return layer

    def _norm(self, name):
        return self._built(keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name=name, dtype=self.dtype_policy),
            (None, None, self.hidden_dim))

    def _dense(self, units, name):
        return self._built(keras.layers.Dense(units, use_bias=False, name=name,
                                              dtype=self.dtype_policy), (None, self.hidden_dim))

    # === Image side ===

    def _image_features(self, images, training=False):
        """(L2-normalised image embeddings, caption queries `(B, Q, hidden_dim)`)."""
        images = ops.convert_to_tensor(images)
        check_vision_inputs(self.vision_encoder, images)
        tokens = as_tokens(self.vision_encoder(images, training=training))
        if self.shared_pooler:  # open_clip: query 0 is the contrastive one.
            queries = self.image_norm(self.caption_pooler(tokens))
            pooled, caption_queries = queries[:, 0], queries[:, 1:]
        else:
            pooled = self.image_norm(self.contrastive_pooler(tokens)[:, 0])
            caption_queries = self.caption_norm(self.caption_pooler(tokens))
        return l2_normalize(self.image_projection(pooled)), caption_queries

    def encode_image(self, images, training=False):
        """L2-normalised float32 image embeddings `(batch, output_dim)`."""
        return self._image_features(images, training)[0]

    # === Text side ===

    def _unimodal(self, token_ids, training=False):
        """Unimodal text states `(B, L + 1, hidden_dim)`, CLS last."""
        token_ids = ops.cast(ops.convert_to_tensor(token_ids), "int32")
        length = token_ids.shape[1]
        if length is not None and length > self.context_length:
            raise ValueError(f"token_ids must have length <= context_length="
                             f"{self.context_length}. Received: length {length}")
        x = self.token_embedding(token_ids)
        cls = ops.broadcast_to(ops.cast(self.cls_embedding, x.dtype)[None, None],
                               (ops.shape(x)[0], 1, self.hidden_dim))
        x = ops.concatenate([x, cls], axis=1)
        x = x + ops.cast(self.position_embedding[:length + 1], x.dtype)[None]
        ones = ops.ones_like(token_ids[:, :1], dtype="bool")
        if self.text_mask == "open_clip":  # [True, ids != pad]: one position late.
            mask = ops.concatenate([ones, token_ids != self.pad_token_id], axis=1)
        else:
            rest = caption_mask(token_ids[:, 1:], self.end_token_id, self.pad_token_id)
            mask = ops.concatenate([ones, rest, ones], axis=1)
        for block in self.unimodal_blocks:
            x = block(x, mask=mask, training=training)
        return x

    def _text_embeddings(self, states):
        return l2_normalize(self.text_projection(self.text_norm(states[:, -1])))

    def encode_text(self, token_ids, training=False):
        """L2-normalised float32 text embeddings from the CLS token `(batch, output_dim)`."""
        return self._text_embeddings(self._unimodal(token_ids, training))

    def _decode(self, states, caption_queries, training=False):
        for self_block, cross_block in zip(self.decoder_self_blocks, self.decoder_cross_blocks):
            states = self_block(states, training=training)
            states = cross_block(states, caption_queries, training=training)
        return ops.cast(self.vocabulary_projection(self.decoder_norm(states)), "float32")

    # === Forward ===

    def call(self, inputs, training=None):
        if not isinstance(inputs, dict) or not {"images", "token_ids"} <= set(inputs):
            received = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError("inputs must be a dict with the keys 'images' and 'token_ids'. "
                             f"Received: {received}")
        token_ids = ops.cast(ops.convert_to_tensor(inputs["token_ids"]), "int32")
        image_embeddings, caption_queries = self._image_features(inputs["images"], training)
        states = self._unimodal(token_ids[:, :-1], training)
        labels = token_ids[:, 1:]
        return {
            "image_embeddings": image_embeddings,
            "text_embeddings": self._text_embeddings(states),
            "logit_scale": ops.convert_to_tensor(self.logit_scale),
            "caption_logits": self._decode(states[:, :-1], caption_queries, training),
            "caption_labels": labels,
            "caption_mask": caption_mask(labels, self.end_token_id, self.pad_token_id),
        }

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update({
            "vision_encoder": keras.saving.serialize_keras_object(self.vision_encoder),
            **{name: getattr(self, name) for name in (
                "vocabulary_size", "context_length", "hidden_dim", "num_unimodal_layers",
                "num_multimodal_layers", "num_heads", "output_dim", "start_token_id",
                "end_token_id", "pad_token_id", "num_caption_queries", "intermediate_dim",
                "activation", "dropout", "layer_norm_epsilon", "logit_scale_init",
                "shared_pooler", "pooler_num_heads", "text_mask")},
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["vision_encoder"], dict):
            config["vision_encoder"] = keras.saving.deserialize_keras_object(
                config["vision_encoder"])
        return cls(**config)
