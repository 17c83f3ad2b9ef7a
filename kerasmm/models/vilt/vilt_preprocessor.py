"""ViLT's preprocessor: BERT WordPiece ids and padded images with a pixel mask."""

import os

import keras
import keras_hub
import tensorflow as tf

from kerasmm.models.vilt.vilt_image_preprocessor import ViLTImagePreprocessor
from kerasmm.models.vilt.vilt_presets import VILT_PRESETS
from kerasmm.presets import load
from kerasmm.presets.build import check_overrides
from kerasmm.presets.preprocessor import Preprocessor
from kerasmm.preprocessing.text_inputs import string_tensor
from kerasmm.utils.checks import check_positive_int

VOCABULARY_FILE = "vocab.txt"
# keras-hub's BertTokenizer needs all of them.
_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_IMAGE_KEYS = ("shortest_edge", "longest_edge", "size_divisor", "mean", "std",
               "interpolation")


@keras.saving.register_keras_serializable(package="kerasmm")
class ViLTPreprocessor(Preprocessor):
    """Turns raw pictures and strings into the inputs of ViLT's tasks.

    Prompts become `[CLS] words [SEP]` WordPiece ids padded with `[PAD]`
    to `sequence_length` (truncated to it), as Hugging Face's
    `BertTokenizer` with `padding="max_length", truncation=True` (keras-hub's
    `BertTokenizer` and `StartEndPacker`), with a `"padding_mask"`; the text
    part runs eagerly or in `tf.data`. Pictures go through a
    `ViLTImagePreprocessor`, which adds `"pixel_mask"`: eagerly a list of
    pictures of any sizes, or in `tf.data` (graph mode) a ragged batch
    (`Dataset.ragged_batch`) or a dense one.

    `ViLTPreprocessor.from_preset(preset)` reads the preset of any ViLT
    task (`VQAClassifier.from_preset(preset)`, ...): a registered name, a
    directory written by `save_to_preset`, or a Hugging Face ViLT
    directory (its `vocab.txt` and `preprocessor_config.json`).

    Args:
        vocabulary: list of str (BERT's `vocab.txt`), or None (no prompts).
        sequence_length: int, length of the padded ids (ViLT: 40).
        lowercase: bool, lowercase and strip accents (uncased BERT).
        image_preprocessor: a `ViLTImagePreprocessor`, or None (no images).

    Call arguments:
        inputs: a dict with `"images"` and/or `"prompts"`.

    Returns:
        A dict with `"token_ids"` (int32) and `"padding_mask"` (bool) and/or
        `"images"` (float32) and `"pixel_mask"` (int32).

    Example:
    >>> preprocessor = ViLTPreprocessor(
    ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "cat"], sequence_length=5,
    ...     image_preprocessor=ViLTImagePreprocessor(shortest_edge=32, size_divisor=8))
    >>> out = preprocessor({"prompts": ["A cat"], "images": [np.zeros((40, 40, 3), "uint8")]})
    >>> out["token_ids"].numpy().tolist(), tuple(out["pixel_mask"].shape)
    ([[2, 5, 6, 3, 0]], (1, 32, 32))
    """

    def __init__(self, vocabulary=None, sequence_length=40, lowercase=True,
                 image_preprocessor=None, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = None if vocabulary is None else [str(t) for t in vocabulary]
        self.sequence_length = check_positive_int("sequence_length", sequence_length)
        self.lowercase = bool(lowercase)
        self.image_preprocessor = self.sublayer(image_preprocessor)
        self.word_piece = self.packer = None
        if self.vocabulary is not None:
            missing = [t for t in _SPECIAL_TOKENS if t not in self.vocabulary]
            if missing:
                raise ValueError(f"vocabulary must hold BERT's special tokens. Missing: "
                                 f"{missing}")
            self.word_piece = keras_hub.tokenizers.BertTokenizer(
                vocabulary=self.vocabulary, lowercase=self.lowercase, dtype="int32")
            self.packer = keras_hub.layers.StartEndPacker(
                sequence_length, start_value=self.vocabulary.index("[CLS]"),
                end_value=self.vocabulary.index("[SEP]"),
                pad_value=self.vocabulary.index("[PAD]"))

    def call(self, inputs):
        if not isinstance(inputs, dict) or not {"images", "prompts"} & set(inputs):
            raise ValueError("inputs must be a dict with 'images' and/or 'prompts'. "
                             f"Received: {type(inputs).__name__}")
        outputs = {}
        if "prompts" in inputs:
            if self.word_piece is None:
                raise ValueError("This ViLTPreprocessor has no vocabulary: it cannot "
                                 "tokenize prompts")
            texts, scalar = string_tensor("prompts", inputs["prompts"])
            ids = tf.cast(self.packer(self.word_piece(texts[None] if scalar else texts)),
                          tf.int32)
            ids = ids[0] if scalar else ids
            outputs["token_ids"] = ids
            outputs["padding_mask"] = tf.not_equal(ids, self.vocabulary.index("[PAD]"))
        if "images" in inputs:
            if self.image_preprocessor is None:
                raise ValueError("This ViLTPreprocessor has no image_preprocessor: it "
                                 "cannot preprocess images")
            outputs.update(self.image_preprocessor(inputs["images"]))
        return outputs

    # === Presets ===

    @classmethod
    def from_preset(cls, preset, allow_unpinned=False, **overrides):
        """The preprocessor of a ViLT preset name, directory or
        `hf://org/repo`. ViLT's presets hold tasks (`VQAClassifier`, ...),
        so no model class is checked."""
        check_overrides(cls, overrides)
        constants, assets = load.load_preprocessing(preset, presets=VILT_PRESETS,
                                                    allow_unpinned=allow_unpinned)
        return cls(**{**cls.preset_arguments(constants, assets), **overrides})

    @classmethod
    def preset_arguments(cls, preprocessing, assets):
        arguments = {"sequence_length": preprocessing.get("context_length", 40),
                     "lowercase": preprocessing.get("lowercase", True)}
        if preprocessing.get("vocabulary_file") is not None:
            with open(assets.path(preprocessing["vocabulary_file"]), encoding="utf-8") as f:
                arguments["vocabulary"] = [line.rstrip("\n") for line in f if line.strip()]
        if preprocessing.get("shortest_edge") is not None:
            arguments["image_preprocessor"] = ViLTImagePreprocessor(
                **{k: preprocessing[k] for k in _IMAGE_KEYS if k in preprocessing})
        return arguments

    def preset_preprocessing(self):
        constants = {"context_length": self.sequence_length, "lowercase": self.lowercase}
        if self.vocabulary is not None:
            constants["vocabulary_file"] = VOCABULARY_FILE
        if self.image_preprocessor is not None:
            config = self.image_preprocessor.get_config()
            constants.update({k: config[k] for k in _IMAGE_KEYS})
        return constants

    def save_assets(self, directory):
        if self.vocabulary is None:
            return []
        with open(os.path.join(directory, VOCABULARY_FILE), "w", encoding="utf-8") as f:
            f.write("\n".join(self.vocabulary) + "\n")
        return [VOCABULARY_FILE]

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary": self.vocabulary, "sequence_length": self.sequence_length,
            "lowercase": self.lowercase,
            "image_preprocessor": None if self.image_preprocessor is None
            else keras.saving.serialize_keras_object(self.image_preprocessor)})
        return config
