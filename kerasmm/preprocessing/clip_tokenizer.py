"""CLIP's byte-level BPE tokenizer with start/end tokens, truncation, padding."""

import json
import os
import unicodedata

import keras
import numpy as np
import regex
import tensorflow as tf

START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"
END_OF_WORD = "</w>"

# OpenAI's `whitespace_clean` collapses Python's unicode `\s`; RE2's `\s` is
# ASCII only, so the other unicode spaces are listed explicitly.
_WHITESPACE = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]+"
_PY_WHITESPACE = regex.compile(r"\s+")
_PY_DIGIT = regex.compile(r"(\p{N})")


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

    Byte-level BPE with `</w>` word ends, computed by
    `keras_hub.tokenizers.CLIPTokenizer`, and the same text clean-up as
    OpenAI's `simple_tokenizer.py`: whitespace runs collapsed, lowercase,
    each digit a word of its own. (OpenAI also runs `ftfy` and unescapes
    HTML; this tokenizer does not.) Every text becomes
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
    every backend accept.

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
        inputs: a str, a list of str, or a string tensor of rank 0 or 1.

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
        if (
            isinstance(sequence_length, bool)
            or not isinstance(sequence_length, (int, np.integer))
            or sequence_length < 2
        ):
            raise ValueError(
                "sequence_length must be an int >= 2 (room for the start and "
                f"end tokens). Received: sequence_length={sequence_length}"
            )
        if isinstance(pad_token_id, bool) or not isinstance(
            pad_token_id, (int, np.integer)
        ):
            raise ValueError(
                f"pad_token_id must be an int. Received: pad_token_id={pad_token_id}"
            )
        self.vocabulary = _load_vocabulary(vocabulary)
        self.merges = _load_merges(merges)
        self.sequence_length = int(sequence_length)
        self.pad_token_id = int(pad_token_id)
        self.return_padding_mask = bool(return_padding_mask)
        self._check_vocabulary()
        self.start_token_id = self.vocabulary[START_TOKEN]
        self.end_token_id = self.vocabulary[END_TOKEN]
        self._id_to_token = {i: t for t, i in self.vocabulary.items()}
        self._byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
        self._allow_non_tensor_positional_args = True
        self._convert_input_args = False
        self.built = True
        # A plain object, not a Layer: Keras neither tracks nor saves the
        # keras-hub layers inside it (`get_config` holds vocabulary, merges).
        self._graph = _BPEGraph(self)

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
        if isinstance(inputs, tf.Tensor):
            if inputs.dtype != tf.string or inputs.shape.rank not in (0, 1):
                raise ValueError(
                    "inputs must be a string tensor of rank 0 or 1. Received: "
                    f"dtype={inputs.dtype.name}, shape={inputs.shape}"
                )
            if not tf.executing_eagerly():
                return self._call_graph(inputs)
            inputs = inputs.numpy()
            inputs = inputs.tolist() if isinstance(inputs, np.ndarray) else inputs
        scalar = isinstance(inputs, (str, bytes))
        texts = [inputs] if scalar else inputs
        if not isinstance(texts, (list, tuple)) or not all(
            isinstance(t, (str, bytes)) for t in texts
        ):
            raise TypeError(
                "inputs must be a str, a list of str or a string tensor. "
                f"Received: inputs={inputs!r:.80}"
            )
        texts = [t.decode("utf-8") if isinstance(t, bytes) else t for t in texts]
        token_ids, padding_mask = self._graph.tokenize_python(texts)
        if scalar:
            token_ids, padding_mask = token_ids[0], padding_mask[0]
        return self._outputs(tf.constant(token_ids), tf.constant(padding_mask))

    def _call_graph(self, inputs):
        scalar = inputs.shape.rank == 0
        token_ids, padding_mask = self._graph.function(tf.reshape(inputs, [-1]))
        if scalar:
            token_ids, padding_mask = token_ids[0], padding_mask[0]
        return self._outputs(token_ids, padding_mask)

    def _outputs(self, token_ids, padding_mask):
        if self.return_padding_mask:
            return {"token_ids": token_ids, "padding_mask": padding_mask}
        return token_ids

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


def _clean_text(text):
    """OpenAI's clean-up, less ftfy and HTML unescaping: NFC, whitespace
    runs to one space, strip, lowercase, and a space around each digit (its
    word pattern makes each digit a word)."""
    text = unicodedata.normalize("NFC", text)
    text = _PY_WHITESPACE.sub(" ", text).strip().lower()
    return _PY_DIGIT.sub(r" \1 ", text)


class _BPEGraph:
    """The two paths of `CLIPTokenizer`: Python (eager) and TensorFlow.

    Eager calls use keras-hub's Python path (the `tokenizers` library), which
    is fast and needs no tracing; `tf.data` and `tf.function` use its
    TensorFlow path, traced once per tokenizer into one `tf.function`.
    """

    def __init__(self, layer):
        import keras_hub  # Imported here: importing kerasmm stays fast.

        self.sequence_length = layer.sequence_length
        self.start_token_id = layer.start_token_id
        self.end_token_id = layer.end_token_id
        self.pad_token_id = layer.pad_token_id
        self.bpe = keras_hub.tokenizers.CLIPTokenizer(
            vocabulary=layer.vocabulary, merges=layer.merges
        )
        self.packer = keras_hub.layers.StartEndPacker(
            sequence_length=layer.sequence_length,
            start_value=layer.start_token_id,
            end_value=layer.end_token_id,
            pad_value=layer.pad_token_id,
            return_padding_mask=True,
        )
        self.function = tf.function(
            self._tokenize_tf,
            input_signature=[tf.TensorSpec([None], tf.string)],
            autograph=False,
        )

    def tokenize_python(self, texts):
        rows = self.bpe.tokenize([_clean_text(t) for t in texts]) if texts else []
        length = self.sequence_length
        token_ids = np.full((len(rows), length), self.pad_token_id, "int32")
        padding_mask = np.zeros((len(rows), length), "bool")
        for i, row in enumerate(rows):
            row = [self.start_token_id] + list(row)[: length - 2]
            row.append(self.end_token_id)
            token_ids[i, : len(row)] = row
            padding_mask[i, : len(row)] = True
        return token_ids, padding_mask

    def _tokenize_tf(self, texts):
        import tensorflow_text as tf_text

        texts = tf_text.normalize_utf8(texts, "NFC")
        texts = tf.strings.regex_replace(texts, _WHITESPACE, " ")
        texts = tf.strings.lower(tf.strings.strip(texts), encoding="utf-8")
        # keras-hub's TF word pattern groups digit runs; OpenAI's does not.
        texts = tf.strings.regex_replace(texts, r"(\p{N})", r" \1 ")
        with tf.device("/cpu:0"):
            # In a tf.function keras-hub takes its TF path: ragged ids.
            tokens = self.bpe.tokenize(texts)
            token_ids, padding_mask = self.packer(tf.cast(tokens, "int32"))
        return tf.cast(token_ids, "int32"), padding_mask
