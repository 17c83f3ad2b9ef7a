"""Caption tokenisation and the reference / prediction checks of the caption metrics.

Captioning papers score with `pycocoevalcap`, which first runs the Stanford
PTB tokenizer (Java) and drops punctuation tokens. kerasmm does not run
Java; `tokenize_caption` approximates it: lowercase, every ASCII punctuation
character replaced by a space, then split on whitespace. On plain captions
("A red circle.") both give the same words; they differ on clitics and
hyphens (PTB keeps "dog 's" and "black-and-white", this gives "dog s" and
"black and white").
"""

import string

_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation})


def tokenize_caption(caption):
    """Words of a caption: lowercased, punctuation stripped, space-joined.

    Args:
        caption: str.

    Returns:
        str, the words joined by single spaces (what `pycocoevalcap`'s
        scorers receive after its tokenizer).

    Example:

    >>> tokenize_caption("A Red circle, on the LEFT.")
    'a red circle on the left'
    """
    if not isinstance(caption, str):
        raise TypeError(f"caption must be a str. Received: caption={caption!r}")
    return " ".join(caption.lower().translate(_PUNCTUATION).split())


def tokenize_captions(references, predictions):
    """Checks and tokenises a corpus: one prediction and >= 1 references per item.

    Args:
        references: list over items of a str (one reference) or a non-empty
            list of str.
        predictions: list of str, one per item.

    Returns:
        `(references, predictions)` tokenised: a list of lists of str and a
        list of str.
    """
    if isinstance(predictions, str) or not hasattr(predictions, "__len__"):
        raise TypeError(f"predictions must be a list of str. Received: predictions={predictions!r}")
    if isinstance(references, str) or not hasattr(references, "__len__"):
        raise TypeError(f"references must be a list. Received: references={references!r}")
    if len(references) != len(predictions) or not predictions:
        raise ValueError(
            "references and predictions must be non-empty and of the same length. "
            f"Received: len(references)={len(references)}, "
            f"len(predictions)={len(predictions)}"
        )
    tokenized_references = []
    for i, refs in enumerate(references):
        refs = [refs] if isinstance(refs, str) else list(refs)
        if not refs:
            raise ValueError(
                f"Every item needs at least one reference. Received: references[{i}]=[]"
            )
        tokenized_references.append([tokenize_caption(r) for r in refs])
    return tokenized_references, [tokenize_caption(p) for p in predictions]


def ngram_counts(words, max_order):
    """Counts of the 1..max_order-grams (tuples) of a list of words."""
    counts = {}
    for k in range(1, max_order + 1):
        for i in range(len(words) - k + 1):
            gram = tuple(words[i : i + k])
            counts[gram] = counts.get(gram, 0) + 1
    return counts


def exact_match(references, predictions):
    """Fraction of predictions equal to one of their references, once tokenised.

    Args:
        references: list over items of a str or a list of str.
        predictions: list of str.

    Returns:
        float in [0, 1].

    Example:

    >>> exact_match([["a red circle", "a circle"], "a blue square"],
    ...             ["A red circle.", "a green square"])
    0.5
    """
    references, predictions = tokenize_captions(references, predictions)
    hits = sum(p in refs for refs, p in zip(references, predictions))
    return hits / len(predictions)
