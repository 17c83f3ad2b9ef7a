"""VQA answer normalisation and accuracy against a transcription of the official evaluation."""

import re

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kerasmm.metrics.vqa_accuracy import ARTICLES
from kerasmm.metrics.vqa_accuracy import CONTRACTIONS
from kerasmm.metrics.vqa_accuracy import NUMBER_WORDS
from kerasmm.metrics.vqa_accuracy import PUNCTUATION
from kerasmm.metrics.vqa_accuracy import normalize_vqa_answer
from kerasmm.metrics.vqa_accuracy import vqa_accuracy

# vqaEval.py (VQA API, PythonEvaluationTools), its regular expressions and
# steps as published, bugs included: the period pattern's "(?!<=\d)" is a
# look-ahead, and re.UNICODE lands in `sub`'s count.
PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")


def official_punctuation(in_text):
    out_text = in_text
    for p in PUNCTUATION:
        if (p + " " in in_text or " " + p in in_text) or (
                re.search(COMMA_STRIP, in_text) is not None):
            out_text = out_text.replace(p, "")
        else:
            out_text = out_text.replace(p, " ")
    return PERIOD_STRIP.sub("", out_text, re.UNICODE)


def official_digit_article(in_text):
    out_text = []
    for word in in_text.lower().split():
        word = NUMBER_WORDS.get(word, word)
        if word not in ARTICLES:
            out_text.append(word)
    for word_id, word in enumerate(out_text):
        if word in CONTRACTIONS:
            out_text[word_id] = CONTRACTIONS[word]
    return " ".join(out_text)


def official_accuracy(res_ans, gt_answers):
    gt_answers = [a.replace("\n", " ").replace("\t", " ").strip() for a in gt_answers]
    res_ans = res_ans.replace("\n", " ").replace("\t", " ").strip()
    if len(set(gt_answers)) > 1:
        gt_answers = [official_digit_article(official_punctuation(a)) for a in gt_answers]
        res_ans = official_digit_article(official_punctuation(res_ans))
    accs = []
    for index in range(len(gt_answers)):
        others = gt_answers[:index] + gt_answers[index + 1:]
        accs.append(min(1, float(len([a for a in others if a == res_ans])) / 3))
    return sum(accs) / len(accs)


@pytest.mark.parametrize("answer, expected", [
    ("Two dogs.", "2 dogs"), ("the man's hat!", "man's hat"), ("dont", "don't"),
    ("3.5", "3.5"), ("1..5", "1.5"), ("a.b", "ab"), ("1,000 (approx)", "1000 approx"),
    ("left-right", "left right"), ("a - b", "b"), ("The One", "1"), ("none", "0"),
    ("yes!no", "yes no"), ("  Net.. ", "net"), ("a\tb\nc", "b c"), ("Im", "im"),
])
def test_hand_checked_answers(answer, expected):
    assert normalize_vqa_answer(answer) == expected


WORDS = ["a", "an", "the", "one", "Two", "ten", "none", "dont", "Ive", "yes", "no", "3",
         "1,000", "3.5", "man's", "red", "x"]
PIECES = st.one_of(st.sampled_from(WORDS), st.sampled_from(PUNCTUATION + (".", " ", "  ")),
                   st.text(alphabet="abcXYZ019.,-!? \t\n", max_size=4))
ANSWERS = st.lists(PIECES, max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(ANSWERS)
def test_normalisation_equals_the_official_steps(answer):
    cleaned = answer.replace("\n", " ").replace("\t", " ").strip()
    assert normalize_vqa_answer(answer) == official_digit_article(official_punctuation(cleaned))


@settings(max_examples=200, deadline=None)
@given(ANSWERS, st.lists(st.sampled_from(["2", "two", "Two.", "yes", "no", "a dog", "dog",
                                          " dog ", "3"]), min_size=10, max_size=10))
def test_accuracy_equals_the_official_formula(prediction, humans):
    ours = vqa_accuracy([prediction, "dog"], [humans, humans])["per_question"]
    assert ours == pytest.approx([official_accuracy(prediction, humans),
                                  official_accuracy("dog", humans)], abs=1e-12)


def test_accuracy_values_by_hand():
    humans = ["two"] * 3 + ["3"] * 7
    # 3 matches: leaving one of them out scores 2/3, any other 1.
    assert vqa_accuracy(["2"], [humans])["accuracy"] == pytest.approx((3 * 2 / 3 + 7) / 10)
    assert vqa_accuracy(["3"], [humans])["accuracy"] == 1.0
    assert vqa_accuracy(["4"], [humans])["accuracy"] == 0.0
    # All ten agree: compared as given, so "Yes" does not match "yes".
    assert vqa_accuracy(["Yes", "yes"], [["yes"] * 10] * 2)["per_question"] == [0.0, 1.0]


@pytest.mark.parametrize("predictions, humans, words", [
    (["a"], [], "same length"), (["a"], [[]], "non-empty list"), (["a"], ["yes"], "non-empty"),
    ([3], [["3"] * 10], "answer must be a str"),
])
def test_bad_input_is_named(predictions, humans, words):
    with pytest.raises((ValueError, TypeError), match=words):
        vqa_accuracy(predictions, humans)
