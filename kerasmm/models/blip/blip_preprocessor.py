"""BLIP's preprocessor: its tokenizer and the image preprocessing its weights expect."""

import os

import keras
import tensorflow as tf

from kerasmm.models.blip.blip_presets import BLIP_PRESETS
from kerasmm.models.blip.blip_tokenizer import BLIPTokenizer
from kerasmm.models.clip.clip_preprocessor import CLIPPreprocessor
from kerasmm.models.siglip.siglip_image_preprocessor import SigLIPImagePreprocessor
from kerasmm.models.siglip.siglip_preprocessor import SigLIPPreprocessor

VOCABULARY_FILE = "vocab.txt"


@keras.saving.register_keras_serializable(package="kerasmm")
class BLIPPreprocessor(CLIPPreprocessor):
    """Turns raw images and strings into the inputs of BLIP's tasks.

    A `CLIPPreprocessor` (the same call, checks and saving) with BLIP's
    layers: images (uint8 in `[0, 255]` or floats in `[0, 1]`) are resized
    whole to `image_size` (bicubic, as Hugging Face's `BlipImageProcessor`)
    and normalised with OpenAI CLIP's mean and std; prompts go through a
    `BLIPTokenizer` (`[CLS] words [SEP]`, padded), and a `"padding_mask"`
    comes with the ids. `detokenize` turns generated ids into strings.

    `BLIPPreprocessor.from_preset(preset)` reads the preset of any BLIP
    task (`ImageCaptioner.from_preset(preset)`, ...): a registered name,
    a directory written by `save_to_preset`, a Hugging Face BLIP checkpoint
    directory (its `vocab.txt` and `preprocessor_config.json`) or
    `"hf://org/repo"`.

    Args:
        tokenizer: a `BLIPTokenizer`, or None (no prompts then).
        image_preprocessor: a `SigLIPImagePreprocessor` (resize whole,
            normalise), or None (no images then).

    Call arguments:
        inputs: a dict with `"images"` and/or `"prompts"`.

    Returns:
        A dict with `"images"` (float32) and/or `"token_ids"` (int32) and
        `"padding_mask"` (bool), for each input given.

    Example:
    >>> preprocessor = BLIPPreprocessor(
    ...     tokenizer=BLIPTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a",
    ...                              "cat"], sequence_length=5),
    ...     image_preprocessor=SigLIPImagePreprocessor(image_size=32))
    >>> inputs = preprocessor({"images": np.zeros((1, 48, 64, 3), "uint8"),
    ...                        "prompts": ["a cat"]})
    >>> tuple(inputs["images"].shape), inputs["padding_mask"].numpy().tolist()
    ((1, 32, 32, 3), [[True, True, True, True, False]])
    """

    backbone_cls = None  # BLIP presets hold tasks: no model class is checked.
    presets = BLIP_PRESETS
    tokenizer_cls = BLIPTokenizer
    paddings = ("max_length",)  # BLIP's text encoder is bidirectional
    image_preprocessor_cls = SigLIPImagePreprocessor

    def call(self, inputs):
        outputs = super().call(inputs)
        if "token_ids" in outputs:
            outputs["padding_mask"] = tf.not_equal(outputs["token_ids"],
                                                   self.tokenizer.pad_token_id)
        return outputs

    def detokenize(self, token_ids):
        """Strings of int `(B, L)` token ids (special tokens dropped)."""
        if self.tokenizer is None:
            raise ValueError("This BLIPPreprocessor has no tokenizer: it cannot detokenize")
        return self.tokenizer.detokenize(token_ids)

    # === Presets ===

    @classmethod
    def preset_arguments(cls, preprocessing, assets):
        """A tokenizer where the preset names its vocabulary file, an image
        preprocessor (SigLIP's: resize whole) where it records an image size."""
        arguments = SigLIPPreprocessor.preset_arguments(
            {k: v for k, v in preprocessing.items() if k != "tokenizer_file"}, assets)
        if preprocessing.get("vocabulary_file") is not None:
            with open(assets.path(preprocessing["vocabulary_file"]), encoding="utf-8") as f:
                vocabulary = [line.rstrip("\n") for line in f if line.strip()]
            arguments["tokenizer"] = BLIPTokenizer(
                vocabulary, sequence_length=preprocessing.get("context_length", 35))
        return arguments

    def preset_preprocessing(self):
        constants = super().preset_preprocessing()  # Image constants, context length.
        if self.tokenizer is not None:
            constants["vocabulary_file"] = VOCABULARY_FILE
        return constants

    def save_assets(self, directory):
        if self.tokenizer is None:
            return []
        with open(os.path.join(directory, VOCABULARY_FILE), "w", encoding="utf-8") as f:
            f.write("\n".join(self.tokenizer.vocabulary) + "\n")
        return [VOCABULARY_FILE]
