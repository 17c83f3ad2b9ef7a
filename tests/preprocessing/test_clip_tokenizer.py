import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasmm.preprocessing import CLIPTokenizer
from tests.preprocessing.openai_bpe import OpenAIBPE
from tests.preprocessing.tiny_vocab import MERGES, make_vocabulary, tiny_tokenizer

TEXTS = [
    "a red circle",
    "A  RED\tCircle!!  x",
    "red, circle's 12 blue",
    "a blue square is red",
    "héllo wörld ümlaut",
    "red<|endoftext|>circle",
    "",
    "circle " * 20,
]


@pytest.fixture(scope="module")
def vocab():
    return make_vocabulary()


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def test_matches_openai_reference(tokenizer, vocab):
    reference = OpenAIBPE(vocab, MERGES)
    expected = np.array([reference.tokenize(t, 10) for t in TEXTS])
    np.testing.assert_array_equal(np.asarray(tokenizer(TEXTS)), expected)
    # One merge applied to "circle" whole, as the reference BPE does.
    assert vocab["circle</w>"] in np.asarray(tokenizer("circle")).tolist()


def test_start_end_pad_and_truncation(tokenizer, vocab):
    sot, eot = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    red, circle = vocab["red</w>"], vocab["circle</w>"]
    row = np.asarray(tokenizer("red circle")).tolist()
    assert row == [sot, red, circle, eot] + [0] * 6
    long = np.asarray(tokenizer("circle " * 20)).tolist()
    assert long == [sot] + [circle] * 8 + [eot]  # End token kept last.
    empty = np.asarray(tokenizer("")).tolist()
    assert empty == [sot, eot] + [0] * 8


def test_pad_token_id_and_padding_mask(vocab):
    eot = vocab["<|endoftext|>"]
    tokenizer = CLIPTokenizer(vocab, MERGES, sequence_length=6, pad_token_id=eot,
                              return_padding_mask=True)
    out = tokenizer(["red", "red red red red red red"])
    ids, mask = np.asarray(out["token_ids"]), np.asarray(out["padding_mask"])
    assert ids[0].tolist()[2:] == [eot] * 4
    assert mask.tolist() == [[True] * 3 + [False] * 3, [True] * 6]


def test_shapes_and_input_types(tokenizer):
    assert tuple(tokenizer("a red circle").shape) == (10,)
    assert tuple(tokenizer(["a", "b", "c"]).shape) == (3, 10)
    assert tokenizer(["a"]).dtype == tf.int32
    from_tensor = tokenizer(tf.constant(["a red circle", "blue"]))
    np.testing.assert_array_equal(from_tensor, tokenizer(["a red circle", "blue"]))
    np.testing.assert_array_equal(tokenizer(tf.constant("red")), tokenizer("red"))
    assert tuple(tokenizer([]).shape) == (0, 10)


def test_detokenize_round_trip(tokenizer):
    texts = ["a red circle", "A  BLUE\tsquare is  Red", "héllo wörld", "squares"]
    normalised = [" ".join(t.lower().split()) for t in texts]
    long = CLIPTokenizer(tokenizer.vocabulary, tokenizer.merges, sequence_length=32)
    assert long.detokenize(long(texts)) == normalised
    assert long.detokenize(long("red circle")) == "red circle"


@pytest.mark.slow
def test_inside_tf_data_map_equals_eager(tokenizer):
    # keras-hub's TF path runs here: tracing its BPE takes several seconds.
    ds = tf.data.Dataset.from_tensor_slices(TEXTS).batch(4).map(tokenizer)
    graph = np.concatenate([b for b in ds.as_numpy_iterator()])
    np.testing.assert_array_equal(graph, np.asarray(tokenizer(TEXTS)))
    unbatched = tf.data.Dataset.from_tensor_slices(TEXTS[:2]).map(tokenizer)
    assert unbatched.element_spec.shape == (10,)
    np.testing.assert_array_equal(
        np.stack(list(unbatched.as_numpy_iterator())), np.asarray(tokenizer(TEXTS[:2]))
    )


def test_config_round_trip_and_paths(tokenizer, vocab, tmp_path):
    restored = CLIPTokenizer.from_config(tokenizer.get_config())
    np.testing.assert_array_equal(restored(TEXTS), tokenizer(TEXTS))
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(tokenizer)
    )
    assert isinstance(revived, CLIPTokenizer)
    np.testing.assert_array_equal(revived(TEXTS), tokenizer(TEXTS))
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n")
    from_files = CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"),
                               sequence_length=10)
    np.testing.assert_array_equal(from_files(TEXTS), tokenizer(TEXTS))
    assert from_files.merges == MERGES
    assert tokenizer.vocabulary_size() == len(vocab)


def test_bad_arguments(vocab):
    with pytest.raises(ValueError, match="sequence_length"):
        CLIPTokenizer(vocab, MERGES, sequence_length=1)
    with pytest.raises(ValueError, match="pad_token_id"):
        CLIPTokenizer(vocab, MERGES, pad_token_id="0")
    small = {k: v for k, v in vocab.items() if k != "a</w>"}
    with pytest.raises(ValueError, match="vocabulary must contain"):
        CLIPTokenizer(small, MERGES)
    with pytest.raises(ValueError, match="merge"):
        CLIPTokenizer(vocab, MERGES + ["x yz"])
    with pytest.raises(ValueError, match="merges"):
        CLIPTokenizer(vocab, [])
    with pytest.raises(TypeError, match="vocabulary"):
        CLIPTokenizer(list(vocab), MERGES)


def test_bad_inputs(tokenizer):
    with pytest.raises(TypeError, match="inputs"):
        tokenizer(3)
    with pytest.raises(TypeError, match="inputs"):
        tokenizer(["a", 3])
    with pytest.raises(ValueError, match="rank 0 or 1"):
        tokenizer(tf.constant([["a"]]))
    with pytest.raises(ValueError, match="not in vocabulary"):
        tokenizer.detokenize([10**6])
