"""VQA v2 (questions, annotations, COCO images) through kerasmm.datasets.load."""

import os

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from kerasmm.datasets.load import load
from kerasmm.metrics.vqa_accuracy import PUNCTUATION
from tests.datasets.builders import fake_release

pytestmark = pytest.mark.tf_only

# (subtype, image_id, question_id, question, multiple_choice_answer, 10 answers)
QUESTIONS = [
    ("train2014", 458752, 458752000, "What is this photo taken looking through?", "net",
     ["net"] * 4 + ["netting"] * 2 + ["mesh", "Net.", "fence", "net "]),
    ("train2014", 458752, 458752001, "What position is this man playing?", "pitcher",
     ["pitcher"] * 2 + ["catcher"] * 7 + ["net"]),
    ("train2014", 262146, 262146000, "What color is the snow?", "white",
     ["white"] * 9 + ["yes"]),
    ("train2014", 262146, 262146001, "Is it cold?", "yes", ["yes"] * 10),
    ("val2014", 262148, 262148000, "Where is he looking?", "down",
     ["down"] * 3 + ["yes", "net", "sky", "up", "white", "net", "pitcher"]),
]
CONFIDENCES = ("yes", "maybe", "no")


def write_release(manual_dir):
    for subtype in ("train2014", "val2014"):
        rows = [q for q in QUESTIONS if q[0] == subtype]
        questions = [{"image_id": i, "question": q, "question_id": qid}
                     for _, i, qid, q, _, _ in rows]
        annotations = [{
            "question_type": "what is", "multiple_choice_answer": mc,
            "answers": [{"answer": a, "answer_confidence": CONFIDENCES[k % 3],
                         "answer_id": k + 1} for k, a in enumerate(answers)],
            "image_id": i, "answer_type": "other", "question_id": qid}
            for _, i, qid, _, mc, answers in rows]
        info = {"description": "This is v2.0 of the VQA dataset.", "version": "2.0"}
        fake_release.write_json(
            os.path.join(manual_dir, f"v2_OpenEnded_mscoco_{subtype}_questions.json"),
            {"info": info, "task_type": "Open-Ended", "data_type": "mscoco",
             "license": {}, "data_subtype": subtype, "questions": questions})
        fake_release.write_json(
            os.path.join(manual_dir, f"v2_mscoco_{subtype}_annotations.json"),
            {"info": info, "license": {}, "data_subtype": subtype,
             "annotations": annotations, "data_type": "mscoco"})
        for image_id in {row[1] for row in rows}:
            fake_release.write_image(os.path.join(
                manual_dir, subtype, f"COCO_{subtype}_{image_id:012d}.jpg"), image_id % 97)


def write_test_dev(manual_dir):
    fake_release.write_json(
        os.path.join(manual_dir, "v2_OpenEnded_mscoco_test-dev2015_questions.json"),
        {"info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "license": {},
         "data_subtype": "test-dev2015",
         "questions": [{"image_id": 1, "question": "Is it sunny?", "question_id": 10}]})
    fake_release.write_image(
        os.path.join(manual_dir, "test2015", "COCO_test2015_000000000001.jpg"), 1)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    manual_dir = str(tmp_path_factory.mktemp("vqa_manual"))
    write_release(manual_dir)
    write_test_dev(manual_dir)
    data_dir = str(tmp_path_factory.mktemp("vqa_tfds"))
    load("vqa_v2", "train", data_dir=data_dir, manual_dir=manual_dir)  # Prepares.
    return manual_dir, data_dir


def reference_targets(answers, vocabulary):
    """VQA's soft score min(1, #annotators who gave it / 3), written independently."""
    normalised = [a.strip().lower().rstrip(".") for a in answers]
    return np.array([min(1.0, normalised.count(v) / 3.0) for v in vocabulary], "float32")


def test_examples_carry_soft_score_targets_over_the_train_vocabulary(folders):
    manual_dir, data_dir = folders
    ds, info = load("vqa_v2", "train", data_dir=data_dir, manual_dir=manual_dir,
                    num_answers=3, with_info=True)
    # Train's multiple-choice answers, each once: ties broken alphabetically.
    assert info.metadata["answer_counts"] == [["net", 1], ["pitcher", 1], ["white", 1],
                                              ["yes", 1]]
    vocabulary = ["net", "pitcher", "white"]
    by_question = {q[3]: q for q in QUESTIONS}
    examples = list(ds)
    assert len(examples) == 4
    for ex in examples:
        row = by_question[ex["questions"].numpy().decode()]
        answers = [a.decode() for a in ex["answers"].numpy()]
        assert answers == row[5]
        np.testing.assert_allclose(ex["targets"].numpy(), reference_targets(answers, vocabulary))
        assert ex["images"].shape == (8, 8, 3)
    targets = {ex["questions"].numpy().decode(): ex["targets"].numpy() for ex in examples}
    # "net" x4, "Net." and "net " count too (normalised): 6 -> 1.0; "netting" is not "net".
    np.testing.assert_allclose(targets[QUESTIONS[0][3]], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(targets[QUESTIONS[1][3]], [1 / 3, 2 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(targets[QUESTIONS[3][3]], [0.0, 0.0, 0.0])  # "yes": cut.


def test_preprocessed_questions_and_targets_for_fit(folders):
    _, data_dir = folders

    def preprocessor(inputs):  # A family preprocessor's contract (CLIP's: test_flickr30k).
        return {"images": tf.cast(inputs["images"], "float32") / 255.0,
                "token_ids": tf.strings.unicode_decode(inputs["prompts"], "UTF-8")}

    ds = load("vqa_v2", "validation", data_dir=data_dir, preprocessor=preprocessor)
    (inputs, targets), = list(ds.batch(2))
    assert inputs["images"].shape == (1, 8, 8, 3) and inputs["images"].dtype == tf.float32
    np.testing.assert_array_equal(inputs["token_ids"][0], [ord(c) for c in QUESTIONS[4][3]])
    assert targets.shape == (1, 4)  # The whole vocabulary: 4 < num_answers.
    np.testing.assert_allclose(
        targets[0], reference_targets(QUESTIONS[4][5], ["net", "pitcher", "white", "yes"]),
        rtol=1e-6)


def test_a_missing_annotation_file_is_named(tmp_path):
    manual_dir = str(tmp_path / "manual")
    write_release(manual_dir)
    os.remove(os.path.join(manual_dir, "v2_mscoco_val2014_annotations.json"))
    with pytest.raises(ValueError, match="v2_mscoco_val2014_annotations.json"):
        load("vqa_v2", "train", data_dir=str(tmp_path / "tfds"), manual_dir=manual_dir)


def test_answers_are_normalised_alike_in_python_and_tf():
    from kerasmm.datasets.builders.conventions import normalize_answer

    answers = [" Net.. ", "YES", "two dogs.", "a.b", "Red ", "1,000 (approx)", "3.5", "1..5",
               "the man's hat!", "dont", "a - b", "x\\y", "[a]", ""]
    in_tf = [a.decode() for a in normalize_answer(tf.constant(answers)).numpy()]
    assert in_tf == [normalize_answer(a) for a in answers] == [
        "net", "yes", "2 dogs", "ab", "red", "1000 approx", "3.5", "1.5", "man's hat",
        "don't", "b", "x y", "", ""]
    matrix = normalize_answer(tf.constant([["The One", "b-c"], ["10.", "what?"]]))
    assert matrix.numpy().tolist() == [[b"1", b"b c"], [b"10", b"what"]]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.one_of(
    st.sampled_from(["a", "the", "one", "Two", "dont", "yes", "1,000", "3.5", "man's"]),
    st.sampled_from(PUNCTUATION + (".", " ")), st.text(alphabet="abXY09.,-! \t", max_size=3)),
    max_size=6).map("".join), min_size=1, max_size=4))
def test_tf_normalisation_equals_python(answers):
    from kerasmm.datasets.builders.conventions import normalize_answer

    in_tf = [a.decode() for a in normalize_answer(tf.constant(answers)).numpy()]
    assert in_tf == [normalize_answer(a) for a in answers]


def test_test_dev_questions_have_no_answers(folders):
    _, data_dir = folders
    (ex,) = list(load("vqa_v2", "test_dev", data_dir=data_dir))
    assert ex["questions"].numpy() == b"Is it sunny?" and ex["answers"].shape == (0,)
    np.testing.assert_array_equal(ex["targets"], np.zeros(4))
    assert ex["images"].shape == (8, 8, 3)
