import numpy as np
import pytest
import tensorflow as tf

from kerasmm.preprocessing import ByteTokenizer


def ids(out):
    return np.asarray(out["token_ids"]).tolist()


def mask(out):
    return np.asarray(out["padding_mask"]).tolist()


def test_deepmind_scheme_by_hand():
    # DeepMind `BytesTokenizer.to_int`: utf-8 bytes + 6. "h"=104, "i"=105,
    # "é"=0xC3 0xA9, "€"=0xE2 0x82 0xAC.
    tokenizer = ByteTokenizer()
    assert ids(tokenizer("hi")) == [110, 111]
    assert ids(tokenizer("é€")) == [201, 175, 232, 136, 178]
    out = tokenizer(["hi", "é", ""])
    assert ids(out) == [[110, 111], [201, 175], [0, 0]]
    assert mask(out) == [[True, True], [True, True], [False, False]]
    assert tokenizer.vocabulary_size() == 262
    specials = ("pad", "bos", "eos", "mask", "cls", "sep")
    assert [getattr(tokenizer, f"{s}_token_id") for s in specials] == [0, 1, 2, 3, 4, 5]


def test_hugging_face_special_tokens_by_hand():
    # PerceiverTokenizer: [CLS]=4 text [SEP]=5, pad 0; truncation keeps [SEP].
    tokenizer = ByteTokenizer(sequence_length=6, add_special_tokens=True)
    out = tokenizer(["ab", "abcdefg", ""])
    assert ids(out) == [[4, 103, 104, 5, 0, 0], [4, 103, 104, 105, 106, 5], [4, 5, 0, 0, 0, 0]]
    assert mask(out) == [[True] * 4 + [False] * 2, [True] * 6, [True] * 2 + [False] * 4]


def test_sequence_length_padding_truncation_and_override():
    tokenizer = ByteTokenizer(sequence_length=4)
    assert ids(tokenizer("abcdef")) == [103, 104, 105, 106]
    assert ids(tokenizer("a")) == [103, 0, 0, 0]
    assert ids(tokenizer("abcdef", sequence_length=2)) == [103, 104]
    assert tuple(tokenizer(["a", "b", "c"])["token_ids"].shape) == (3, 4)
    assert tokenizer(["a"])["token_ids"].dtype == tf.int32
    assert tokenizer(["a"])["padding_mask"].dtype == tf.bool


def test_detokenize():
    tokenizer = ByteTokenizer(sequence_length=16, add_special_tokens=True)
    texts = ["héllo wörld", "", "a [b] c"]
    assert tokenizer.detokenize(tokenizer(texts)) == texts
    assert tokenizer.detokenize([110, 3, 111, 0]) == "hi"  # Special ids dropped.
    assert tokenizer.detokenize([201]) == "\ufffd"  # A lone lead byte.


def test_inside_tf_data_and_bytes_input():
    tokenizer = ByteTokenizer(sequence_length=5)
    ds = tf.data.Dataset.from_tensor_slices(["ab", "cde"]).map(tokenizer).batch(2)
    batch = next(iter(ds))
    assert ids(batch) == [[103, 104, 0, 0, 0], [105, 106, 107, 0, 0]]
    assert ids(tokenizer(b"\xff")) == [261, 0, 0, 0, 0]


def test_config_round_trip():
    tokenizer = ByteTokenizer(sequence_length=7, add_special_tokens=True)
    restored = ByteTokenizer.from_config(tokenizer.get_config())
    assert ids(restored(["abc"])) == ids(tokenizer(["abc"]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="sequence_length"):
        ByteTokenizer(sequence_length=0)
    with pytest.raises(ValueError, match="sequence_length"):
        ByteTokenizer(sequence_length=1, add_special_tokens=True)
    tokenizer = ByteTokenizer()
    with pytest.raises(ValueError, match="sequence_length"):
        tokenizer("a", sequence_length=-1)
    with pytest.raises(TypeError, match="inputs"):
        tokenizer(5)
    with pytest.raises(TypeError, match="inputs"):
        tokenizer(["a", 5])
    with pytest.raises(ValueError, match="rank 0 or 1"):
        tokenizer(tf.constant([["a"]]))
    with pytest.raises(ValueError, match="262"):
        tokenizer.detokenize([300])
