"""BLIP's tokenizer: BERT WordPiece (through keras-hub) with `[DEC]` and `[ENC]`."""

import keras
import keras_hub
import tensorflow as tf

from kerasmm.preprocessing.text_inputs import string_tensor
from kerasmm.utils.checks import check_positive_int

# Tokens BLIP adds to BERT's vocabulary: the decoder's start, the encoder's.
ADDED_TOKENS = ("[DEC]", "[ENC]")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *ADDED_TOKENS)


@keras.saving.register_keras_serializable(package="kerasmm")
class BLIPTokenizer(keras.layers.Layer):
    """Strings to BLIP token ids, `[CLS] words [SEP]` padded with `[PAD]`.

    As BLIP's Hugging Face processor (`BertTokenizer`, lowercased, with
    `[DEC]` and `[ENC]` added after BERT's vocabulary) computes it with
    `padding="max_length", truncation=True`: keras-hub's `BertTokenizer`
    (WordPiece, TensorFlow Text inside) and `StartEndPacker`. It runs in
    TensorFlow (eagerly or inside `tf.data.Dataset.map`) whatever the Keras
    backend and returns int32 `tf.Tensor`s. `detokenize` turns generated
    ids back into strings, special tokens left out.

    Args:
        vocabulary: list of str, the WordPiece vocabulary (BERT's
            `vocab.txt`); `[DEC]` and `[ENC]` are appended when missing.
        sequence_length: int, length of the padded ids.
        lowercase: bool, lowercase and strip accents first (uncased BERT).

    Call arguments:
        prompts: a str, a list of str or a string tensor of rank 0 or 1.

    Returns:
        int32 `(B, sequence_length)` (or `(sequence_length,)` for one str).

    Example:
    >>> tokenizer = BLIPTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...                            "a", "cat", "dog"], sequence_length=6)
    >>> tokenizer(["A cat", "a dog"]).numpy().tolist()
    [[2, 5, 6, 3, 0, 0], [2, 5, 7, 3, 0, 0]]
    >>> tokenizer.detokenize([[9, 5, 6, 3, 0, 0]])
    ['a cat']
    >>> tokenizer.token_to_id("[DEC]")
    8
    """

    def __init__(self, vocabulary, sequence_length=35, lowercase=True, **kwargs):
        super().__init__(**kwargs)
        vocabulary = [str(token) for token in vocabulary]
        vocabulary += [token for token in ADDED_TOKENS if token not in vocabulary]
        self.vocabulary = vocabulary
        self.sequence_length = check_positive_int("sequence_length", sequence_length)
        self.lowercase = bool(lowercase)
        self.word_piece = keras_hub.tokenizers.BertTokenizer(
            vocabulary=vocabulary, lowercase=self.lowercase, dtype="int32")
        self.packer = keras_hub.layers.StartEndPacker(
            sequence_length, start_value=self.token_to_id("[CLS]"),
            end_value=self.token_to_id("[SEP]"), pad_value=self.pad_token_id)
        self._special_ids = tf.constant([vocabulary.index(t) for t in SPECIAL_TOKENS
                                         if t in vocabulary], dtype=tf.int32)
        self._allow_non_tensor_positional_args = True
        self._convert_input_args = False
        self.built = True

    def token_to_id(self, token):
        if token not in self.vocabulary:
            raise ValueError(f"The vocabulary has no token {token!r}")
        return self.vocabulary.index(token)

    @property
    def pad_token_id(self):
        return self.token_to_id("[PAD]")

    def call(self, prompts):
        texts, scalar = string_tensor("prompts", prompts)
        ids = self.packer(self.word_piece(texts[None] if scalar else texts))
        return tf.cast(ids[0] if scalar else ids, tf.int32)

    def detokenize(self, token_ids):
        """A list of str from int `(B, L)` ids; special tokens are dropped."""
        ids = tf.convert_to_tensor(token_ids, dtype=tf.int32)
        keep = tf.reduce_all(ids[..., None] != self._special_ids, axis=-1)
        texts = self.word_piece.detokenize(tf.ragged.boolean_mask(ids, keep))
        if isinstance(texts, tf.Tensor):  # keras-hub's TensorFlow path.
            texts = texts.numpy().tolist()
        return [t.decode("utf-8") if isinstance(t, bytes) else t for t in texts]

    def get_config(self):
        config = super().get_config()
        config.update({"vocabulary": self.vocabulary, "sequence_length": self.sequence_length,
                       "lowercase": self.lowercase})
        return config
