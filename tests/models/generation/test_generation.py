import os

import keras
import numpy as np
import pytest

from kerasmm.models.generation import sampling
from tests.models.generation import numpy_decoding as ref
from tests.models.generation.numpy_decoding import END, PAD, ToyDecoder


def features(batch, seed=1, dim=3):
    return np.random.default_rng(seed).normal(size=(batch, dim)).astype("float32")


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("min_length, penalty", [(0, 1.0), (2, 0.6)])
def test_greedy_equals_numpy(min_length, penalty):
    model, x = ToyDecoder(seed=3), features(5)
    out = model.generate(x, max_length=7, min_length=min_length, repetition_penalty=penalty)
    np.testing.assert_array_equal(out, ref.greedy(model, x, 7, min_length, penalty))
    assert out.dtype == np.int32


def test_output_is_padded_after_the_end_token_and_trimmed():
    model = ToyDecoder(vocabulary_size=8, seed=5)
    x = features(16, seed=2)
    out = model.generate(x, max_length=9)
    expected = ref.greedy(model, x, 9)
    np.testing.assert_array_equal(out, expected)
    ended = out == END
    assert ended.any()  # the test table ends some rows early
    for row in out:
        if END in row:
            assert (row[list(row).index(END) + 1:] == PAD).all()
    assert out.shape[1] <= 9


@pytest.mark.parametrize("num_beams, min_length, penalty, seed",
                         [(2, 0, 1.0, 0), (3, 1, 1.5, 3)])
def test_beam_equals_numpy_transformers_algorithm(num_beams, min_length, penalty, seed):
    model, x = ToyDecoder(vocabulary_size=7, seed=seed, scale=1.5), features(4, seed=seed)
    out = model.generate(x, max_length=6, strategy="beam", num_beams=num_beams,
                         min_length=min_length, repetition_penalty=penalty)
    np.testing.assert_array_equal(
        out, ref.beam(model, x, 6, num_beams, min_length, penalty))


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_prompts_are_continued_as_numpy(strategy):
    # The skip term reads the token before the last from the cache: a prompt
    # prefilled at the wrong positions changes the results. The end token
    # inside a prompt does not end the row; min_length counts new tokens
    # only; the repetition penalty sees the prompt.
    model, x = ToyDecoder(vocabulary_size=7, seed=4, scale=1.5), features(4, seed=4)
    prompts = np.array([[3, 4, 5], [END, 6, 3], [5, 5, 5], [6, 3, 4]], "int32")
    options = dict(max_length=5, min_length=2, repetition_penalty=1.4)
    if strategy == "beam":
        out = model.generate(x, strategy="beam", num_beams=3, prompt_token_ids=prompts,
                             **options)
        expected = ref.beam(model, x, 5, 3, 2, 1.4, prompts=prompts.tolist())
    else:
        out = model.generate(x, prompt_token_ids=prompts, **options)
        expected = ref.greedy(model, x, 5, 2, 1.4, prompts=prompts.tolist())
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out[:, :3], prompts)
    unprompted = model.generate(x, strategy=strategy, num_beams=3, **options)
    assert not np.array_equal(out[:, 3:3 + unprompted.shape[1]], unprompted)


def test_beam_with_every_prefix_kept_is_exhaustive_search():
    # With num_beams >= V**L every prefix survives, every finished sequence
    # ranks in the top num_beams and no row stops early: beam search must
    # return the best length-normalised sequence of all.
    model, x = ToyDecoder(vocabulary_size=4, seed=7, scale=1.0), features(3, seed=7)
    out = model.generate(x, max_length=3, strategy="beam", num_beams=64, min_length=1,
                         repetition_penalty=1.3)
    expected = ref.pad_rows([ref.exhaustive(model, row, 3, 1, 1.3) for row in x])
    np.testing.assert_array_equal(out, expected)


FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "hf_generation",
                       "decoding.npz")
HF_CASES = {  # tools/make_generation_fixture.py: the same settings through HF's generate
    "greedy": {}, "greedy_min2_rep1.6": {"min_length": 2, "repetition_penalty": 1.6},
    "beam2": {"strategy": "beam", "num_beams": 2}, "beam4": {"strategy": "beam", "num_beams": 4},
    "beam3_min3": {"strategy": "beam", "num_beams": 3, "min_length": 3},
    "beam4_rep0.7": {"strategy": "beam", "num_beams": 4, "repetition_penalty": 0.7},
}


def test_token_ids_equal_hugging_face_generate():
    fixture = np.load(FIXTURE)
    tables = {"bigram": fixture["bigram"], "skip": fixture["skip"], "bias": fixture["row_bias"]}
    model = ToyDecoder(tables=tables)
    rows = np.eye(len(tables["bias"]), dtype="float32")  # row i adds HF's row_bias[i]
    for name, kwargs in HF_CASES.items():
        out = model.generate(rows, max_length=7, **kwargs)
        np.testing.assert_array_equal(out, fixture[f"ids_{name}"], err_msg=name)
        np.testing.assert_array_equal(
            out, (ref.beam(model, rows, 7, kwargs["num_beams"], kwargs.get("min_length", 0),
                           kwargs.get("repetition_penalty", 1.0))
                  if "num_beams" in kwargs else
                  ref.greedy(model, rows, 7, kwargs.get("min_length", 0),
                             kwargs.get("repetition_penalty", 1.0))), err_msg=name)


def test_one_beam_is_greedy():
    model, x = ToyDecoder(seed=4), features(6)
    np.testing.assert_array_equal(model.generate(x, max_length=8, strategy="beam", num_beams=1),
                                  model.generate(x, max_length=8))


def test_top_k_one_sampling_is_greedy_and_seeds_reproduce():
    model, x = ToyDecoder(seed=6), features(6)
    greedy = model.generate(x, max_length=8)
    sampled = model.generate(x, max_length=8, strategy="sample", top_k=1, seed=11,
                             temperature=0.5)
    np.testing.assert_array_equal(sampled, greedy)
    a = model.generate(x, max_length=8, strategy="sample", seed=3)
    b = model.generate(x, max_length=8, strategy="sample", seed=3)
    np.testing.assert_array_equal(a, b)
    others = [model.generate(x, max_length=8, strategy="sample", seed=s) for s in range(4, 8)]
    assert any(o.shape != a.shape or (o != a).any() for o in others)


@pytest.mark.parametrize("settings", [{"temperature": 0.7, "top_k": 3},
                                      {"top_p": 0.8, "temperature": 1.3}])
def test_sampled_first_tokens_follow_the_processed_distribution(settings):
    model = ToyDecoder(vocabulary_size=6, seed=8, scale=1.0)
    x = np.repeat(features(1, seed=8), 4000, axis=0)
    first = model.generate(x, max_length=1, strategy="sample", seed=0, **settings)[:, 0]
    logits = ref.toy_logits(model, [ref.START], x[0])[None]
    scores = to_numpy(sampling.process_scores(
        logits, temperature=settings.get("temperature", 1.0), top_k=settings.get("top_k"),
        top_p=settings.get("top_p")))[0]
    probs = np.exp(ref.log_softmax(scores))
    freq = np.bincount(first, minlength=6) / len(first)
    assert (freq[probs == 0] == 0).all()
    # 4000 draws: binomial standard error <= 0.008 per token.
    np.testing.assert_allclose(freq, probs, atol=0.03)


def test_top_p_matches_the_formula():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(8, 11)).astype("float32")
    for top_p in (0.1, 0.5, 0.9, 1.0):
        out = to_numpy(sampling.top_p_filter(scores, top_p))
        for row, got in zip(scores, out):
            order = np.argsort(row)
            cumulative = np.cumsum(np.exp(ref.log_softmax(row[order])))
            remove = cumulative <= 1 - top_p
            remove[-1] = False
            expected = row.copy()
            expected[order[remove]] = -np.inf
            np.testing.assert_array_equal(got, expected)


def test_top_k_keeps_ties_and_repetition_penalty_is_hf_rule():
    scores = np.array([[1.0, 3.0, 2.0, 2.0, -1.0]], "float32")
    np.testing.assert_array_equal(to_numpy(sampling.top_k_filter(scores, 3)),
                                  [[-np.inf, 3.0, 2.0, 2.0, -np.inf]])
    np.testing.assert_array_equal(to_numpy(sampling.top_k_filter(scores, 50)), scores)
    presence = np.array([[True, False, True, False, True]])
    np.testing.assert_allclose(to_numpy(sampling.repetition_penalty(scores, presence, 2.0)),
                               [[0.5, 3.0, 1.0, 2.0, -2.0]])
    np.testing.assert_array_equal(
        to_numpy(sampling.suppress_end_token(scores, 1, True)),
        [[1.0, -np.inf, 2.0, 2.0, -1.0]])
    np.testing.assert_array_equal(to_numpy(sampling.suppress_end_token(scores, 1, False)), scores)


def test_one_trace_per_shape_and_configuration():
    model = ToyDecoder(seed=2)
    model.generate(features(4), max_length=5)
    model.generate(features(4, seed=9), max_length=5)
    assert model.generate_trace_count == 1
    model.generate(features(3), max_length=5)
    assert model.generate_trace_count == 2
    model.generate(features(3), max_length=5, strategy="sample", seed=1)
    model.generate(features(3), max_length=5, strategy="sample", seed=2)
    assert model.generate_trace_count == 3


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_context_computed_apart_from_the_loop_gives_the_same_ids(strategy):
    # `jit_compile_context = False` (BLIP's setting): the context is its own
    # function (a graph without XLA on TensorFlow) feeding the compiled loop.
    model, x = ToyDecoder(vocabulary_size=7, seed=4, scale=1.5), features(4, seed=4)
    model.jit_compile_context = False
    prompts = np.array([[3, 4], [END, 6], [5, 5], [6, 3]], "int32")
    out = model.generate(x, strategy=strategy, num_beams=2, max_length=5, min_length=1,
                         repetition_penalty=1.3, prompt_token_ids=prompts)
    model.generate(features(4, seed=8), strategy=strategy, num_beams=2, max_length=5,
                   min_length=1, repetition_penalty=1.3, prompt_token_ids=prompts)
    assert model.generate_trace_count == 1
    if strategy == "beam":
        expected = ref.beam(model, x, 5, 2, 1, 1.3, prompts=prompts.tolist())
    else:
        expected = ref.greedy(model, x, 5, 1, 1.3, prompts=prompts.tolist())
    np.testing.assert_array_equal(out, expected)


def test_new_weights_are_used_without_retracing():
    model, x = ToyDecoder(seed=2), features(4)
    model.generate(x, max_length=6)
    other = ToyDecoder(seed=12)
    for name in ("bigram", "skip", "bias"):
        getattr(model, name).assign(other.tables[name])
    np.testing.assert_array_equal(model.generate(x, max_length=6), ref.greedy(other, x, 6))
    assert model.generate_trace_count == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"strategy": "top"}, "strategy must be one of"),
    ({"max_length": 0}, "max_length must be a positive integer"),
    ({"top_k": 3}, "top_k applies only to strategy='sample'"),
    ({"strategy": "beam", "temperature": 0.5}, "temperature applies only"),
    ({"strategy": "sample", "top_p": 1.5}, "top_p must be in"),
    ({"strategy": "sample", "temperature": 0.0}, "temperature must be > 0"),
    ({"min_length": -1}, "min_length must be an integer >= 0"),
    ({"repetition_penalty": 0}, "repetition_penalty must be > 0"),
    ({"strategy": "sample", "seed": 1.5}, "seed must be None or an integer"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        ToyDecoder().generate(features(2), **kwargs)


@pytest.mark.tf_only
def test_tensorflow_compiles_the_whole_loop_with_xla():
    import tensorflow as tf

    model, x = ToyDecoder(seed=2), features(3)
    model.generate(x, max_length=5, strategy="beam", num_beams=2)
    (function,) = model._generate_functions.values()
    assert isinstance(function, tf.types.experimental.PolymorphicFunction)
    inputs = tf.constant(x)
    prompt = tf.fill((3, 1), model.start_token_id)  # The start token alone: no prompt.
    hlo = function.experimental_get_compiler_ir(inputs, prompt, tf.constant(0))(stage="hlo")
    # One XLA program holding the decoding loop (not one call per step).
    assert " while(" in hlo and "HloModule" in hlo
    assert model.generate_trace_count == 1
