"""Writes the pycocoevalcap reference numbers of kerasmm's caption metrics.

    python3 -m venv /work/cocoevalvenv
    /work/cocoevalvenv/bin/pip install pycocoevalcap
    /work/cocoevalvenv/bin/python tools/caption_metrics_fixture.py

A development tool, never a runtime or CI dependency: it needs
pycocoevalcap (and nothing of kerasmm). It builds a fixed corpus of
captions (hand-written cases: exact hits, reordered words, repeated words
that clipping must catch, a one-word and an empty prediction, mixed case
and punctuation, 1 to 5 references per item; plus seeded random shapes-style
captions), tokenises every caption itself (lowercase, ASCII punctuation to
spaces, split on whitespace: the tokenisation kerasmm documents, written
here independently) and feeds the tokenised strings straight to
pycocoevalcap's `Bleu(4)` and `Cider()` scorers, bypassing the Java PTB
tokenizer so that both sides see the same tokens. It writes
`tests/fixtures/caption_metrics/reference.json`: the raw `references` and
`predictions`, their `tokenized_*` forms, corpus `bleu` (BLEU-1..4),
corpus `cider` and `cider_per_item`. Deterministic: rerunning rewrites the
same numbers.
"""

import json
import os
import random
import re

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "caption_metrics"
)

HAND_WRITTEN = [
    (["a small red circle", "a red circle on the left"], "A small red circle."),
    (["a big blue square", "there is a blue square"], "a blue square"),
    (["a green cross above a white diamond"], "a white diamond below a green cross"),
    (["a yellow triangle", "a photo of a yellow triangle", "an image of a yellow triangle"],
     "a a a yellow yellow triangle triangle"),
    (["a purple diamond in the center"], "diamond"),
    (["a red square and a blue circle", "a blue circle and a red square"], ""),
    (["A dog runs across the grass!", "a brown dog running on a lawn",
      "the dog is running outside", "a dog plays in a field", "dog on grass"],
     "a dog is running on the grass"),
    (["Two people ride bikes down a street.", "two cyclists on a city road"],
     "two people riding bicycles on a street"),
    (["a man (wearing a hat) sits on a bench", "man, hat, bench: sitting"],
     "a man sits on a bench wearing a hat"),
    (["a cat sleeping on a red couch", "a grey cat asleep on the sofa"],
     "a cat sleeping on a red couch"),
    (["a small red circle on the left", "a red circle"], "a small red circle on the left"),
    (["a white cross at the top", "a small white cross"], "a small white cross at the bottom"),
]

COLORS = ("red", "green", "blue", "yellow", "purple", "white")
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
SIZES = ("small", "big")
PLACES = ("on the left", "on the right", "at the top", "at the bottom", "in the center")


def _describe(rng):
    words = [rng.choice(COLORS), rng.choice(SHAPES)]
    if rng.random() < 0.5:
        words.insert(0, rng.choice(SIZES))
    return " ".join(words)


def _random_item(rng):
    d = _describe(rng)
    refs = [f"a {d}", f"a {d} {rng.choice(PLACES)}", f"a photo of a {d}"][: rng.randint(1, 3)]
    kind = rng.random()
    if kind < 0.3:
        prediction = refs[0]
    elif kind < 0.6:
        prediction = f"a {_describe(rng)}"
    elif kind < 0.8:
        prediction = f"a {d} and a {_describe(rng)}"
    else:
        prediction = f"there is a {d} {rng.choice(PLACES)} ."
    if rng.random() < 0.2:
        prediction = prediction.upper()
    return refs, prediction


def tokenize(caption):
    return " ".join(re.sub(r"[!-/:-@\[-`{-~]", " ", caption.lower()).split())


def main():
    rng = random.Random(0)
    items = HAND_WRITTEN + [_random_item(rng) for _ in range(40)]
    references = [refs for refs, _ in items]
    predictions = [prediction for _, prediction in items]
    tokenized_references = [[tokenize(r) for r in refs] for refs in references]
    tokenized_predictions = [tokenize(p) for p in predictions]
    gts = {i: refs for i, refs in enumerate(tokenized_references)}
    res = {i: [p] for i, p in enumerate(tokenized_predictions)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    cider, cider_per_item = Cider().compute_score(gts, res)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(
            {
                "references": references,
                "predictions": predictions,
                "tokenized_references": tokenized_references,
                "tokenized_predictions": tokenized_predictions,
                "bleu": [float(b) for b in bleu],
                "cider": float(cider),
                "cider_per_item": [float(c) for c in cider_per_item],
            },
            f,
            indent=1,
        )
    print("BLEU-1..4", bleu, "CIDEr", cider)


if __name__ == "__main__":
    main()
