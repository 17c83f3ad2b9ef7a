import collections

import numpy as np
import pytest

from kerasmm.datasets import (
    HELD_OUT_COMBOS,
    SHAPES_VQA_ANSWERS,
    SHAPES_VQA_QUESTION_TYPES,
    generate_shapes_vqa,
    shapes_vqa_dataset,
    shapes_vqa_tokenizer,
)
from kerasmm.datasets.qa_pipeline import WordTokenizer
from kerasmm.datasets.shapes import COLOR_RGB, COLORS, SHAPES, SIZES

COUNTS = ("zero", "one", "two")


def _objects(data, i):
    return [(COLORS[data["colors"][i, k]], SHAPES[data["shapes"][i, k]],
             SIZES[data["sizes"][i, k]]) for k in range(data["num_shapes"][i])]


def _shape_asked(question):
    (kind,) = [w for w in question.replace("?", " ").split() if w in SHAPES]
    return SHAPES.index(kind)


def _expected_answer(data, i):
    """The answer recomputed from the question's words and the scene parameters."""
    words = data["questions"][i].replace("?", " ").split()
    objects = _objects(data, i)
    colors = [w for w in words if w in COLORS]
    kinds = [w for w in words if w in SHAPES]
    qtype = data["question_types"][i]
    if qtype == "count":
        return COUNTS[sum(o[0] == colors[0] for o in objects) if colors else len(objects)]
    if qtype == "position":
        a = next(k for k, o in enumerate(objects) if o[:2] == (colors[0], kinds[0]))
        relation = data["relation"][i]
        return (("left", "right") if relation == 1 else ("above", "below"))[a]
    if qtype == "color":
        (match,) = [o for o in objects if o[1] == kinds[0]]
        return match[0]
    if qtype == "shape":
        (match,) = [o for o in objects if o[0] == colors[0]]
        return match[1]
    (match,) = [o for o in objects if o[:2] == (colors[0], kinds[0])]
    return match[2]


def test_answers_follow_from_scene_parameters():
    data = generate_shapes_vqa("test", num_examples=600, image_size=16)
    types = collections.Counter(data["question_types"])
    assert set(types) == set(SHAPES_VQA_QUESTION_TYPES)
    assert min(types.values()) > 60
    for i in range(600):
        assert data["answers"][i] == _expected_answer(data, i), data["questions"][i]
        assert SHAPES_VQA_ANSWERS[data["answer_ids"][i]] == data["answers"][i]
    # Several phrasings per type.
    for qtype in SHAPES_VQA_QUESTION_TYPES:
        starts = {" ".join(q.split()[:2]) for q, t in
                  zip(data["questions"], data["question_types"]) if t == qtype}
        assert len(starts) >= 2, qtype


def test_colour_answers_are_drawn_in_the_pixels():
    data = generate_shapes_vqa("train", num_examples=300, image_size=32)
    checked = 0
    for i, (qtype, answer) in enumerate(zip(data["question_types"], data["answers"])):
        if qtype != "color":
            continue
        # Tint up to 15 and noise up to 6 per channel around the palette colour.
        close = np.all(np.abs(data["images"][i].astype("int16")
                              - COLOR_RGB[COLORS.index(answer)]) <= 21, axis=-1)
        assert close.sum() >= 10, (data["questions"][i], answer)
        checked += 1
    assert checked > 30


def test_held_out_combinations_only_in_test():
    held = {(COLORS.index(c), SHAPES.index(s)) for c, s in HELD_OUT_COMBOS}
    for split in ("train", "validation"):
        data = generate_shapes_vqa(split, num_examples=1000, image_size=16)
        combos = {(c, s) for cs, ss in zip(data["colors"], data["shapes"])
                  for c, s in zip(cs, ss) if c >= 0}
        assert not combos & held
        assert not data["held_out"].any()
    test = generate_shapes_vqa("test", num_examples=1000, image_size=16)
    assert 0.1 < test["held_out"].mean() < 0.5
    # Colour questions about a held-out object are asked in test.
    asked = [i for i in range(1000) if test["question_types"][i] == "color"
             and (COLORS.index(test["answers"][i]), _shape_asked(test["questions"][i])) in held]
    assert len(asked) > 5


def test_deterministic_and_prefix_stable():
    a = generate_shapes_vqa("train", num_examples=1200, image_size=16, seed=3)
    b = generate_shapes_vqa("train", num_examples=1500, image_size=16, seed=3)
    c = generate_shapes_vqa("train", num_examples=1200, image_size=16, seed=4)
    assert a["questions"] == b["questions"][:1200]
    np.testing.assert_array_equal(a["images"], b["images"][:1200])
    np.testing.assert_array_equal(a["answer_ids"], b["answer_ids"][:1200])
    assert a["questions"] != c["questions"]


def test_tokenizer_covers_every_question():
    data = generate_shapes_vqa("test", num_examples=500, image_size=16)
    tokenizer = shapes_vqa_tokenizer()
    ids = tokenizer(data["questions"])["token_ids"]
    assert not (ids == tokenizer.unk_token_id).any()
    # Nothing truncated: every row ends with [SEP] before the padding.
    assert ((ids == tokenizer.end_token_id).sum(axis=1) == 1).all()


def test_word_tokenizer_validates_and_truncates():
    tokenizer = WordTokenizer(["a", "b"], sequence_length=4)
    out = tokenizer(["a b a b", "zzz"])
    assert out["token_ids"].tolist() == [[1, 4, 5, 2], [1, 3, 2, 0]]
    assert out["padding_mask"].tolist() == [[True] * 4, [True, True, True, False]]
    with pytest.raises(ValueError, match="sequence_length must be >= 3"):
        WordTokenizer(["a"], sequence_length=2)
    with pytest.raises(ValueError, match="texts must be a non-empty list"):
        tokenizer("a b")


def test_bad_arguments():
    with pytest.raises(ValueError, match="split must be one of"):
        generate_shapes_vqa("dev")
    with pytest.raises(ValueError, match="num_examples must be"):
        generate_shapes_vqa("train", num_examples=-1)
    with pytest.raises(ValueError, match="blank must be None"):
        shapes_vqa_dataset(num_examples=4, batch_size=2, image_size=16, blank="audio")


@pytest.mark.tf_only
def test_dataset_batches_and_ablations():
    kwargs = dict(batch_size=4, image_size=16, num_examples=8, shuffle=False)
    data = generate_shapes_vqa("train", num_examples=8, image_size=16)
    x, y = next(iter(shapes_vqa_dataset(**kwargs)))
    np.testing.assert_array_equal(y.numpy(), data["answer_ids"][:4])
    np.testing.assert_allclose(x["images"].numpy(), data["images"][:4] / 127.5 - 1, atol=1e-6)
    ids = shapes_vqa_tokenizer()(data["questions"][:4])
    np.testing.assert_array_equal(x["token_ids"].numpy(), ids["token_ids"])
    np.testing.assert_array_equal(x["padding_mask"].numpy(), ids["padding_mask"])
    x_text, _ = next(iter(shapes_vqa_dataset(blank="text", **kwargs)))
    assert (x_text["token_ids"].numpy()[:, :3] == [1, 2, 0]).all()
    np.testing.assert_array_equal(x_text["images"].numpy(), x["images"].numpy())
    x_image, _ = next(iter(shapes_vqa_dataset(blank="image", **kwargs)))
    assert np.ptp(x_image["images"].numpy()) == 0
    np.testing.assert_array_equal(x_image["token_ids"].numpy(), x["token_ids"].numpy())


def test_pair_type_weights_change_only_the_questions():
    from kerasmm.datasets.shapes_vqa import SHAPES_VQA_QUESTION_TYPES as TYPES

    base = generate_shapes_vqa("train", num_examples=400, image_size=16)
    heavy = generate_shapes_vqa("train", num_examples=400, image_size=16,
                                pair_type_weights=(0, 0, 0, 0, 1))
    np.testing.assert_array_equal(base["images"], heavy["images"])
    pairs = heavy["num_shapes"] == 2
    types = np.array(heavy["question_types"])
    # Two shapes: position unless the two are the same colour x shape (then count).
    assert set(types[pairs]) <= {"position", "count"}
    assert (types[pairs] == "position").mean() > 0.9
    assert (types[~pairs] != "position").all()
    for i in range(400):
        assert heavy["answers"][i] == _expected_answer(heavy, i), heavy["questions"][i]
    assert set(TYPES) == set(base["question_types"])
    with pytest.raises(ValueError, match="pair_type_weights must be 5"):
        generate_shapes_vqa("train", num_examples=4, image_size=16, pair_type_weights=(1, 0))
    with pytest.raises(ValueError, match="pair_type_weights must be 5"):
        generate_shapes_vqa("train", num_examples=4, image_size=16,
                            pair_type_weights=(0, 0, 0, 0, 0))


def test_single_shape_positions_follow_the_pixels():
    from kerasmm.datasets.shapes_vqa import add_single_shape_positions

    data = add_single_shape_positions(generate_shapes_vqa("train", 600, 32), fraction=1.0)
    asked = [i for i, q in enumerate(data["questions"])
             if q.endswith(("relative to the image?", "compared to the image?"))]
    assert len(asked) > 100
    assert {data["answers"][i] for i in asked} == {"left", "right", "above", "below"}
    assert all(data["num_shapes"][i] == 1 for i in asked)
    # Mirrored left-right, the same scenes swap left and right and keep above / below.
    mirrored = dict(data, images=data["images"][:, :, ::-1].copy(),
                    questions=list(data["questions"]), answers=list(data["answers"]),
                    question_types=list(data["question_types"]),
                    answer_ids=data["answer_ids"].copy())
    add_single_shape_positions(mirrored, fraction=1.0)
    swap = {"left": "right", "right": "left", "above": "above", "below": "below"}
    assert all(mirrored["answers"][i] == swap[data["answers"][i]] for i in asked)
    for i in asked:
        assert data["question_types"][i] == "position"
        assert SHAPES_VQA_ANSWERS[data["answer_ids"][i]] == data["answers"][i]
        words = data["questions"][i].replace("?", " ").split()
        assert (COLORS[data["colors"][i, 0]], SHAPES[data["shapes"][i, 0]]) in zip(words,
                                                                               words[1:])
    ids = shapes_vqa_tokenizer()([data["questions"][i] for i in asked])["token_ids"]
    assert not (ids == shapes_vqa_tokenizer().unk_token_id).any()
    none = add_single_shape_positions(generate_shapes_vqa("train", 100, 32), fraction=0.0)
    assert none["questions"] == generate_shapes_vqa("train", 100, 32)["questions"]


def test_swapped_positions_ask_each_pair_both_ways():
    from kerasmm.datasets.shapes_vqa import add_swapped_positions

    data = generate_shapes_vqa("train", 600, 32)
    out = add_swapped_positions(data)
    pairs = [i for i, q in enumerate(data["questions"])
             if data["question_types"][i] == "position"]
    assert len(pairs) > 50 and len(out["questions"]) == 600 + len(pairs)
    assert out["questions"][:600] == data["questions"]
    for key in ("images", "colors", "shapes", "relation", "held_out"):
        np.testing.assert_array_equal(out[key][600:], data[key][pairs])
    opposite = {"left": "right", "right": "left", "above": "below", "below": "above"}
    for k, i in enumerate(pairs):
        twin, original = out["questions"][600 + k], data["questions"][i]
        assert twin != original and sorted(twin[:-1].split()) == sorted(original[:-1].split())
        assert out["answers"][600 + k] == opposite[data["answers"][i]]
        assert SHAPES_VQA_ANSWERS[out["answer_ids"][600 + k]] == out["answers"][600 + k]
        # From the scene: the first shape is the left (relation 1) or upper (2) one.
        words = twin.replace("?", "").split()
        end = words.index("relative" if "relative" in words else "compared")
        subject = words[end - 2:end]
        names = [[COLORS[data["colors"][i, s]], SHAPES[data["shapes"][i, s]]] for s in (0, 1)]
        slot = names.index(subject)
        relation = data["relation"][i]
        assert out["answers"][600 + k] == (("left", "right") if relation == 1
                                           else ("above", "below"))[slot]
    # Lone shapes asked "relative to the image" have no twin.
    from kerasmm.datasets.shapes_vqa import add_single_shape_positions
    lone = add_single_shape_positions(generate_shapes_vqa("train", 600, 32), fraction=1.0)
    assert len(add_swapped_positions(lone)["questions"]) == 600 + len(pairs)
