"""`ImageCaptioner`: an image tower and a text decoder that writes captions."""

import keras

from kerasmm.tasks.blip_generation import BLIPGenerationMixin


@keras.saving.register_keras_serializable(package="kerasmm")
class ImageCaptioner(BLIPGenerationMixin, keras.Model):
    """Captions images: image tokens, then a text decoder attending to them.

    As Hugging Face's `BlipForConditionalGeneration`: `vision_encoder` (a
    `kerasmm.models.BLIPVisionEncoder`) turns images into tokens, which
    every layer of `text_decoder` (a `kerasmm.models.BLIPTextDecoder`)
    cross-attends to. Called on token ids it gives teacher-forced logits
    (training); `generate` decodes new ids (greedy, beam search or
    sampling: `kerasmm.models.generation.GenerationMixin`, one compiled
    loop with a key/value cache, the image keys and values computed once);
    `caption` turns pictures into strings through `preprocessor`.

    `ImageCaptioner.from_preset("blip_captioning_base")` (or a Hugging Face
    BLIP captioning checkpoint directory) loads BLIP's weights and its
    `BLIPPreprocessor`.

    Args:
        vision_encoder: a `BLIPVisionEncoder`.
        text_decoder: a `BLIPTextDecoder` whose `cross_attention_dim` is
            the vision width.
        start_token_id: int, the decoder's first token (BLIP: `[DEC]`).
        end_token_id: int, the token that ends a caption (BLIP: `[SEP]`).
        pad_token_id: int, written after the end token.
        preprocessor: optional `kerasmm.models.BLIPPreprocessor`, for
            `caption`.

    Call arguments:
        inputs: a dict with `"images"` `(B, H, W, 3)` (preprocessed),
            `"token_ids"` int `(B, L)` (starting with `start_token_id`, as
            BLIP trains) and optionally `"padding_mask"` bool `(B, L)`.
        training: Python bool.

    Returns:
        float32 logits `(B, L, vocabulary_size)`; position `i` predicts
        token `i + 1`.

    Example:
    >>> from kerasmm.models import BLIPTextDecoder, BLIPVisionEncoder
    >>> captioner = ImageCaptioner(
    ...     BLIPVisionEncoder(image_size=16, patch_size=8, hidden_dim=8, num_layers=1,
    ...                       num_heads=2, intermediate_dim=16),
    ...     BLIPTextDecoder(vocabulary_size=20, hidden_dim=8, num_layers=1, num_heads=2,
    ...                     intermediate_dim=16, max_sequence_length=8,
    ...                     cross_attention_dim=8),
    ...     start_token_id=18, end_token_id=3, pad_token_id=0)
    >>> images = np.zeros((2, 16, 16, 3), "float32")
    >>> tuple(captioner({"images": images, "token_ids": np.array([[18, 5], [18, 6]])}).shape)
    (2, 2, 20)
    """

    def __init__(self, vision_encoder, text_decoder, start_token_id, end_token_id,
                 pad_token_id, preprocessor=None, **kwargs):
        super().__init__(**kwargs)
        self._set_towers({"vision_encoder": vision_encoder, "text_decoder": text_decoder},
                         {"start_token_id": start_token_id, "end_token_id": end_token_id,
                          "pad_token_id": pad_token_id}, preprocessor)
        if text_decoder.cross_attention_dim != vision_encoder.hidden_dim:
            raise ValueError(
                "text_decoder.cross_attention_dim must equal vision_encoder.hidden_dim. "
                f"Received: {text_decoder.cross_attention_dim} and {vision_encoder.hidden_dim}")

    def call(self, inputs, training=None):
        image_tokens = self.vision_encoder(inputs["images"], training=training)
        text = {key: inputs[key] for key in ("token_ids", "padding_mask") if key in inputs}
        return self.text_decoder({**text, "encoder_tokens": image_tokens}, training=training)

    def generation_context(self, images):
        """The decoder's cross-attention keys and values of the image tokens."""
        return self.text_decoder.cross_cache(self.vision_encoder(images))

    def caption(self, images, max_length=20, **kwargs):
        """Captions of pictures (uint8 `[0, 255]` or float `[0, 1]`, any size),
        as a list of str: `preprocessor`, `generate(..., **kwargs)`, then
        the ids detokenized."""
        pixels = self._preprocessor()({"images": images})["images"]
        return self._texts(self.generate(pixels, max_length=max_length, **kwargs))
