"""Perceiver IO's UTF-8 byte tokenizer (DeepMind `bytes_tokenizer.py`)."""

import keras
import numpy as np
import tensorflow as tf

from kerasmm.preprocessing.text_inputs import string_tensor
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_positive_int

PAD_ID, BOS_ID, EOS_ID, MASK_ID, CLS_ID, SEP_ID = range(6)
NUM_RESERVED_TOKENS = 6


@keras.saving.register_keras_serializable(package="kerasmm")
class ByteTokenizer(keras.layers.Layer):
    """UTF-8 bytes with six reserved ids, as DeepMind's Perceiver IO.

    Byte `b` becomes id `b + 6`; ids 0-5 are `[PAD]`, `[BOS]`, `[EOS]`,
    `[MASK]`, `[CLS]`, `[SEP]`, so `vocabulary_size()` is 262. With
    `add_special_tokens=False` (default) the ids are those of DeepMind's
    `BytesTokenizer.to_int`, which adds nothing. With
    `add_special_tokens=True` they are those of Hugging Face's
    `PerceiverTokenizer` called with its defaults: `[CLS] bytes [SEP]`, and
    a text too long keeps `[SEP]` last. (Hugging Face also reads the literal
    strings `"[MASK]"` etc. in the text as special tokens; this tokenizer
    encodes them as bytes.) Rows are padded with 0 on the right.

    The layer runs in TensorFlow (eagerly or inside `tf.data.Dataset.map`,
    the same ops either way) whatever the Keras backend, and returns
    `tf.Tensor`s. A `str` becomes its UTF-8 bytes (one holding a lone
    surrogate, which has none, raises a `ValueError` naming the encoding);
    `bytes` and string tensors are tokenized byte for byte, valid UTF-8 or
    not.

    Args:
        sequence_length: int or None. Pad or truncate to this length; None
            pads a batch to its longest row.
        add_special_tokens: bool, wrap each text in `[CLS]` ... `[SEP]`.

    Call arguments:
        inputs: a str (or bytes), a list of them, or a string tensor of
            rank 0 or 1.
        sequence_length: int or None, overrides the constructor's.

    Returns:
        `{"token_ids": int32, "padding_mask": bool}`, each `(L,)` for one
        text or `(batch, L)`; `padding_mask` is True on real tokens.

    Example:

    >>> tokenizer = ByteTokenizer(sequence_length=8)
    >>> x = tokenizer(["héllo", "hi"])
    >>> x["token_ids"].numpy().tolist()
    [[110, 201, 175, 114, 114, 117, 0, 0], [110, 111, 0, 0, 0, 0, 0, 0]]
    >>> tokenizer.detokenize(x["token_ids"])
    ['héllo', 'hi']

    Reference:
        [Jaegle et al., 2021](https://arxiv.org/abs/2107.14795),
        github.com/deepmind/deepmind-research `perceiver/bytes_tokenizer.py`.
    """

    pad_token_id = PAD_ID
    bos_token_id = BOS_ID
    eos_token_id = EOS_ID
    mask_token_id = MASK_ID
    cls_token_id = CLS_ID
    sep_token_id = SEP_ID

    def __init__(self, sequence_length=None, add_special_tokens=False, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = check_positive_int(
            "sequence_length", sequence_length, allow_none=True)
        self.add_special_tokens = check_bool("add_special_tokens", add_special_tokens)
        if self.add_special_tokens and self.sequence_length == 1:
            raise ValueError(
                "sequence_length must be >= 2 to hold [CLS] and [SEP]. "
                f"Received: sequence_length={sequence_length}"
            )
        self._allow_non_tensor_positional_args = True
        self._convert_input_args = False
        self.built = True

    def vocabulary_size(self):
        """262: 256 byte values and 6 reserved ids."""
        return 256 + NUM_RESERVED_TOKENS

    def call(self, inputs, sequence_length=None):
        length = check_positive_int("sequence_length", sequence_length, allow_none=True)
        length = length or self.sequence_length
        if self.add_special_tokens and length == 1:
            raise ValueError(
                "sequence_length must be >= 2 to hold [CLS] and [SEP]. "
                f"Received: sequence_length={length}"
            )
        inputs, scalar = string_tensor("inputs", inputs, require_utf8=False)
        with tf.device("/cpu:0"):
            token_ids, padding_mask = self._tokenize(tf.reshape(inputs, [-1]), length)
        if scalar:
            token_ids, padding_mask = token_ids[0], padding_mask[0]
        return {"token_ids": token_ids, "padding_mask": padding_mask}

    def _tokenize(self, texts, length):
        chars = tf.strings.bytes_split(texts)
        ids = tf.ragged.map_flat_values(
            lambda c: tf.reshape(tf.io.decode_raw(c, tf.uint8), [-1]), chars
        )
        ids = tf.cast(ids, "int32") + NUM_RESERVED_TOKENS
        if self.add_special_tokens:
            if length is not None:
                ids = ids[:, : length - 2]
            rows = tf.shape(texts)[0]
            cls = tf.fill([rows, 1], CLS_ID)
            sep = tf.fill([rows, 1], SEP_ID)
            ids = tf.concat([cls, ids, sep], axis=1)
        shape = [None, length]
        token_ids = ids.to_tensor(default_value=PAD_ID, shape=shape)
        padding_mask = tf.ones_like(ids, "bool").to_tensor(False, shape=shape)
        return token_ids, padding_mask

    def compute_output_spec(self, inputs, sequence_length=None):
        length = sequence_length or self.sequence_length
        shape = tuple(inputs.shape) + (length,)
        return {
            "token_ids": keras.KerasTensor(shape, dtype="int32"),
            "padding_mask": keras.KerasTensor(shape, dtype="bool"),
        }

    def detokenize(self, token_ids):
        """Ids back to text, as DeepMind's `to_string`: ids below 6 are
        dropped, the rest are bytes decoded as UTF-8 (errors replaced).

        Args:
            token_ids: int array-like `(L,)` or `(batch, L)`, or the dict
                this layer returns.

        Returns:
            A str for one row, a list of str for a batch.
        """
        if isinstance(token_ids, dict):
            token_ids = token_ids["token_ids"]
        token_ids = np.asarray(token_ids)
        if token_ids.ndim not in (1, 2):
            raise ValueError(
                f"token_ids must have rank 1 or 2. Received: shape={token_ids.shape}"
            )
        if token_ids.size and (token_ids.min() < 0 or token_ids.max() >= 262):
            raise ValueError(
                "token_ids must lie in [0, 262). Received values in "
                f"[{token_ids.min()}, {token_ids.max()}]"
            )
        texts = [
            (row[row >= NUM_RESERVED_TOKENS] - NUM_RESERVED_TOKENS)
            .astype("uint8")
            .tobytes()
            .decode("utf-8", errors="replace")
            for row in np.atleast_2d(token_ids)
        ]
        return texts[0] if token_ids.ndim == 1 else texts

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "add_special_tokens": self.add_special_tokens,
            }
        )
        return config
