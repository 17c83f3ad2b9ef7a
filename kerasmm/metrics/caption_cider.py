"""CIDEr-D, as `pycocoevalcap.cider.Cider` computes it."""

import math

import numpy as np

from kerasmm.metrics.caption_text import ngram_counts
from kerasmm.metrics.caption_text import tokenize_captions
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int


def _tfidf(counts, document_frequency, log_num_items, max_order):
    """Per-order tf-idf vectors, their norms and the "length" of one caption."""
    vectors = [{} for _ in range(max_order)]
    norms = [0.0] * max_order
    for gram, term_frequency in counts.items():
        df = math.log(max(1.0, document_frequency.get(gram, 0.0)))
        order = len(gram) - 1
        vectors[order][gram] = float(term_frequency) * (log_num_items - df)
        norms[order] += vectors[order][gram] ** 2
    # pycocoevalcap counts the bigrams as the length (its `if n == 1`, with
    # n the 0-based order); kept so that the Gaussian penalty matches.
    length = sum(c for gram, c in counts.items() if len(gram) == 2)
    return vectors, [math.sqrt(n) for n in norms], length


def _similarity(candidate, reference, sigma, max_order):
    (vec, norm, length), (ref_vec, ref_norm, ref_length) = candidate, reference
    delta = float(length - ref_length)
    values = np.zeros(max_order)
    for k in range(max_order):
        for gram, value in vec[k].items():
            ref_value = ref_vec[k].get(gram, 0.0)
            # CIDEr-D clips the candidate's weight at the reference's.
            values[k] += min(value, ref_value) * ref_value
        if norm[k] != 0 and ref_norm[k] != 0:
            values[k] /= norm[k] * ref_norm[k]
        values[k] *= np.e ** (-(delta**2) / (2 * sigma**2))
    return values


def cider_d(references, predictions, sigma=6.0, max_order=4, per_caption=False):
    """CIDEr-D of captions against their references, as pycocoevalcap's `Cider`.

    Each caption and reference becomes tf-idf vectors of its 1..`max_order`
    grams, the document frequencies counted over the references of the
    corpus being scored (so the score depends on the whole corpus, as
    pycocoevalcap's). Per item: the mean over orders of the cosine
    similarity with each reference, the candidate's weights clipped at the
    reference's, times a Gaussian length penalty (`sigma`), averaged over
    references and times 10. Captions are tokenised by `tokenize_caption`.
    Equal to pycocoevalcap's `CIDEr` on the same tokens (a test checks
    1e-6).

    Args:
        references: list over items of a str or a list of str.
        predictions: list of str, one per item.
        sigma: positive float, width of the length penalty.
        max_order: positive int, the longest n-gram.
        per_caption: bool, also return the score of each item.

    Returns:
        float, the corpus CIDEr-D (the mean over items; 10 at most per
        item), or `(score, per_item_scores)` with a float64 numpy array if
        `per_caption`.

    Example:

    >>> refs = [["a red circle", "a small red circle"], ["a blue square"]]
    >>> round(cider_d(refs, ["a red circle", "a blue square"]), 4)
    6.3799

    Reference:
        [Vedantam et al., 2015](https://arxiv.org/abs/1411.5726),
        github.com/tylin/coco-caption `pycocoevalcap/cider/cider_scorer.py`.
    """
    sigma = check_number("sigma", sigma, minimum=0, exclusive_minimum=True)
    max_order = check_positive_int("max_order", max_order)
    check_bool("per_caption", per_caption)
    references, predictions = tokenize_captions(references, predictions)
    reference_counts = [[ngram_counts(r.split(), max_order) for r in refs] for refs in references]
    document_frequency = {}
    for counts in reference_counts:
        for gram in set().union(*counts):
            document_frequency[gram] = document_frequency.get(gram, 0.0) + 1.0
    log_num_items = math.log(float(len(references)))

    def vectors(counts):
        return _tfidf(counts, document_frequency, log_num_items, max_order)

    scores = []
    for prediction, counts in zip(predictions, reference_counts):
        candidate = vectors(ngram_counts(prediction.split(), max_order))
        total = np.zeros(max_order)
        for ref in counts:
            total += _similarity(candidate, vectors(ref), sigma, max_order)
        scores.append(np.mean(total) / len(counts) * 10.0)
    scores = np.array(scores, dtype="float64")
    score = float(np.mean(scores))
    return (score, scores) if per_caption else score
