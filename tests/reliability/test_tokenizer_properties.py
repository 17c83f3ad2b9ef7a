"""The tokenizers give the same ids eagerly and inside `tf.data`, for every string.

Failed before the fix (HEAD 9d51597):
- `"red\\x00circle"`: eager `[sot, red, 444, circle, eot]`, in `tf.data`
  `[sot, red, eot]` (the NUL cut the text: `tf.strings.lower` and
  keras-hub's word split stop at NUL);
- `"red\\x1ccircle"`: `\\x1c` was whitespace in `tf.data` only (OpenAI's
  `regex` `\\s` does not match it);
- `"६"` (Devanagari six): dropped in `tf.data` (keras-hub's split marker);
- `"'ſ"`: both paths split `'` from `ſ`; OpenAI's case-insensitive `'s`
  takes them as one word (found by the reference property test);
- invalid UTF-8 bytes: eagerly a `RuntimeError("utf-8")`, in `tf.data`
  silently tokenized by the CLIP tokenizer; a `str` with a lone surrogate
  gave `TypeError: TextEncodeInput must be Union[...]` (CLIP) or TF's
  `Error converting unicode string` (byte tokenizer).
"""

import queue
import sys

import numpy as np
import pytest
import regex
import tensorflow as tf
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kerasmm.preprocessing import ByteTokenizer
from tests.preprocessing.openai_bpe import OpenAIBPE
from tests.preprocessing.tiny_vocab import MERGES
from tests.preprocessing.tiny_vocab import make_vocabulary
from tests.preprocessing.tiny_vocab import tiny_tokenizer

# Characters each path has got wrong, or could: controls and NUL, every kind
# of space, combining marks, RTL letters and marks, emoji (with ZWJ and
# skin tone), case-mapping oddities, digits of other scripts, apostrophes.
TRICKY = list(
    "\x00\x01\x1c\x1d\x1f\x7f\x85\t\n\x0b\x0c\r \xa0\u1680\u2007\u200b\u2028\u2029"
    "\u202f\u3000\ufeff\u0301\u0308\u20dd\u05d0\u05b8\u0627\u064b\u200e\u200f"
    "\u202e\U0001f600\u200d\U0001f3fd\u2764\ufe0f\u0130\u03a3\u00df\u1e9e\u01c5"
    "\u017f\u212a\u0966\u096c\u0661\uff11\u00bd'sStdlLmM!?,.-_<|>"
)
SPECIALS = ["<|startoftext|>", "<|endoftext|>", "<|ENDOFTEXT|>", "'s", "'LL", "'ſ"]
TEXT = st.lists(
    st.one_of(st.text(max_size=6), st.text(st.sampled_from(TRICKY), max_size=6),
              st.sampled_from(SPECIALS)),
    max_size=5,
).map("".join)
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


class TFDataFeed:
    """One `tf.data` pipeline per tokenizer, fed example by example.

    `Dataset.from_generator(...).map(tokenizer)` is built and traced once;
    each call puts a batch into the generator's queue and reads the mapped
    batch back (a new dataset per hypothesis example would trace again).
    """

    def __init__(self, tokenizer, batched=True):
        self.queue = queue.Queue()
        spec = tf.TensorSpec([None] if batched else [], tf.string)
        data = tf.data.Dataset.from_generator(self._generate, output_signature=spec)
        self.iterator = iter(data.map(tokenizer))

    def _generate(self):
        while (item := self.queue.get()) is not None:
            yield item

    def __call__(self, texts):
        self.queue.put(texts)
        return tf.nest.map_structure(np.asarray, next(self.iterator))

    def close(self):
        self.queue.put(None)


@pytest.fixture(scope="module")
def clip_tokenizer():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def clip_in_tf_data(clip_tokenizer):
    batched, single = TFDataFeed(clip_tokenizer), TFDataFeed(clip_tokenizer, batched=False)

    def run(texts):
        ids = batched(texts)
        np.testing.assert_array_equal(np.stack([single(t) for t in texts]), ids)
        return ids

    yield run
    batched.close()
    single.close()


@SETTINGS
@given(texts=st.lists(TEXT, min_size=1, max_size=4))
def test_clip_tokenizer_same_ids_eagerly_and_in_tf_data(clip_tokenizer, clip_in_tf_data,
                                                         texts):
    eager = np.asarray(clip_tokenizer(texts))
    np.testing.assert_array_equal(clip_in_tf_data(texts), eager)
    # A str, its UTF-8 bytes and a scalar call agree too.
    utf8 = [t.encode("utf-8") for t in texts]
    np.testing.assert_array_equal(np.asarray(clip_tokenizer(utf8)), eager)
    np.testing.assert_array_equal(np.asarray(clip_tokenizer(texts[0])), eager[0])


# Scripts whose Unicode properties have been stable for many versions, so
# that Python's `regex` (the reference) and TensorFlow's RE2 / ICU agree.
STABLE = st.characters(
    codec="utf-8", max_codepoint=0x2FFF,
    categories=("Lu", "Ll", "Lt", "Lo", "Mn", "Nd", "No", "Po", "Ps", "Pe", "Sm",
                "Sc", "So", "Zs", "Cc"),
)


@SETTINGS
@given(text=st.lists(st.one_of(st.text(STABLE, max_size=6),
                               st.text(st.sampled_from(TRICKY), max_size=6),
                               st.sampled_from(SPECIALS)), max_size=5).map("".join))
def test_clip_tokenizer_matches_openai_reference(clip_tokenizer, clip_in_tf_data, text):
    import unicodedata

    reference = OpenAIBPE(make_vocabulary(), MERGES)
    expected = reference.tokenize(unicodedata.normalize("NFC", text), 10)
    assert np.asarray(clip_tokenizer(text)).tolist() == expected
    assert clip_in_tf_data([text])[0].tolist() == expected


@pytest.mark.parametrize("text", ["red\x00circle", "red\x1ccircle", "\x1cred\x1f",
                                  "\u096c red", "RED\u2028circle\x85"])
def test_clip_tokenizer_known_cases(clip_tokenizer, clip_in_tf_data, text):
    reference = OpenAIBPE(make_vocabulary(), MERGES)
    expected = reference.tokenize(text, 10)
    assert np.asarray(clip_tokenizer([text]))[0].tolist() == expected
    assert clip_in_tf_data([text])[0].tolist() == expected


def test_clip_whitespace_is_openai_whitespace():
    """The RE2 classes equal `regex`'s `\\s` and `str.isspace` on every code point."""
    from kerasmm.preprocessing.clip_tokenizer import EDGE_SPACE
    from kerasmm.preprocessing.clip_tokenizer import WHITESPACE

    points = [c for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    chars = [chr(c) for c in points]
    re2 = tf.strings.regex_full_match(tf.constant(chars), WHITESPACE).numpy()
    expected = np.array([bool(regex.fullmatch(r"\s", c)) for c in chars])
    np.testing.assert_array_equal(re2, expected)
    # What str.strip() removes beyond White_Space, once runs became " ".
    edge = tf.strings.regex_full_match(tf.constant(chars), EDGE_SPACE).numpy()
    expected_edge = np.array([c.isspace() and not regex.fullmatch(r"\s", c) or c == " "
                              for c in chars])
    np.testing.assert_array_equal(edge, expected_edge)


INVALID_UTF8 = st.binary(min_size=1, max_size=12).filter(
    lambda b: not _decodes(b))


def _decodes(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


@pytest.fixture(scope="module")
def clip_feed(clip_tokenizer):
    feed = TFDataFeed(clip_tokenizer)
    yield feed
    feed.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=INVALID_UTF8, prefix=st.text(max_size=3))
def test_clip_refuses_invalid_utf8_naming_the_encoding(clip_tokenizer, clip_feed, data,
                                                       prefix):
    text = prefix.encode("utf-8") + data
    with pytest.raises(ValueError, match="valid UTF-8"):
        clip_tokenizer([b"fine", text])
    with pytest.raises(ValueError, match="valid UTF-8"):
        clip_tokenizer(tf.constant([text]))
    # Inside tf.data no Python error can be raised: the assertion's message.
    with pytest.raises(tf.errors.InvalidArgumentError, match="valid UTF-8"):
        clip_feed([b"fine", text])
    clip_feed([b"fine"])  # The pipeline goes on.


def test_lone_surrogate_is_refused():
    # A str with a lone surrogate has no UTF-8 bytes, for either tokenizer.
    for tokenizer in (tiny_tokenizer(), ByteTokenizer()):
        with pytest.raises(ValueError, match="valid UTF-8"):
            tokenizer(["a\ud800b"])


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "special_tokens"])
def byte_tokenizer_and_feed(request):
    tokenizer = ByteTokenizer(sequence_length=24, add_special_tokens=request.param)
    feed = TFDataFeed(tokenizer)
    yield tokenizer, feed
    feed.close()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(TEXT, st.binary(max_size=8)), min_size=1, max_size=4))
def test_byte_tokenizer_same_ids_eagerly_and_in_tf_data(byte_tokenizer_and_feed, texts):
    """Any bytes, valid UTF-8 or not (a byte tokenizer takes them as they are)."""
    tokenizer, in_tf_data = byte_tokenizer_and_feed
    eager = tokenizer(texts)
    graph = in_tf_data(texts)
    for key in ("token_ids", "padding_mask"):
        np.testing.assert_array_equal(graph[key], np.asarray(eager[key]))
    # The ids are the UTF-8 bytes (+6), NUL included.
    special = tokenizer.add_special_tokens
    ids = np.asarray(eager["token_ids"])[0]
    body = ids[1:] if special else ids
    data = texts[0] if isinstance(texts[0], bytes) else texts[0].encode("utf-8")
    expected = [b + 6 for b in data][: 22 if special else 24]
    assert body[: len(expected)].tolist() == expected
