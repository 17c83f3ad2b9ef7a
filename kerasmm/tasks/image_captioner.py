"""`ImageCaptioner`: an image tower and a text decoder that writes captions."""

import keras
import numpy as np

from kerasmm.distribute import BuildBeforeTracingMixin
from kerasmm.tasks.blip_generation import BLIPGenerationMixin


def prompt_token_ids(tokenizer, prompts):
    """Each prompt's ids without `[CLS]` and `[SEP]` (what BLIP's `generate`
    continues: Hugging Face's `input_ids[:, 1:-1]`), a list of int32 arrays."""
    ids = np.asarray(tokenizer(list(prompts)))
    end = tokenizer.token_to_id("[SEP]")
    return [row[1:list(row).index(end) if end in row else len(row)].astype("int32")
            for row in ids]


@keras.saving.register_keras_serializable(package="kerasmm")
class ImageCaptioner(BLIPGenerationMixin, BuildBeforeTracingMixin, keras.Model):
    """Captions images: image tokens, then a text decoder attending to them.

    As Hugging Face's `BlipForConditionalGeneration`: `vision_encoder` (a
    `kerasmm.models.BLIPVisionEncoder`) turns images into tokens, which
    every layer of `text_decoder` (a `kerasmm.models.BLIPTextDecoder`)
    cross-attends to. Called on token ids it gives teacher-forced logits
    (training); `generate` decodes new ids (greedy, beam search or
    sampling: `kerasmm.models.generation.GenerationMixin`, one compiled
    loop with a key/value cache, the image keys and values computed once;
    `prompt_token_ids` continues a prompt, as BLIP's conditional
    captioning); `caption` turns pictures into strings through
    `preprocessor` (`prompt="a picture of"` starts each caption).

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

    def caption(self, images, max_length=20, prompt=None, **kwargs):
        """Captions of pictures (uint8 `[0, 255]` or float `[0, 1]`, any size),
        as a list of str: `preprocessor`, `generate(..., **kwargs)`, then
        the ids detokenized.

        `prompt` (a str for every picture, or a list of str, one each)
        starts each caption, which continues it (BLIP's conditional
        captioning, e.g. `"a picture of"`); the prompt is part of the
        returned caption, as Hugging Face decodes it. Pictures whose
        prompts have different token counts are generated apart.
        """
        preprocessor = self._preprocessor()
        pixels = keras.ops.convert_to_numpy(preprocessor({"images": images})["images"])
        if prompt is None:
            return self._texts(self.generate(pixels, max_length=max_length, **kwargs))
        prompts = [prompt] * len(pixels) if isinstance(prompt, str) else list(prompt)
        if len(prompts) != len(pixels) or not all(isinstance(p, str) for p in prompts):
            raise ValueError("prompt must be a str or a list of str, one per image. "
                             f"Received: prompt={prompt!r} for {len(pixels)} images")
        ids = prompt_token_ids(preprocessor.tokenizer, prompts)
        captions = [None] * len(pixels)
        for length in sorted({len(row) for row in ids}):
            rows = [i for i, row in enumerate(ids) if len(row) == length]
            generated = self.generate(pixels[rows], max_length=max_length,
                                      prompt_token_ids=np.stack([ids[i] for i in rows]),
                                      **kwargs)
            for i, text in zip(rows, self._texts(generated)):
                captions[i] = text
        return captions
