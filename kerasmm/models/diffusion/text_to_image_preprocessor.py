"""TextToImagePreprocessor: prompt strings -> the token ids `TextToImageDiffusion` takes."""

import keras

from kerasmm.models.clip.clip_preprocessor import CLIPPreprocessor
from kerasmm.models.diffusion.text_to_image_diffusion import TextToImageDiffusion


@keras.saving.register_keras_serializable(package="kerasmm")
class TextToImagePreprocessor(CLIPPreprocessor):
    """Tokenizes prompts for a `TextToImageDiffusion` model (a CLIP-style BPE).

    The prompt half of `kerasmm.models.CLIPPreprocessor` (its preset files:
    `vocab.json`, `merges.txt`, context length, pad id), loading from the
    same preset as the model. Call it on a str, a list of str or a string
    tensor to get int32 token ids `(B, sequence_length)`; a
    `{"prompts": ...}` dict gives `{"token_ids": ...}`.

    Args:
        tokenizer: a `kerasmm.preprocessing.CLIPTokenizer`, e.g.
            `kerasmm.datasets.shapes_tokenizer()`.

    Example:
    >>> preprocessor = TextToImagePreprocessor(kerasmm.datasets.shapes_tokenizer())
    >>> tuple(preprocessor(["a red circle", "a blue square"]).shape)
    (2, 16)
    """

    backbone_cls = TextToImageDiffusion
    paddings = ("max_length",)  # the U-Net attends to every token

    def __init__(self, tokenizer, **kwargs):
        kwargs.pop("image_preprocessor", None)
        if tokenizer is None:
            raise ValueError("tokenizer must be a CLIPTokenizer. Received: tokenizer=None")
        super().__init__(tokenizer=tokenizer, **kwargs)

    def call(self, inputs):
        if isinstance(inputs, dict):
            return super().call(inputs)
        return super().call({"prompts": inputs})["token_ids"]

    @classmethod
    def preset_arguments(cls, preprocessing, assets):
        arguments = super().preset_arguments(preprocessing, assets)
        arguments.pop("image_preprocessor", None)
        return arguments

    def get_config(self):
        config = super().get_config()
        config.pop("image_preprocessor", None)
        return config
