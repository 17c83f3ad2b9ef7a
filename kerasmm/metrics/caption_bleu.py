"""Corpus BLEU as captioning papers report it (pycocoevalcap's `Bleu`)."""

import math

from kerasmm.metrics.caption_text import ngram_counts
from kerasmm.metrics.caption_text import tokenize_captions
from kerasmm.utils.checks import check_positive_int

# pycocoevalcap's smoothing constants: a zero match count gives ~0, never NaN.
_TINY = 1e-15
_SMALL = 1e-9


def corpus_bleu(references, predictions, max_order=4):
    """Corpus BLEU-`max_order` of captions, as `pycocoevalcap.bleu.Bleu`.

    Clipped n-gram matches and candidate n-gram counts are summed over the
    corpus, their ratios combined by a geometric mean over orders
    1..`max_order`, times a brevity penalty whose reference length, per
    item, is the reference closest in length to the prediction (ties to
    the shorter: pycocoevalcap's "closest"). Captions are tokenised by
    `tokenize_caption` (lowercase, punctuation stripped; see
    `kerasmm.metrics.caption_text`). Equal to pycocoevalcap's
    `Bleu_{max_order}` on the same tokens (a test checks 1e-6).

    Args:
        references: list over items of a str or a list of str.
        predictions: list of str, one per item.
        max_order: positive int, the longest n-gram (4 for BLEU-4).

    Returns:
        float in [0, 1].

    Example:

    >>> round(corpus_bleu([["a small red circle"]], ["a small red circle"]), 6)
    1.0
    >>> corpus_bleu([["a small red circle"]], ["a big blue square"]) < 1e-4
    True
    """
    max_order = check_positive_int("max_order", max_order)
    references, predictions = tokenize_captions(references, predictions)
    correct = [0] * max_order
    guess = [0] * max_order
    test_length = 0
    reference_length = 0
    for refs, prediction in zip(references, predictions):
        words = prediction.split()
        max_ref_counts = {}
        ref_lengths = []
        for ref in refs:
            ref_words = ref.split()
            ref_lengths.append(len(ref_words))
            for gram, count in ngram_counts(ref_words, max_order).items():
                max_ref_counts[gram] = max(max_ref_counts.get(gram, 0), count)
        for gram, count in ngram_counts(words, max_order).items():
            correct[len(gram) - 1] += min(max_ref_counts.get(gram, 0), count)
        for k in range(max_order):
            guess[k] += max(0, len(words) - k)
        test_length += len(words)
        reference_length += min((abs(n - len(words)), n) for n in ref_lengths)[1]
    bleu = 1.0
    for k in range(max_order):
        bleu *= (correct[k] + _TINY) / (guess[k] + _SMALL)
    bleu = bleu ** (1.0 / max_order)
    ratio = (test_length + _TINY) / (reference_length + _SMALL)
    if ratio < 1:
        bleu *= math.exp(1 - 1 / ratio)
    return float(bleu)
