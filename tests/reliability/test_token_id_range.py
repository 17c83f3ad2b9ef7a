"""Token ids outside `[0, vocabulary_size)`, float ids and bad pad ids are refused.

Failed before the fix (HEAD 9d51597): `TextTransformer` and `TextAdapter`
took id -1 of a 64-id vocabulary without a word (TensorFlow CPU and JAX);
id 64 raised TensorFlow's obscure `indices[0,1] = 64 is not in [0, 64)
[Op:GatherV2]` on CPU (silently clamped on JAX, zeros on a GPU); float ids
`5.7` were truncated to `5`; `CLIPTokenizer` padded with `pad_token_id=-1`
or `10**6`.
"""

import keras
import numpy as np
import pytest

from kerasmm.layers import TextAdapter
from kerasmm.models import TextTransformer
from kerasmm.preprocessing import CLIPTokenizer
from tests.preprocessing.tiny_vocab import MERGES
from tests.preprocessing.tiny_vocab import make_vocabulary

RANGE = r"token_ids must be integers in \[0, vocabulary_size\) = \[0, 64\)"
GOOD = np.array([[1, 5, 63, 0]], "int32")
BAD = [np.array([[1, 64, 63, 0]], "int32"), np.array([[1, -1, 63, 0]], "int32"),
       np.array([[1, 5, 63, 10**6]], "int64")]


def text_transformer():
    return TextTransformer(vocabulary_size=64, context_length=8, hidden_dim=8,
                           num_layers=1, num_heads=2, output_dim=4)


def text_adapter():
    return TextAdapter(vocabulary_size=64, max_sequence_length=8, embedding_dim=4)


def features(outputs):
    return outputs["features"] if isinstance(outputs, dict) else outputs


@pytest.mark.parametrize("make", [text_transformer, text_adapter])
def test_out_of_range_ids_raise_eagerly(make):
    model = make()
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(features(model(GOOD)))))
    for ids in BAD:
        with pytest.raises(ValueError, match=RANGE):
            model(ids)
        with pytest.raises(ValueError, match=RANGE):
            model({"token_ids": ids, "padding_mask": ids >= 0})


@pytest.mark.parametrize("make", [text_transformer, text_adapter])
def test_float_ids_are_refused_not_truncated(make):
    model = make()
    for dtype in ("float32", "float16", "bool"):
        with pytest.raises(ValueError, match="token_ids must be an integer tensor"):
            model(np.array([[1, 5.7, 63, 0]]).astype(dtype))


@pytest.mark.tf_only
def test_out_of_range_ids_raise_inside_predict_and_fit():
    import tensorflow as tf

    model = text_transformer()
    model.compile(optimizer="sgd", loss="mse")
    assert model.predict(GOOD, verbose=0).shape == (1, 4)
    for ids in BAD:
        with pytest.raises(tf.errors.InvalidArgumentError, match=RANGE):
            model.predict(ids, verbose=0)
        with pytest.raises(tf.errors.InvalidArgumentError, match=RANGE):
            model.fit(ids, np.zeros((1, 4)), verbose=0)
    # A tf.function of the adapter too (what tf.data-fed training traces).
    adapter = text_adapter()
    call = tf.function(lambda ids: adapter(ids)["features"])
    with pytest.raises(tf.errors.InvalidArgumentError, match=RANGE):
        call(tf.constant(BAD[0]))


@pytest.mark.tf_only
def test_xla_compiled_calls_carry_no_assertion_and_graphs_keep_it():
    # XLA drops assertions and logs "Ignoring Assert operator" at every
    # compile; inside jit_compile the check adds none, outside it keeps one.
    import tensorflow as tf

    model = text_transformer()
    model(GOOD)
    spec = tf.TensorSpec((1, 4), tf.int32)

    def asserts(jit_compile):
        call = tf.function(lambda ids: model(ids), jit_compile=jit_compile)
        graph = call.get_concrete_function(spec).graph
        return [op.type for op in graph.get_operations() if op.type == "Assert"]

    assert asserts(jit_compile=False) == ["Assert"]
    assert asserts(jit_compile=True) == []
    call = tf.function(lambda ids: model(ids), jit_compile=True)
    np.testing.assert_allclose(call(tf.constant(GOOD)), model(GOOD), atol=1e-6)


def test_functional_model_with_float_inputs_refuses_them_when_called():
    inputs = keras.Input(shape=(4,))  # float32: a common slip.
    model = keras.Model(inputs, text_transformer()(inputs))
    with pytest.raises(ValueError, match="token_ids must be an integer tensor"):
        model.predict(GOOD, verbose=0)  # Keras casts the ids to the Input's float32.
    ids = keras.Input(shape=(4,), dtype="int32")
    model = keras.Model(ids, text_transformer()(ids))
    with pytest.raises(ValueError, match=RANGE):
        model(BAD[0])


def test_pad_token_id_must_be_in_the_vocabulary():
    vocabulary = make_vocabulary()
    for bad in (-1, len(vocabulary), 10**6):
        with pytest.raises(ValueError, match=r"pad_token_id must be"):
            CLIPTokenizer(vocabulary, MERGES, pad_token_id=bad)
    tokenizer = CLIPTokenizer(vocabulary, MERGES, pad_token_id=len(vocabulary) - 1)
    assert tokenizer.pad_token_id == len(vocabulary) - 1
