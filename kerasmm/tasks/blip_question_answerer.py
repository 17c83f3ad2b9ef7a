"""`BLIPQuestionAnswerer`: generative visual question answering (BLIP VQA)."""

import keras
from keras import ops

from kerasmm.distribute import BuildBeforeTracingMixin
from kerasmm.models.blip import BLIPTextDecoder
from kerasmm.models.blip import BLIPTextEncoder
from kerasmm.models.blip import BLIPVisionEncoder
from kerasmm.models.blip.blip_backbone import check_cross_width
from kerasmm.tasks.blip_generation import BLIPGenerationMixin

_QUESTION_KEYS = ("images", "token_ids")


@keras.saving.register_keras_serializable(package="kerasmm")
class BLIPQuestionAnswerer(BLIPGenerationMixin, BuildBeforeTracingMixin, keras.Model):
    """Answers questions about images by writing the answer (BLIP VQA).

    As Hugging Face's `BlipForQuestionAnswering`: `vision_encoder` turns
    the image into tokens; `text_encoder` (bidirectional, cross-attending
    to them) encodes the question; `text_decoder` writes the answer while
    cross-attending to the question's states. Called with answer ids it
    gives teacher-forced logits; `generate` decodes the answer; `answer`
    goes from pictures and strings to strings through `preprocessor`. The
    answer decoder sees every question state, padding included, in both:
    so does BLIP's `generate`, and Hugging Face's (transformers 5) BLIP
    text layers never pass a cross-attention mask on, in `forward` too.

    Args:
        vision_encoder: a `kerasmm.models.BLIPVisionEncoder`.
        text_encoder: a `kerasmm.models.BLIPTextEncoder` cross-attending to
            the vision width.
        text_decoder: a `kerasmm.models.BLIPTextDecoder` cross-attending to
            the question states.
        start_token_id, end_token_id, pad_token_id: ints, the answer's
            start (`[DEC]`), end (`[SEP]`) and padding tokens.
        preprocessor: optional `kerasmm.models.BLIPPreprocessor`, for `answer`.

    Call arguments:
        inputs: a dict: `"images"`, the question's `"token_ids"` and
            optional `"padding_mask"`, the answer's `"answer_token_ids"`
            (starting with `start_token_id`) and optional
            `"answer_padding_mask"`.

    Returns:
        float32 logits `(B, answer length, vocabulary_size)`.

    Example:
    >>> from kerasmm.models import BLIPTextDecoder, BLIPTextEncoder, BLIPVisionEncoder
    >>> text = dict(vocabulary_size=20, hidden_dim=8, num_layers=1, num_heads=2,
    ...             intermediate_dim=16, max_sequence_length=8, cross_attention_dim=8)
    >>> vqa = BLIPQuestionAnswerer(
    ...     BLIPVisionEncoder(image_size=16, patch_size=8, hidden_dim=8, num_layers=1,
    ...                       num_heads=2, intermediate_dim=16),
    ...     BLIPTextEncoder(**text), BLIPTextDecoder(**text),
    ...     start_token_id=18, end_token_id=3, pad_token_id=0)
    >>> inputs = {"images": np.zeros((1, 16, 16, 3), "float32"),
    ...           "token_ids": np.array([[2, 7, 3]]), "answer_token_ids": np.array([[18]])}
    >>> tuple(vqa(inputs).shape)
    (1, 1, 20)
    """

    tower_classes = {"vision_encoder": BLIPVisionEncoder, "text_encoder": BLIPTextEncoder,
                     "text_decoder": BLIPTextDecoder}

    def __init__(self, vision_encoder, text_encoder, text_decoder, start_token_id,
                 end_token_id, pad_token_id, preprocessor=None, **kwargs):
        super().__init__(**kwargs)
        self._set_towers({"vision_encoder": vision_encoder, "text_encoder": text_encoder,
                          "text_decoder": text_decoder},
                         {"start_token_id": start_token_id, "end_token_id": end_token_id,
                          "pad_token_id": pad_token_id}, preprocessor)
        check_cross_width("text_encoder", text_encoder, vision_encoder)
        if text_decoder.cross_attention_dim != text_encoder.hidden_dim:
            raise ValueError(
                "text_decoder.cross_attention_dim must equal text_encoder.hidden_dim (the "
                f"decoder reads question states). Received: "
                f"{text_decoder.cross_attention_dim} and {text_encoder.hidden_dim}")

    def question_states(self, inputs, training=None):
        """`(B, L, width)`: the question encoded against the image tokens."""
        missing = [key for key in _QUESTION_KEYS if key not in inputs]
        if missing:
            raise ValueError(f"inputs must hold {list(_QUESTION_KEYS)} (and optionally "
                             f"'padding_mask'). Missing: {missing}")
        image_tokens = self.vision_encoder(inputs["images"], training=training)
        question = {key: inputs[key] for key in ("token_ids", "padding_mask") if key in inputs}
        return self.text_encoder({**question, "encoder_tokens": image_tokens},
                                 training=training)

    def call(self, inputs, training=None):
        states = self.question_states(inputs, training=training)
        answer = {"token_ids": inputs["answer_token_ids"], "encoder_tokens": states}
        if "answer_padding_mask" in inputs:
            answer["padding_mask"] = inputs["answer_padding_mask"]
        return self.text_decoder(answer, training=training)

    def generation_context(self, inputs):
        """The decoder's cross-attention keys and values of the question states."""
        states = self.question_states(inputs)
        return self.text_decoder.cross_cache(
            states, ops.ones(ops.shape(states)[:2], dtype="bool"))

    def answer(self, images, questions, max_length=10, **kwargs):
        """Answers (a list of str) to `questions` (str or list of str) about
        pictures (uint8 `[0, 255]` or float `[0, 1]`, any size)."""
        inputs = self._preprocessor()({"images": images, "prompts": questions})
        return self._texts(self.generate(inputs, max_length=max_length, **kwargs))
