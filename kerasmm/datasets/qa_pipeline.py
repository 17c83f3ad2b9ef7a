"""What the embedded question sets share: a word tokenizer and `tf.data` batches.

The question sets (`shapes_vqa`, `chart_qa`, `multimodal_sentiment`) have
small closed vocabularies, so each tokenizes with a `WordTokenizer` of its
words (one id per word, no BPE) and feeds `fit` through `qa_batches`:
`({"images", "token_ids", "padding_mask"}, labels)`, the inputs of every
kerasmm fusion backbone (`ViLT`, `MMBT`, `CoAttentionTransformer`).
Images are scaled as ViLT's: `(pixels / 255 - 0.5) / 0.5`, in [-1, 1].
"""

import re

import numpy as np
import tensorflow as tf

from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_strings

SPECIAL_TOKENS = ("[PAD]", "[CLS]", "[SEP]", "[UNK]")
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def split_words(text):
    """Lowercase words and punctuation marks of `text` (list of str).

    >>> split_words("Is A greater than B?")
    ['is', 'a', 'greater', 'than', 'b', '?']
    """
    return _WORD.findall(str(text).lower())


class WordTokenizer:
    """Word-level ids `[CLS] words [SEP] [PAD]...` over a closed vocabulary.

    Ids: 0 `[PAD]`, 1 `[CLS]`, 2 `[SEP]`, 3 `[UNK]`, then `words` in order.
    Longer texts are truncated (their `[SEP]` kept).

    Args:
        words: iterable of str, the vocabulary (duplicates dropped, order kept).
        sequence_length: int, length of the padded ids.

    Call arguments:
        texts: a list of str.

    Returns:
        `{"token_ids": int32 (N, sequence_length), "padding_mask": bool}`
        (numpy).

    Example:
    >>> tokenizer = WordTokenizer(["what", "color", "?"], sequence_length=6)
    >>> tokenizer(["What colour?"])["token_ids"].tolist()
    [[1, 4, 3, 6, 2, 0]]
    """

    def __init__(self, words, sequence_length):
        self.sequence_length = check_positive_int("sequence_length", sequence_length)
        if sequence_length < 3:
            raise ValueError("sequence_length must be >= 3 ([CLS], a word, [SEP]). "
                             f"Received: sequence_length={sequence_length}")
        self.vocabulary = list(SPECIAL_TOKENS)
        for word in words:
            if word not in self.vocabulary:
                self.vocabulary.append(word)
        self._ids = {word: i for i, word in enumerate(self.vocabulary)}
        self.pad_token_id, self.start_token_id, self.end_token_id, self.unk_token_id = 0, 1, 2, 3

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def __call__(self, texts):
        texts = check_strings("texts", texts)
        ids = np.zeros((len(texts), self.sequence_length), dtype="int32")
        for row, text in enumerate(texts):
            words = split_words(text)[: self.sequence_length - 2]
            tokens = [self.start_token_id]
            tokens += [self._ids.get(w, self.unk_token_id) for w in words]
            ids[row, : len(tokens) + 1] = tokens + [self.end_token_id]
        return {"token_ids": ids, "padding_mask": ids != self.pad_token_id}


def vocabulary_of(texts):
    """The sorted distinct words of `texts`."""
    return sorted({w for text in texts for w in split_words(text)})


def _tokenize(tokenizer, texts):
    """`{"token_ids", "padding_mask"}` of `texts`, each distinct text tokenized once."""
    unique, index = np.unique(np.asarray(texts).astype(str), return_inverse=True)
    out = tokenizer(list(unique))
    if not isinstance(out, dict):
        out = {"token_ids": np.asarray(out)}
    out = {k: np.asarray(v)[index.reshape(-1)] for k, v in out.items()}
    if "padding_mask" not in out:
        out["padding_mask"] = out["token_ids"] != getattr(tokenizer, "pad_token_id", 0)
    return out


def scale_images(images):
    """uint8 pixels to ViLT's scale, float32 in [-1, 1] (works in `tf.data`)."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def qa_batches(images, texts, labels, tokenizer, batch_size, shuffle=True, seed=0,
               drop_remainder=True, blank=None):
    """`tf.data` batches `({"images", "token_ids", "padding_mask"}, labels)`.

    Args:
        images: uint8 `(N, H, W, 3)`.
        texts: N str (questions or sentences).
        labels: int `(N,)` (answer or class ids).
        tokenizer: callable from a list of str to ids or to a dict with
            `"token_ids"` (and optionally `"padding_mask"`).
        batch_size: int.
        shuffle: bool, reshuffle every epoch.
        seed: int, seed of the shuffling.
        drop_remainder: bool.
        blank: None, `"text"` or `"image"`: the modality to blank, for
            single-modality ablations (text: only `[CLS] [SEP]`; image:
            all zeros, i.e. mid grey).

    Returns:
        A `tf.data.Dataset`: images float32 in [-1, 1].
    """
    batch_size = check_positive_int("batch_size", batch_size)
    for name, value in (("shuffle", shuffle), ("drop_remainder", drop_remainder)):
        check_bool(name, value)
    if blank not in (None, "text", "image"):
        raise ValueError(f"blank must be None, 'text' or 'image'. Received: blank={blank!r}")
    if drop_remainder and len(texts) < batch_size:
        raise ValueError("With drop_remainder=True, num_examples must be >= batch_size. "
                         f"Received: num_examples={len(texts)}, batch_size={batch_size}")
    features = _tokenize(tokenizer, [""] * len(texts) if blank == "text" else texts)
    features["images"] = np.zeros_like(images) + 128 if blank == "image" else images
    labels = np.asarray(labels, dtype="int32")
    ds = tf.data.Dataset.from_tensor_slices((features, labels))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    def scale(x, y):
        return {**x, "images": scale_images(x["images"])}, y

    return ds.map(scale, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
