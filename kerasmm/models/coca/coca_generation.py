"""CoCa's cached decoding (open_clip's text mask included), captions and presets."""

import keras
from keras import ops

from kerasmm.layers.cached_attention import cross_attention_keys
from kerasmm.layers.cached_attention import cross_attention_step
from kerasmm.layers.cached_attention import init_self_attention_cache
from kerasmm.layers.cached_attention import self_attention_step
from kerasmm.models.coca.coca_preprocessor import CoCaPreprocessor
from kerasmm.models.generation import GenerationMixin
from kerasmm.presets import PresetMixin


def check_preprocessor(preprocessor, model):
    """None or a `CoCaPreprocessor` (a Keras config dict is deserialized)
    whose tokenizer's ids are the model's."""
    if isinstance(preprocessor, dict):
        preprocessor = keras.saving.deserialize_keras_object(preprocessor)
    if preprocessor is not None and not isinstance(preprocessor, CoCaPreprocessor):
        raise TypeError("preprocessor must be a CoCaPreprocessor or None. Received: "
                        f"preprocessor of type {type(preprocessor).__name__}")
    tokenizer = getattr(preprocessor, "tokenizer", None)
    if tokenizer is not None:
        received = (tokenizer.start_token_id, tokenizer.end_token_id,
                    tokenizer.vocabulary_size())
        expected = (model.start_token_id, model.end_token_id, model.vocabulary_size)
        if received[:2] != expected[:2] or received[2] > expected[2]:
            raise ValueError(
                "preprocessor's tokenizer must have the model's start and end ids and no "
                f"more ids than its vocabulary: {expected}. Received: {received} "
                "(start, end, vocabulary size)")
    return preprocessor


def preset_preprocessor(preset, allow_unpinned=False):
    """The preset's `CoCaPreprocessor`; None when it has no tokenizer files."""
    try:
        return CoCaPreprocessor.from_preset(preset, allow_unpinned=allow_unpinned)
    except ValueError:  # Embeddings and ids only.
        return None


class CoCaGenerationMixin(GenerationMixin, PresetMixin):
    """`generate` (a key/value cache per text block), `caption` and presets
    with their preprocessor, for `kerasmm.models.CoCa`.

    With `text_mask="open_clip"` the unimodal blocks' caches keep a key mask
    filled one step at a time, as the full call's: position `k > 0` is
    hidden from every position when token `k - 1` is `pad_token_id` (a pad
    generated before the end token), so each step's logits equal the full
    call's on the tokens so far.
    """

    def generation_context(self, images):
        caption_queries = self._image_features(images)[1]
        return {"cross": [cross_attention_keys(block, caption_queries)
                          for block in self.decoder_cross_blocks]}

    def init_cache(self, context, batch_size, max_length):
        if max_length > self.context_length - 1:
            raise ValueError(
                f"max_length must be <= context_length - 1 = {self.context_length - 1} "
                f"(the positions the decoder was trained on; a prompt's tokens count). "
                f"Received: max_length={max_length}")
        key_mask = self.text_mask == "open_clip"
        cache = {
            "unimodal": [init_self_attention_cache(block, batch_size, max_length,
                                                   key_mask=key_mask)
                         for block in self.unimodal_blocks],
            "decoder": [init_self_attention_cache(block, batch_size, max_length)
                        for block in self.decoder_self_blocks],
        }
        if key_mask:  # Whether the next position's key is visible: token != pad.
            cache["next_visible"] = ops.ones((batch_size, 1), "bool")
        return cache

    def decode_step(self, token_ids, index, cache, context):
        x = self.token_embedding(token_ids)
        position = ops.slice(ops.convert_to_tensor(self.position_embedding), (index, 0),
                             (1, self.hidden_dim))
        x = x + ops.cast(position, x.dtype)[None]
        visible = cache.get("next_visible")
        unimodal, decoder = list(cache["unimodal"]), list(cache["decoder"])
        for i, block in enumerate(self.unimodal_blocks):
            x, unimodal[i] = self_attention_step(block, x, index, unimodal[i], key_mask=visible)
        for i, (self_block, cross_block) in enumerate(
                zip(self.decoder_self_blocks, self.decoder_cross_blocks)):
            x, decoder[i] = self_attention_step(self_block, x, index, decoder[i])
            x = cross_attention_step(cross_block, x, context["cross"][i])
        logits = self.vocabulary_projection(self.decoder_norm(x))[:, 0]
        cache = dict(cache, unimodal=unimodal, decoder=decoder)
        if visible is not None:
            cache["next_visible"] = token_ids != self.pad_token_id
        return ops.cast(logits, "float32"), cache

    # === Captions ===

    def caption(self, images, max_length=20, **kwargs):
        """Captions of pictures (uint8 `[0, 255]` or float `[0, 1]`, any
        size), a list of str: `preprocessor`, `generate(..., **kwargs)`,
        then `preprocessor.detokenize`.

        Greedy by default. open_clip's `CoCa.generate` defaults (6 beams,
        `min_seq_len=5` and `seq_len=30`, both counting the start token) are
        `strategy="beam", num_beams=6, min_length=4, max_length=29`: the
        same ids on a converted checkpoint."""
        if self.preprocessor is None:
            raise ValueError(f"This {type(self).__name__} has no preprocessor: pass "
                             "preprocessor=CoCaPreprocessor(...), or load it with from_preset")
        pixels = self.preprocessor({"images": images})["images"]
        ids = self.generate(ops.convert_to_numpy(pixels), max_length=max_length, **kwargs)
        return self.preprocessor.detokenize(ids)

    # === Presets ===

    @classmethod
    def from_preset(cls, preset, load_weights=True, allow_unpinned=False, **overrides):
        """`PresetMixin.from_preset`, with the preset's `CoCaPreprocessor` as
        `preprocessor` (for `caption`) when the preset has a tokenizer and
        image settings."""
        model = super().from_preset(preset, load_weights=load_weights,
                                    allow_unpinned=allow_unpinned, **overrides)
        if model.preprocessor is None and "preprocessor" not in overrides:
            model.preprocessor = check_preprocessor(
                preset_preprocessor(preset, allow_unpinned), model)
        return model

    def save_to_preset(self, directory, preprocessor=None, overwrite=False):
        """`PresetMixin.save_to_preset`; `preprocessor` defaults to the model's."""
        if preprocessor is None:
            preprocessor = self.preprocessor
        super().save_to_preset(directory, preprocessor=preprocessor, overwrite=overwrite)
