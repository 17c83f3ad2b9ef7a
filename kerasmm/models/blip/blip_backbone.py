"""BLIP's image-grounded text encoder: the backbone of image-text matching."""

import keras

from kerasmm.models.blip.blip_text_encoder import BLIPTextEncoder
from kerasmm.models.blip.blip_vision_encoder import BLIPVisionEncoder


def check_tower(name, value, cls):
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__}. "
                        f"Received: {name} of type {type(value).__name__}")


def check_cross_width(text_name, text, vision):
    """The text tower's cross-attention must read the vision tokens' width."""
    if text.cross_attention_dim != vision.hidden_dim:
        raise ValueError(
            f"{text_name}.cross_attention_dim must equal vision_encoder.hidden_dim. "
            f"Received: {text.cross_attention_dim} and {vision.hidden_dim}")


def text_inputs(inputs):
    """`{"token_ids", "padding_mask"}` of a dict that may hold more."""
    return {key: inputs[key] for key in ("token_ids", "padding_mask") if key in inputs}


@keras.saving.register_keras_serializable(package="kerasmm")
class BLIPBackbone(keras.Model):
    """BLIP's fusion backbone: a text encoder cross-attending to image tokens.

    The image tokens of `vision_encoder` (a `BLIPVisionEncoder`) are read
    by every layer of `text_encoder` (a `BLIPTextEncoder` with
    `cross_attention_dim` the vision width), as Hugging Face's
    `BlipForImageTextRetrieval` with `use_itm_head=True`. Its unimodal
    features (`encode_image`, `encode_text`: the first token of each tower
    alone) are what BLIP's image-text contrastive head projects.

    Args:
        vision_encoder: a `BLIPVisionEncoder`.
        text_encoder: a `BLIPTextEncoder` with cross-attention.

    Call arguments:
        inputs: a dict with `"images"` `(B, H, W, 3)`, `"token_ids"` int
            `(B, L)` and optionally `"padding_mask"` bool `(B, L)`.

    Returns:
        A dict: `"sequence_output"` `(B, L, text width)`, the fused tokens,
        and `"pooled_output"` `(B, text width)`, the first of them.

    Example:
    >>> backbone = BLIPBackbone(
    ...     BLIPVisionEncoder(image_size=16, patch_size=8, hidden_dim=8, num_layers=1,
    ...                       num_heads=2, intermediate_dim=16),
    ...     BLIPTextEncoder(vocabulary_size=30, hidden_dim=8, num_layers=1, num_heads=2,
    ...                     intermediate_dim=16, max_sequence_length=8,
    ...                     cross_attention_dim=8))
    >>> outputs = backbone({"images": np.zeros((2, 16, 16, 3), "float32"),
    ...                     "token_ids": np.array([[1, 4, 2], [1, 5, 2]])})
    >>> tuple(outputs["pooled_output"].shape)
    (2, 8)
    """

    def __init__(self, vision_encoder, text_encoder, **kwargs):
        super().__init__(**kwargs)
        check_tower("vision_encoder", vision_encoder, BLIPVisionEncoder)
        check_tower("text_encoder", text_encoder, BLIPTextEncoder)
        check_cross_width("text_encoder", text_encoder, vision_encoder)
        self.vision_encoder = vision_encoder
        self.text_encoder = text_encoder
        self.built = True

    @property
    def hidden_dim(self):
        """Width of `pooled_output`."""
        return self.text_encoder.hidden_dim

    @property
    def image_dim(self):
        """Width of `encode_image`'s features."""
        return self.vision_encoder.hidden_dim

    @property
    def text_dim(self):
        """Width of `encode_text`'s features."""
        return self.text_encoder.hidden_dim

    def call(self, inputs, training=None):
        image_tokens = self.vision_encoder(inputs["images"], training=training)
        sequence = self.text_encoder({**text_inputs(inputs), "encoder_tokens": image_tokens},
                                     training=training)
        return {"sequence_output": sequence, "pooled_output": sequence[:, 0, :]}

    def encode_image(self, images, training=None):
        """`(B, image_dim)`: the class token of the image tokens."""
        return self.vision_encoder(images, training=training)[:, 0, :]

    def encode_text(self, inputs, training=None):
        """`(B, text_dim)`: the first token of the text encoder run without
        the image (`inputs`: `"token_ids"`, optional `"padding_mask"`)."""
        return self.text_encoder(text_inputs(inputs), training=training)[:, 0, :]

    def compute_output_spec(self, inputs, training=None):
        batch, length = inputs["token_ids"].shape[:2]
        width = self.hidden_dim
        return {"sequence_output": keras.KerasTensor((batch, length, width)),
                "pooled_output": keras.KerasTensor((batch, width))}

    def get_config(self):
        config = super().get_config()
        config.update({"vision_encoder": keras.saving.serialize_keras_object(self.vision_encoder),
                       "text_encoder": keras.saving.serialize_keras_object(self.text_encoder)})
        return config

    @classmethod
    def from_config(cls, config):
        towers = {key: keras.saving.deserialize_keras_object(config[key])
                  for key in ("vision_encoder", "text_encoder")
                  if isinstance(config[key], dict)}
        return cls(**{**config, **towers})
