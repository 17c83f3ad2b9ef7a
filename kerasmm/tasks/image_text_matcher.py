"""`ImageTextMatcher`: does this text describe this image? (ITM and ITC heads)."""

import keras
from keras import ops

from kerasmm.distribute import BuildBeforeTracingMixin
from kerasmm.models.blip import BLIP_PRESETS
from kerasmm.models.clip.clip_utils import l2_normalize
from kerasmm.presets import PresetMixin
from kerasmm.utils.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasmm")
class ImageTextMatcher(PresetMixin, BuildBeforeTracingMixin, keras.Model):
    """Image-text matching on a fusion backbone, with an optional contrastive head.

    The matching (ITM) head is a Dense layer to 2 logits (no match, match)
    on the backbone's `"pooled_output"` (the fused first token). With
    `embedding_dim`, two projections of the backbone's unimodal features
    (`encode_image`, `encode_text`) give the contrastive (ITC) similarity:
    cosines of the L2-normalised projections, as Hugging Face's
    `BlipForImageTextRetrieval` with `use_itm_head=False` (no temperature).

    `ImageTextMatcher.from_preset("blip_itm_base_coco")` (or a Hugging Face
    `BlipForImageTextRetrieval` directory) loads BLIP's over a
    `kerasmm.models.BLIPBackbone`.

    Args:
        backbone: a fusion model: `backbone(inputs)` returns a dict with
            `"pooled_output"` `(B, backbone.hidden_dim)`; for `embedding_dim`
            also `encode_image(images)` `(B, backbone.image_dim)` and
            `encode_text(inputs)` `(B, backbone.text_dim)`.
        embedding_dim: int, width of the contrastive embeddings, or None
            (no contrastive head).

    Call arguments:
        inputs: what the backbone takes (BLIP: `"images"`, `"token_ids"`,
            optional `"padding_mask"`).

    Returns:
        float32 logits `(B, 2)`; `softmax(...)[:, 1]` is the match probability.

    Example:
    >>> from kerasmm.models import BLIPBackbone, BLIPTextEncoder, BLIPVisionEncoder
    >>> matcher = ImageTextMatcher(BLIPBackbone(
    ...     BLIPVisionEncoder(image_size=16, patch_size=8, hidden_dim=8, num_layers=1,
    ...                       num_heads=2, intermediate_dim=16),
    ...     BLIPTextEncoder(vocabulary_size=20, hidden_dim=8, num_layers=1, num_heads=2,
    ...                     intermediate_dim=16, max_sequence_length=8,
    ...                     cross_attention_dim=8)), embedding_dim=4)
    >>> inputs = {"images": np.zeros((2, 16, 16, 3), "float32"),
    ...           "token_ids": np.array([[2, 7, 3], [2, 9, 3]])}
    >>> tuple(matcher(inputs).shape), tuple(matcher.similarity(inputs).shape)
    ((2, 2), (2, 2))
    """

    family_presets = BLIP_PRESETS

    def __init__(self, backbone, embedding_dim=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(backbone, keras.layers.Layer) or not hasattr(backbone, "hidden_dim"):
            raise TypeError("backbone must be a Keras model with a hidden_dim (the width of "
                            f"its pooled_output). Received: {type(backbone).__name__}")
        self.backbone = backbone
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim,
                                                allow_none=True)
        dtype = self.dtype_policy
        self.itm_head = keras.layers.Dense(2, name="itm_head", dtype=dtype)
        self.itm_head.build((None, backbone.hidden_dim))
        self.image_projection = self.text_projection = None
        if embedding_dim is not None:
            self.image_projection = keras.layers.Dense(embedding_dim, name="image_projection",
                                                       dtype=dtype)
            self.image_projection.build((None, backbone.image_dim))
            self.text_projection = keras.layers.Dense(embedding_dim, name="text_projection",
                                                      dtype=dtype)
            self.text_projection.build((None, backbone.text_dim))
        self.built = True

    def call(self, inputs, training=None):
        pooled = self.backbone(inputs, training=training)["pooled_output"]
        return ops.cast(self.itm_head(pooled), "float32")

    def match_probability(self, inputs):
        """`(B,)`: the probability that each text describes its image."""
        return ops.softmax(self(inputs), axis=-1)[:, 1]

    def _check_contrastive(self):
        if self.embedding_dim is None:
            raise ValueError("This ImageTextMatcher has no contrastive head "
                             "(embedding_dim=None)")

    def encode_image(self, images):
        """`(B, embedding_dim)` L2-normalised image embeddings."""
        self._check_contrastive()
        return l2_normalize(self.image_projection(self.backbone.encode_image(images)))

    def encode_text(self, inputs):
        """`(B, embedding_dim)` L2-normalised text embeddings."""
        self._check_contrastive()
        return l2_normalize(self.text_projection(self.backbone.encode_text(inputs)))

    def similarity(self, inputs):
        """`(images, texts)` cosine similarities of `inputs["images"]` and the
        texts of `inputs` (Hugging Face's `itm_score` with `use_itm_head=False`)."""
        images = self.encode_image(inputs["images"])
        return ops.matmul(images, ops.transpose(self.encode_text(inputs)))

    def get_config(self):
        config = super().get_config()
        config.update({"backbone": keras.saving.serialize_keras_object(self.backbone),
                       "embedding_dim": self.embedding_dim})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["backbone"], dict):
            config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
