"""CLIP's byte-level BPE tokenizer with start/end tokens, truncation, padding."""

import collections
import hashlib
import json
import os

import keras
import numpy as np
import tensorflow as tf

from kerasmm.preprocessing.text_inputs import string_tensor
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_int

START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"
END_OF_WORD = "</w>"

# OpenAI's `whitespace_clean` (`simple_tokenizer.py`, which imports `regex`
# as `re`) turns runs of `\s`, Unicode's White_Space, into one space; RE2's
# `\s` is ASCII only, so the set is spelled out (a test compares it with
# `regex`'s over every code point).
WHITESPACE = (
    r"[\t-\r \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
    r"\x{202f}\x{205f}\x{3000}]+"
)
# Then `str.strip()` drops Python's `isspace()` characters at both ends:
# after the collapse, a space or one of \x1c-\x1f (not White_Space).
EDGE_SPACE = r"^[ \x{1c}-\x{1f}]+|[ \x{1c}-\x{1f}]+$"
# OpenAI's word pattern, case-insensitive as there; each match is a word.
WORD = (
    r"(?i)<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"
    r"\p{L}+|\p{N}|[^\s\p{L}\p{N}]+"
)


def bytes_to_unicode():
    """GPT-2 / CLIP map from the 256 bytes to printable unicode characters.

    Returns a dict `{byte value: one-character str}`, the table of OpenAI's
    `simple_tokenizer.py`.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    byte_values, code_points = printable[:], printable[:]
    offset = 0
    for b in range(256):
        if b not in printable:
            byte_values.append(b)
            code_points.append(256 + offset)
            offset += 1
    return dict(zip(byte_values, map(chr, code_points)))


def _load_vocabulary(vocabulary):
    if isinstance(vocabulary, (str, os.PathLike)):
        with open(vocabulary, encoding="utf-8") as f:
            vocabulary = json.load(f)
    if not isinstance(vocabulary, dict):
        raise TypeError(
            "vocabulary must be a path to a json file or a dict mapping "
            f"tokens to ids. Received: vocabulary={type(vocabulary)}"
        )
    return {str(token): int(i) for token, i in vocabulary.items()}


def _load_merges(merges):
    if isinstance(merges, (str, os.PathLike)):
        with open(merges, encoding="utf-8") as f:
            merges = [line.strip() for line in f]
    if isinstance(merges, (dict, bytes)) or not hasattr(merges, "__iter__"):
        raise TypeError(
            "merges must be a path to a text file or a list of merge rules. "
            f"Received: merges={type(merges)}"
        )
    merges = [str(m) for m in merges]
    # OpenAI's and Hugging Face's merges.txt start with a version line.
    return [m for m in merges if m.strip() and not m.startswith("#version")]


@keras.saving.register_keras_serializable(package="kerasmm")
class CLIPTokenizer(keras.layers.Layer):
    """CLIP tokenizer: text to padded `token_ids`, as OpenAI's `clip.tokenize`.

    Byte-level BPE with `</w>` word ends (the merges computed by
    `keras_hub.tokenizers.CLIPTokenizer`'s TensorFlow BPE) and the text
    clean-up and word split of OpenAI's `simple_tokenizer.py`: NFC, runs of
    Unicode whitespace to one space, `str.strip()`, lowercase, then words
    by OpenAI's pattern (letter runs, single digits, other-symbol runs,
    `'s`-style suffixes, the special tokens). (OpenAI also runs `ftfy` and
    unescapes HTML; this tokenizer does not.) Every text becomes
    `<|startoftext|> tokens <|endoftext|>`; a text too long is truncated with
    `<|endoftext|>` kept last (`clip.tokenize(..., truncate=True)`); a short
    one is padded with `pad_token_id`.

    OpenAI pads with 0 (the default); Hugging Face's `CLIPTokenizer` pads
    with the end token id, `pad_token_id=tokenizer.end_token_id` reproduces
    it. Either way, OpenAI's text tower reads its features at the end token,
    the largest id in the vocabulary, so the padding value does not change
    the embedding.

    The layer runs in TensorFlow (eagerly or inside `tf.data.Dataset.map`)
    whatever the Keras backend, and returns `tf.Tensor`s, which models of
    every backend accept. Eager calls and `tf.data` run the same traced
    TensorFlow function, so a text gets the same ids however it is called
    (the first call per vocabulary in a process traces it: a few seconds).
    Text must be valid UTF-8: invalid bytes raise a `ValueError` naming the
    encoding (inside `tf.data`, an `InvalidArgumentError` with that message).

    Args:
        vocabulary: dict mapping tokens to ids, or path to a json file.
            Must contain `<|startoftext|>`, `<|endoftext|>` and all 512
            single-byte tokens (each with and without `</w>`), so that any
            text tokenizes, as in OpenAI's vocabulary.
        merges: list of merge rules `"a b"` ranked by priority, or path to
            a merges.txt file (a `#version` line is skipped).
        sequence_length: int, length of the output (CLIP's context length).
        pad_token_id: int, id that fills the positions after the end token.
        return_padding_mask: bool. If True, return a dict
            `{"token_ids", "padding_mask"}`; `padding_mask` is True on the
            start, text and end tokens.

    Call arguments:
        inputs: a str (or UTF-8 bytes), a list of them, or a string tensor
            of rank 0 or 1.

    Returns:
        int32 `token_ids` of shape `(sequence_length,)` for one string or
        `(batch, sequence_length)` for a batch (or the dict above).

    Example:

    >>> tokenizer = kerasmm.datasets.shapes_tokenizer()  # a CLIPTokenizer
    >>> token_ids = tokenizer(["a red circle", "A small  BLUE square."])
    >>> tuple(token_ids.shape)
    (2, 16)
    >>> tokenizer.detokenize(token_ids)
    ['a red circle', 'a small blue square .']

    Reference:
        [Radford et al., 2021](https://arxiv.org/abs/2103.00020),
        github.com/openai/CLIP `clip/simple_tokenizer.py`, `clip/clip.py`.
    """

    def __init__(
        self,
        vocabulary,
        merges,
        sequence_length=77,
        pad_token_id=0,
        return_padding_mask=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Room for the start and end tokens.
        self.sequence_length = check_int("sequence_length", sequence_length, minimum=2)
        self.vocabulary = _load_vocabulary(vocabulary)
        self.merges = _load_merges(merges)
        self.return_padding_mask = check_bool("return_padding_mask", return_padding_mask)
        self._check_vocabulary()
        self.pad_token_id = check_int("pad_token_id", pad_token_id, minimum=0)
        if self.pad_token_id >= self.vocabulary_size():
            raise ValueError(
                "pad_token_id must be an id of the vocabulary, in [0, "
                f"vocabulary_size) = [0, {self.vocabulary_size()}). Received: "
                f"pad_token_id={pad_token_id}"
            )
        self.start_token_id = self.vocabulary[START_TOKEN]
        self.end_token_id = self.vocabulary[END_TOKEN]
        self._id_to_token = {i: t for t, i in self.vocabulary.items()}
        self._byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
        self._allow_non_tensor_positional_args = True
        self._convert_input_args = False
        self.built = True
        # A plain object, not a Layer or a tf.function: Keras and TF neither
        # track nor save it (`get_config` holds vocabulary and merges).
        self._bpe = _shared_bpe(self.vocabulary, self.merges)

    def _check_vocabulary(self):
        missing = [t for t in (START_TOKEN, END_TOKEN) if t not in self.vocabulary]
        symbols = list(bytes_to_unicode().values())
        missing += [
            s for s in symbols + [s + END_OF_WORD for s in symbols]
            if s not in self.vocabulary
        ]
        if missing:
            raise ValueError(
                "vocabulary must contain the start and end tokens and every "
                f"single-byte token. Missing {len(missing)} tokens, e.g. "
                f"{missing[:5]}"
            )
        if not self.merges:
            raise ValueError("merges must hold at least one merge rule. Received: merges=[]")
        for rule in self.merges:
            parts = rule.split(" ")
            if len(parts) != 2 or any(
                t not in self.vocabulary for t in parts + [parts[0] + parts[1]]
            ):
                raise ValueError(
                    "Each merge rule must be two tokens 'a b' that are, with "
                    f"their concatenation, in vocabulary. Received: merge={rule!r}"
                )

    def vocabulary_size(self):
        """Number of ids (the text tower's `vocabulary_size`)."""
        return max(self.vocabulary.values()) + 1

    def call(self, inputs):
        texts, scalar = string_tensor("inputs", inputs)
        with tf.device("/cpu:0"):
            token_ids, padding_mask = self._pack(self._bpe.function(tf.reshape(texts, [-1])))
        if scalar:
            token_ids, padding_mask = token_ids[0], padding_mask[0]
        if self.return_padding_mask:
            return {"token_ids": token_ids, "padding_mask": padding_mask}
        return token_ids

    def _pack(self, ids):
        """Ragged ids to `<|startoftext|> ids <|endoftext|>`, truncated and
        padded to `sequence_length` (the end token kept last)."""
        ids = ids[:, : self.sequence_length - 2]
        rows = ids.nrows()
        ids = tf.concat(
            [tf.fill([rows, 1], self.start_token_id), ids,
             tf.fill([rows, 1], self.end_token_id)],
            axis=1,
        )
        shape = [None, self.sequence_length]
        token_ids = ids.to_tensor(default_value=self.pad_token_id, shape=shape)
        padding_mask = tf.ones_like(ids, "bool").to_tensor(False, shape=shape)
        return token_ids, padding_mask

    def compute_output_spec(self, inputs):
        shape = tuple(inputs.shape) + (self.sequence_length,)
        token_ids = keras.KerasTensor(shape, dtype="int32")
        if self.return_padding_mask:
            return {
                "token_ids": token_ids,
                "padding_mask": keras.KerasTensor(shape, dtype="bool"),
            }
        return token_ids

    def detokenize(self, token_ids):
        """Token ids back to text, as OpenAI's `SimpleTokenizer.decode`.

        Reads each row up to its first end token, drops start tokens and
        puts a space at each `</w>` (so punctuation comes back as separate
        words, as in OpenAI's decoder), then strips.

        Args:
            token_ids: int array-like of shape `(L,)` or `(batch, L)`.

        Returns:
            A str for one row, a list of str for a batch.
        """
        token_ids = np.asarray(token_ids)
        if token_ids.ndim not in (1, 2):
            raise ValueError(
                "token_ids must have rank 1 or 2. Received: "
                f"shape={token_ids.shape}"
            )
        rows = [self._decode_row(row) for row in np.atleast_2d(token_ids)]
        return rows[0] if token_ids.ndim == 1 else rows

    def _decode_row(self, row):
        tokens = []
        for i in row.tolist():
            if i == self.end_token_id:
                break
            if i not in self._id_to_token:
                raise ValueError(
                    f"token_ids holds an id not in vocabulary. Received: {i}"
                )
            if i != self.start_token_id:
                tokens.append(self._id_to_token[i])
        data = bytearray(self._byte_decoder[c] for c in "".join(tokens))
        text = data.decode("utf-8", errors="replace")
        return text.replace(END_OF_WORD, " ").strip()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.vocabulary,
                "merges": self.merges,
                "sequence_length": self.sequence_length,
                "pad_token_id": self.pad_token_id,
                "return_padding_mask": self.return_padding_mask,
            }
        )
        return config


_SHARED_BPE = collections.OrderedDict()


def _shared_bpe(vocabulary, merges):
    """The `_BPE` of a vocabulary and merges, shared by the tokenizers of a
    process that hold the same ones (so its function traces once)."""
    key = hashlib.sha256(json.dumps([vocabulary, merges]).encode()).hexdigest()
    if key not in _SHARED_BPE:
        _SHARED_BPE[key] = _BPE(vocabulary, merges)
        while len(_SHARED_BPE) > 8:
            _SHARED_BPE.popitem(last=False)
    _SHARED_BPE.move_to_end(key)
    return _SHARED_BPE[key]


class _BPE:
    """Clean-up, word split and BPE of a batch of texts, in TensorFlow.

    Only TensorFlow ops that keep NUL bytes (RE2 replacements, byte splits;
    `tf.strings.lower` and keras-hub's word split stop at the first NUL)
    read the text before the words reach keras-hub's BPE merge and its word
    cache. The words are this module's (OpenAI's pattern), not keras-hub's
    (GPT-2's, which drops a `६` digit, its own split marker).
    """

    def __init__(self, vocabulary, merges):
        import keras_hub  # Imported here: importing kerasmm stays fast.

        self.bpe = keras_hub.tokenizers.CLIPTokenizer(
            vocabulary=vocabulary, merges=merges
        )
        self.bpe._maybe_initialized_tf()  # Its TF tables, made eagerly.
        self.function = tf.function(
            self._tokenize,
            input_signature=[tf.TensorSpec([None], tf.string)],
            autograph=False,
        )

    def _tokenize(self, texts):
        """`(batch,)` strings -> ragged int32 ids `(batch, None)`."""
        words = split_words(texts)
        return tf.RaggedTensor.from_row_splits(
            self._word_ids(words.flat_values), words.row_splits
        ).merge_dims(1, 2)

    def _word_ids(self, words):
        # keras-hub's TF BPE past its word split: the cache maps each word to
        # its merged tokens ("dragon fly"); unseen words are merged and added.
        bpe = self.bpe
        merged = bpe.cache.lookup(words)

        def merge_unseen():
            bpe._bpe_merge_and_update_cache_tf(tf.boolean_mask(words, merged == ""))
            return bpe.cache.lookup(words)

        merged = tf.cond(tf.reduce_any(merged == ""), merge_unseen, lambda: merged)
        tokens = tf.strings.split(merged, sep=" ")
        return tf.cast(bpe.token_to_id_map.lookup(tokens), "int32")


def split_words(texts):
    """OpenAI's clean-up and words of `(batch,)` UTF-8 strings, ragged."""
    import tensorflow_text as tf_text

    texts = tf_text.normalize_utf8(texts, "NFC")
    texts = tf.strings.regex_replace(texts, WHITESPACE, " ")
    texts = tf.strings.regex_replace(texts, EDGE_SPACE, "")
    texts = _lower(texts)
    words = tf.strings.split(tf.strings.regex_replace(texts, WORD, r" \0 "), sep=" ")
    return tf.ragged.boolean_mask(words, words != "")


def _lower(texts):
    """`tf.strings.lower` past NUL bytes: each NUL-free piece lowered, then
    joined with a NUL after each piece and the last one dropped."""
    pieces = tf.strings.split(texts, sep="\x00")
    nul = tf.constant("\x00")
    pieces = tf.ragged.map_flat_values(
        lambda p: tf.strings.join([tf.strings.lower(p, encoding="utf-8"), nul]), pieces
    )
    joined = tf.strings.reduce_join(pieces, axis=-1)
    length = tf.strings.length(joined)
    return tf.strings.substr(joined, tf.zeros_like(length), length - 1)
