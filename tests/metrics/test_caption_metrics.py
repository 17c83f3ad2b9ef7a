"""Caption metrics against pycocoevalcap's numbers (tools/caption_metrics_fixture.py)."""

import json
import os

import numpy as np
import pytest

from kerasmm.metrics import caption_metrics
from kerasmm.metrics import cider_d
from kerasmm.metrics import corpus_bleu
from kerasmm.metrics import exact_match
from kerasmm.metrics import tokenize_caption

FIXTURE = os.path.join(
    os.path.dirname(__file__), "..", "fixtures", "caption_metrics", "reference.json"
)


@pytest.fixture(scope="module")
def reference():
    with open(FIXTURE) as f:
        return json.load(f)


def test_tokenization_matches_fixture(reference):
    for refs, tokenized in zip(reference["references"], reference["tokenized_references"]):
        assert [tokenize_caption(r) for r in refs] == tokenized
    assert [tokenize_caption(p) for p in reference["predictions"]] == (
        reference["tokenized_predictions"]
    )


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_bleu_matches_pycocoevalcap(reference, order):
    score = corpus_bleu(reference["references"], reference["predictions"], max_order=order)
    assert abs(score - reference["bleu"][order - 1]) <= 1e-6


def test_cider_d_matches_pycocoevalcap(reference):
    score, per_item = cider_d(
        reference["references"], reference["predictions"], per_caption=True
    )
    assert abs(score - reference["cider"]) <= 1e-6
    np.testing.assert_allclose(per_item, reference["cider_per_item"], rtol=0, atol=1e-6)


def test_cider_d_depends_on_corpus_and_penalises_length():
    refs = [["a small red circle"], ["a big blue square"], ["a small green cross"]]
    perfect = cider_d(refs, [r[0] for r in refs])
    # Perfect 4-word matches: cosine 1 at every order, no length penalty: 10.
    assert abs(perfect - 10.0) < 1e-9
    # Three-word captions have no 4-grams: that order scores 0.
    assert abs(cider_d([["a red circle"], ["a blue cross"]],
                       ["a red circle", "a blue cross"]) - 7.5) < 1e-9
    longer = cider_d(refs, ["a small red circle a red circle", refs[1][0], refs[2][0]])
    assert longer < perfect
    # Repeating a matching word is clipped: no gain over saying it once.
    _, repeated = cider_d([["a red circle"], ["a blue square"]],
                          ["red red red", "a blue square"], per_caption=True)
    _, once = cider_d([["a red circle"], ["a blue square"]],
                      ["red", "a blue square"], per_caption=True)
    assert repeated[0] <= once[0]


def test_bleu_brevity_penalty_and_clipping():
    assert corpus_bleu([["a small red circle"]], ["a small red circle"]) == pytest.approx(1.0)
    short = corpus_bleu([["a small red circle on the left"]], ["a small red circle"])
    assert 0 < short < 1
    # Clipping: "a a a a" has one matching "a", not four.
    assert corpus_bleu([["a red circle"]], ["a a a a"], max_order=1) == pytest.approx(0.25)


def test_exact_match_and_combined_dict():
    refs = [["A red circle.", "a circle"], "a blue square", ["x"]]
    preds = ["a red circle", "a BLUE square!", "y"]
    assert exact_match(refs, preds) == pytest.approx(2 / 3)
    scores = caption_metrics(refs, preds)
    assert set(scores) == {"bleu_4", "cider_d", "exact_match"}
    assert scores["exact_match"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "references, predictions, match",
    [
        ([["a"]], ["a", "b"], "same length"),
        ([[]], ["a"], "at least one reference"),
        ("a", ["a"], "references must be a list"),
        ([["a"]], "a", "predictions must be a list"),
        ([], [], "non-empty"),
    ],
)
def test_bad_inputs_are_refused(references, predictions, match):
    with pytest.raises((ValueError, TypeError), match=match):
        corpus_bleu(references, predictions)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="sigma"):
        cider_d([["a"]], ["a"], sigma=0)
    with pytest.raises(ValueError, match="max_order"):
        corpus_bleu([["a"]], ["a"], max_order=0)
    with pytest.raises(TypeError, match="caption"):
        tokenize_caption(3)
