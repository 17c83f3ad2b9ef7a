"""SigLIP's SentencePiece tokenizer (through keras-hub), canonicalised and padded."""

import keras
import keras_hub
import tensorflow as tf

from kerasmm.preprocessing.text_inputs import string_tensor
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_positive_int

# Python's `string.punctuation` (Hugging Face's `SiglipTokenizer.remove_punctuation`).
PUNCTUATION = r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]"""
# The characters of Python's `str.isspace()` (the `\s` of `re` on str), which
# `re.sub(r"\s+", " ", text)` collapses; RE2's `\s` is ASCII only.
WHITESPACE = (r"[\t-\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}"
              r"\x{2029}\x{202f}\x{205f}\x{3000}]+")


@keras.saving.register_keras_serializable(package="kerasmm")
class SigLIPTokenizer(keras.layers.Layer):
    """Strings to SigLIP token ids: canonicalise, SentencePiece, end token, pad.

    The tokenization SigLIP's text tower was trained with, as Hugging Face's
    `SiglipTokenizer(...)(texts, padding="max_length", truncation=True)`
    computes it: optionally lowercase (Unicode, `lowercase`) and
    canonicalise (`canonicalize`: remove Python's ASCII `string.punctuation`,
    collapse whitespace runs to one space, trim); tokenize with the SentencePiece model (keras-hub's
    `SentencePieceTokenizer`, TensorFlow Text inside); cut to
    `sequence_length - 1` ids, append `end_token` (kept when a text is cut,
    big_vision's `eos="sticky"`) and pad with `pad_token` to
    `sequence_length`. SigLIP 2 (Gemma's tokenizer) lowercases only, as
    big_vision's `lower|tok(..., bos="no", eos="sticky")` and Hugging Face's
    `Siglip2Tokenizer` (with `add_bos_token=False, add_eos_token=True`).

    It runs in TensorFlow (eagerly or inside `tf.data.Dataset.map`, with
    identical results) whatever the Keras backend, and returns int32
    `tf.Tensor`s. `get_config` leaves the model proto out; Keras saves it as
    an asset of the inner keras-hub tokenizer (`.keras` files), and
    `SigLIPPreprocessor.save_to_preset` as a file.

    Args:
        proto: the SentencePiece model: a file path or its bytes
            (`spiece.model` for SigLIP, `tokenizer.model` for SigLIP 2).
        sequence_length: int, length of every output row (SigLIP: 64).
        end_token: str, the piece appended to every text (`"</s>"`; SigLIP
            2: `"<eos>"`).
        pad_token: str, the padding piece (`"</s>"`; SigLIP 2: `"<pad>"`).
        lowercase: bool, lowercase the texts first.
        canonicalize: bool, remove ASCII punctuation, collapse and trim
            whitespace (SigLIP: True; SigLIP 2: False).
        sentence_piece: what `get_config` writes (the inner keras-hub
            tokenizer); give `proto` instead.

    Call arguments:
        inputs: a str, a list of str or a string tensor of rank 0 or 1.

    Returns:
        int32 `(batch, sequence_length)` (or `(sequence_length,)` for one
        str).

    Reference:
        Hugging Face transformers `models/siglip/tokenization_siglip.py`;
        big_vision `pp/ops_text.py` (`tokenize`).
    """

    def __init__(self, proto=None, sequence_length=64, end_token="</s>", pad_token="</s>",
                 lowercase=True, canonicalize=True, sentence_piece=None, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = check_positive_int("sequence_length", sequence_length)
        self.lowercase = check_bool("lowercase", lowercase)
        self.canonicalize = check_bool("canonicalize", canonicalize)
        for name, value in (("end_token", end_token), ("pad_token", pad_token)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty str. Received: {name}={value!r}")
        self.end_token = end_token
        self.pad_token = pad_token
        if isinstance(sentence_piece, dict):  # From get_config: the proto comes as an asset.
            sentence_piece = keras.saving.deserialize_keras_object(sentence_piece)
        elif proto is not None:
            sentence_piece = keras_hub.tokenizers.SentencePieceTokenizer(
                proto=proto, name="sentence_piece")
        if not isinstance(sentence_piece, keras_hub.tokenizers.SentencePieceTokenizer):
            raise ValueError("proto must be a SentencePiece model (a file path or its "
                             f"bytes). Received: proto={proto!r:.80}")
        self.sentence_piece = sentence_piece
        self._allow_non_tensor_positional_args = True
        self._convert_input_args = False
        self._tokenize = self._traced()
        self.built = True

    def _traced(self):
        return tf.function(self._tokenize_strings,
                           input_signature=[tf.TensorSpec([None], tf.string)],
                           autograph=False)

    def _token_id(self, name, token):
        token_id = self.sentence_piece.token_to_id(token)
        if self.sentence_piece.id_to_token(token_id) != token:
            raise ValueError(f"{name} must be a piece of the SentencePiece model. "
                             f"Received: {name}={token!r}")
        return int(token_id)

    @property
    def end_token_id(self):
        return self._token_id("end_token", self.end_token)

    @property
    def pad_token_id(self):
        return self._token_id("pad_token", self.pad_token)

    @property
    def proto(self):
        """The SentencePiece model, as bytes."""
        return self.sentence_piece.proto

    def normalize(self, texts):
        """The texts as the SentencePiece model gets them (a string tensor):
        Hugging Face's `SiglipTokenizer.canonicalize_text`."""
        if self.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        if self.canonicalize:
            texts = tf.strings.regex_replace(texts, PUNCTUATION, "")
            texts = tf.strings.strip(tf.strings.regex_replace(texts, WHITESPACE, " "))
        return texts

    def _tokenize_strings(self, texts):
        # A fresh SentencePiece resource for each trace (tf.data builds its
        # own): `tf.random.set_seed` (and `keras.utils.set_random_seed`)
        # clears TensorFlow's kernel caches, which deletes the TensorFlow
        # Text resources earlier traces hold.
        self.sentence_piece.set_proto(self.sentence_piece.proto)
        # Inside a tf.function, keras-hub takes its TensorFlow Text path.
        ragged = self.sentence_piece(self.normalize(texts))
        ragged = ragged[:, : self.sequence_length - 1]
        end = tf.fill([tf.shape(texts)[0], 1], tf.constant(self.end_token_id, ragged.dtype))
        ragged = tf.concat([ragged, end], axis=1)
        ids = ragged.to_tensor(default_value=self.pad_token_id,
                               shape=[None, self.sequence_length])
        return tf.cast(ids, "int32")

    def call(self, inputs):
        texts, scalar = string_tensor("inputs", inputs)
        texts = tf.reshape(texts, [-1])
        if not tf.executing_eagerly():  # Traced into the caller's graph (tf.data).
            ids = self._tokenize_strings(texts)
        else:
            try:
                ids = self._tokenize(texts)
            except tf.errors.NotFoundError:
                # Its SentencePiece resource was deleted since (see above).
                self._tokenize = self._traced()
                ids = self._tokenize(texts)
        return ids[0] if scalar else ids

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.sequence_length,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "sequence_length": self.sequence_length,
            "end_token": self.end_token,
            "pad_token": self.pad_token,
            "lowercase": self.lowercase,
            "canonicalize": self.canonicalize,
            "sentence_piece": keras.saving.serialize_keras_object(self.sentence_piece),
        })
        return config
