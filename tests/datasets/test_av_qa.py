import numpy as np
import pytest

from kerasmm.datasets import shapes
from kerasmm.datasets.av_qa import ANSWERS
from kerasmm.datasets.av_qa import QUESTION_KINDS
from kerasmm.datasets.av_qa import QUESTION_LENGTH
from kerasmm.datasets.av_qa import SAMPLE_RATE
from kerasmm.datasets.av_qa import av_qa_dataset
from kerasmm.datasets.av_qa import av_qa_features
from kerasmm.datasets.av_qa import generate_av_qa
from kerasmm.datasets.av_qa import tokenize_questions
from kerasmm.datasets.moving_shapes import DIRECTIONS


@pytest.fixture(scope="module")
def data():
    return generate_av_qa("test", 120, num_frames=4)


def dominant_hertz(waveform):
    spectrum = np.abs(np.fft.rfft(waveform))
    return np.argmax(spectrum) * SAMPLE_RATE / len(waveform)


def test_shapes_and_types(data):
    assert data["video"].shape == (120, 4, 16, 16, 3) and data["video"].dtype == np.float32
    assert 0.0 <= data["video"].min() and data["video"].max() <= 1.0
    assert data["waveform"].shape == (120, 8192)
    assert data["audio"].shape == (120, 32, 16) and np.isfinite(data["audio"]).all()
    assert data["question_ids"].shape == (120, QUESTION_LENGTH)
    assert data["answer_ids"].max() < len(ANSWERS)
    assert [ANSWERS[i] for i in data["answer_ids"]] == list(data["answers"])
    assert set(data["kinds"]) == {0, 1, 2}


def test_answers_need_the_sound_and_the_picture(data):
    """The tone marks the half asked about; the answer is what that half shows."""
    for i in range(40):
        first, second = np.split(data["waveform"][i], 2)
        high_first = dominant_hertz(first) > dominant_hertz(second)
        assert high_first == data["high_first"][i]
        question = data["questions"][i]
        asked_high = "high tone" in question
        half = data["video"][i, :2] if asked_high == high_first else data["video"][i, 2:]
        other = data["video"][i, 2:] if asked_high == high_first else data["video"][i, :2]
        kind = QUESTION_KINDS[data["kinds"][i]]
        if kind == "colour":
            # The brightest pixel's colour in the asked half is the answer's.
            rgb = shapes.COLOR_RGB[shapes.COLORS.index(data["answers"][i])] / 255.0
            frame = half[0]
            distance = np.abs(frame - rgb).max(-1)
            assert distance.min() < 0.12
            assert np.abs(other[0] - rgb).max(-1).min() > 0.12  # the halves differ
        if kind == "direction":
            # The shape's centre of brightness moves the asked way.
            def centre(frame):
                weight = frame.max(-1) > 0.5
                ys, xs = np.nonzero(weight)
                return np.array([xs.mean(), ys.mean()])
            step = centre(half[1]) - centre(half[0])
            moved = {"left": -step[0], "right": step[0], "up": -step[1], "down": step[1]}
            assert max(moved, key=moved.get) == data["answers"][i]


def test_held_out_pairs_only_in_test(data):
    train = generate_av_qa("train", 200, num_frames=2)
    assert not train["held_out"].any()
    assert data["held_out"].any()
    assert set(np.unique(train["answers"])) <= set(ANSWERS)
    assert set(DIRECTIONS) <= set(np.unique(train["answers"]))


def test_deterministic_and_dataset():
    a = generate_av_qa("validation", 8, num_frames=2, seed=3)
    b = generate_av_qa("validation", 8, num_frames=2, seed=3)
    np.testing.assert_array_equal(a["audio"], b["audio"])
    np.testing.assert_array_equal(a["video"], b["video"])
    assert list(a["questions"]) == list(b["questions"])
    assert sorted(av_qa_features(a, ("audio", "question"))) == ["audio", "question"]


@pytest.mark.tf_only
def test_dataset_batches():
    a = generate_av_qa("validation", 8, num_frames=2, seed=3)
    features, answers = next(iter(av_qa_dataset("validation", 4, 8, num_frames=2, seed=3,
                                                 shuffle=False)))
    np.testing.assert_array_equal(features["question"], a["question_ids"][:4])
    np.testing.assert_array_equal(answers, a["answer_ids"][:4])


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_frames must be even"):
        generate_av_qa("test", 2, num_frames=3)
    with pytest.raises(ValueError, match="split"):
        generate_av_qa("dev", 2)
    with pytest.raises(ValueError, match="QUESTION_VOCABULARY"):
        tokenize_questions(["what colour is the sky"])
    with pytest.raises(ValueError, match="modalities"):
        av_qa_features(generate_av_qa("test", 2, num_frames=2), ("audio", "text"))
