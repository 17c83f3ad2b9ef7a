"""The captioning scores reported together: BLEU-4, CIDEr-D, exact match."""

from kerasmm.metrics.caption_bleu import corpus_bleu
from kerasmm.metrics.caption_cider import cider_d
from kerasmm.metrics.caption_text import exact_match


def caption_metrics(references, predictions):
    """BLEU-4, CIDEr-D and exact match of a corpus of captions.

    Args:
        references: list over items of a str or a list of str.
        predictions: list of str, one per item.

    Returns:
        dict `{"bleu_4", "cider_d", "exact_match"}` of floats (see
        `corpus_bleu`, `cider_d`, `exact_match`).

    Example:

    >>> scores = caption_metrics([["a red circle"], ["a blue square"]],
    ...                          ["a red circle", "a blue circle"])
    >>> scores["exact_match"]
    0.5
    """
    return {
        "bleu_4": corpus_bleu(references, predictions, max_order=4),
        "cider_d": cider_d(references, predictions),
        "exact_match": exact_match(references, predictions),
    }
