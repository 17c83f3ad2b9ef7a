import collections

import numpy as np
import pytest

from kerasmm.datasets import (
    CHART_QA_ANSWERS,
    CHART_QA_QUESTION_TYPES,
    chart_qa_dataset,
    chart_qa_tokenizer,
    generate_chart_qa,
)
from kerasmm.datasets.chart_qa import CANVAS, CHART_BOX, CHART_LABELS, MIN_GAP


def _letters(question):
    return [CHART_LABELS.index(w) for w in question.replace("?", " ").split()
            if w in CHART_LABELS]


def _measured_values(image, n):
    """Each category's value read off the pixels of a bar chart at CANVAS size."""
    left, top, right, bottom = CHART_BOX
    background = image[CANVAS // 2, right + 2].astype("int16")
    values = []
    for i in range(n):
        x = int(left + (i + 0.5) * (right - left) / n)
        column = np.abs(image[top - 2: bottom, x].astype("int16") - background).sum(-1) > 30
        first = np.argmax(column) + top - 2
        values.append((bottom - first) / (bottom - top) * 100)
    return np.array(values)


def test_answers_follow_from_values():
    data = generate_chart_qa("test", num_examples=300, image_size=32)
    assert collections.Counter(data["question_types"]).keys() == set(CHART_QA_QUESTION_TYPES)
    assert set(data["chart_kinds"]) == {"bar", "line"}
    for i, question in enumerate(data["questions"]):
        values = data["values"][i, : data["num_categories"][i]]
        letters, qtype = _letters(question), data["question_types"][i]
        if qtype == "highest":
            expected = CHART_LABELS[int(np.argmax(values))]
            assert np.sort(values)[-1] - np.sort(values)[-2] >= MIN_GAP
        elif qtype == "compare":
            a, b = letters
            expected = "yes" if values[a] > values[b] else "no"
            assert abs(values[a] - values[b]) >= MIN_GAP
        else:
            (a,) = letters
            low = int(values[a] // 20) * 20
            expected = f"{low}-{low + 20}"
        assert data["answers"][i] == expected, question
        assert CHART_QA_ANSWERS[data["answer_ids"][i]] == expected
        assert all(letter < len(values) for letter in letters)
    answers = collections.Counter(data["answers"])
    assert abs(answers["yes"] - answers["no"]) < 0.5 * (answers["yes"] + answers["no"])


def test_bar_heights_in_the_pixels_match_the_values():
    data = generate_chart_qa("train", num_examples=40, image_size=CANVAS)
    checked = 0
    for i, kind in enumerate(data["chart_kinds"]):
        if kind != "bar":
            continue
        n = data["num_categories"][i]
        measured = _measured_values(data["images"][i], n)
        np.testing.assert_allclose(measured, data["values"][i, :n], atol=2.5)
        if data["question_types"][i] == "highest":
            assert CHART_LABELS[int(np.argmax(measured))] == data["answers"][i]
        checked += 1
    assert checked > 10


def test_small_images_are_box_filtered_canvases():
    big = generate_chart_qa("train", num_examples=3, image_size=CANVAS)["images"]
    small = generate_chart_qa("train", num_examples=3, image_size=32)["images"]
    expected = big.reshape(3, 32, 4, 32, 4, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(small, expected, atol=0.51)


def test_deterministic_and_prefix_stable():
    a = generate_chart_qa("train", num_examples=200, image_size=32, seed=1)
    b = generate_chart_qa("train", num_examples=510, image_size=32, seed=1)
    assert a["questions"] == b["questions"][:200]
    np.testing.assert_array_equal(a["images"], b["images"][:200])
    c = generate_chart_qa("validation", num_examples=200, image_size=32, seed=1)
    assert not np.array_equal(a["values"], c["values"], equal_nan=True)


def test_tokenizer_covers_every_question_and_bad_arguments():
    data = generate_chart_qa("test", num_examples=200, image_size=32)
    tokenizer = chart_qa_tokenizer()
    ids = tokenizer(data["questions"])["token_ids"]
    assert not (ids == tokenizer.unk_token_id).any()
    assert ((ids == tokenizer.end_token_id).sum(axis=1) == 1).all()
    with pytest.raises(ValueError, match="image_size must be >= 32"):
        generate_chart_qa(image_size=16)
    with pytest.raises(ValueError, match="split must be one of"):
        generate_chart_qa("dev")


@pytest.mark.tf_only
def test_dataset_batches():
    x, y = next(iter(chart_qa_dataset(batch_size=4, image_size=32, num_examples=4,
                                      shuffle=False)))
    data = generate_chart_qa("train", num_examples=4, image_size=32)
    np.testing.assert_array_equal(y.numpy(), data["answer_ids"])
    assert tuple(x["token_ids"].shape) == (4, 12)
    assert float(np.min(x["images"])) >= -1 and float(np.max(x["images"])) <= 1
