import keras
import numpy as np
import pytest

from kerasmm.models import TextTransformer
from tests.models.clip import numpy_clip
from tests.test_case import TestCase, to_numpy

TINY = {"vocabulary_size": 64, "context_length": 16, "hidden_dim": 32,
        "num_layers": 2, "num_heads": 2, "output_dim": 16}
EOT = 63  # the largest id, as CLIP's <|endoftext|>


def token_ids(batch=3, length=16, eot_positions=(5, 9, 15), seed=0, pad=0):
    """Rows `start, words..., EOT, pad...` with words in [1, EOT)."""
    rng = np.random.default_rng(seed)
    ids = np.full((batch, length), pad, "int32")
    for row, position in enumerate(eot_positions[:batch]):
        ids[row, 0] = 1
        ids[row, 1:position] = rng.integers(2, EOT, position - 1)
        ids[row, position] = EOT
    return ids


def openai_text_parameter_count(vocab, context, width, layers, output_dim):
    block = 4 * width * width + 4 * width + 4 * width + 8 * width * width + 5 * width
    return vocab * width + context * width + layers * block + 2 * width + width * output_dim


class TestTextTransformer(TestCase):
    def test_common_checks(self):
        self.run_model_test(TextTransformer(**TINY), token_ids(),
                            expected_output_shape=(3, 16))

    def test_mixed_precision(self):
        for policy in ("mixed_float16", "mixed_bfloat16"):
            self.check_mixed_precision(TextTransformer, TINY, token_ids(), {}, policy)

    @pytest.mark.parametrize("length", [16, 11])
    def test_matches_openai_forward(self, length):
        model = TextTransformer(**TINY)
        numpy_clip.randomize_weights(model)
        ids = token_ids(length=length, eot_positions=(5, 9, length - 1))
        expected = numpy_clip.openai_text_transformer(
            ids, numpy_clip.text_state(model), heads=2)
        np.testing.assert_allclose(to_numpy(model(ids)), expected, atol=1e-4, rtol=1e-4)

    def test_parameter_count_matches_openai(self):
        assert TextTransformer(**TINY).count_params() == openai_text_parameter_count(
            64, 16, 32, 2, 16)

    def test_token_features_match_openai_hidden_states(self):
        model = TextTransformer(**TINY)
        numpy_clip.randomize_weights(model)
        ids = token_ids()
        expected = numpy_clip.openai_text_hidden(ids, numpy_clip.text_state(model), 2)
        np.testing.assert_allclose(to_numpy(model.token_features(ids)), expected,
                                   atol=1e-4, rtol=1e-4)

    def test_default_pooling_reads_the_first_largest_id(self):
        model = TextTransformer(**TINY)
        numpy_clip.randomize_weights(model)
        # Padded with the EOT id (Hugging Face's convention): ties -> first.
        ids = token_ids(pad=EOT)
        positions = np.array([5, 9, 15])
        assert to_numpy(model.eot_positions(ids)).tolist() == positions.tolist()
        hidden = to_numpy(model.token_features(ids)).astype("float64")
        expected = hidden[np.arange(3), positions] @ to_numpy(model.projection.kernel)
        np.testing.assert_allclose(to_numpy(model(ids)), expected, atol=1e-5)

    def test_eot_token_id_pooling(self):
        model = TextTransformer(**TINY, eot_token_id=7)
        numpy_clip.randomize_weights(model)
        ids = np.array([[1, 60, 7, 62, 7, 0], [1, 63, 63, 5, 9, 7], [1, 2, 3, 4, 5, 6]],
                       "int32")
        # First 7 in each row; a row without it is read at its last position.
        positions = np.array([2, 5, 5])
        assert to_numpy(model.eot_positions(ids)).tolist() == positions.tolist()
        hidden = to_numpy(model.token_features(ids)).astype("float64")
        expected = hidden[np.arange(3), positions] @ to_numpy(model.projection.kernel)
        np.testing.assert_allclose(to_numpy(model(ids)), expected, atol=1e-5)

    def test_tokens_after_eot_have_no_influence(self):
        model = TextTransformer(**TINY)
        numpy_clip.randomize_weights(model)
        ids = token_ids()
        changed = ids.copy()
        rng = np.random.default_rng(1)
        for row, position in enumerate((5, 9, 15)):
            changed[row, position + 1:] = rng.integers(0, EOT, 15 - position)
        assert not np.array_equal(ids, changed)
        np.testing.assert_allclose(to_numpy(model(changed)), to_numpy(model(ids)),
                                   atol=1e-6)
        # Causal: the features at and before the EOT token are unchanged too.
        before, after = to_numpy(model.token_features(ids)), to_numpy(
            model.token_features(changed))
        np.testing.assert_allclose(after[0, :6], before[0, :6], atol=1e-6)

    def test_padding_mask_has_no_influence(self):
        model = TextTransformer(**TINY)
        numpy_clip.randomize_weights(model)
        ids = token_ids()
        mask = np.arange(16)[None, :] <= np.array([5, 9, 15])[:, None]
        with_mask = model({"token_ids": ids, "padding_mask": mask})
        np.testing.assert_allclose(to_numpy(with_mask), to_numpy(model(ids)), atol=1e-6)

    def test_symbolic_calls(self):
        model = TextTransformer(**TINY)
        assert tuple(model(keras.Input((16,), dtype="int32")).shape) == (None, 16)
        inputs = {"token_ids": keras.Input((16,), dtype="int32"),
                  "padding_mask": keras.Input((16,), dtype="bool")}
        assert tuple(model(inputs).shape) == (None, 16)
        assert model.compute_output_shape((4, 16)) == (4, 16)

    def test_keras_round_trip_with_eot_token_id(self):
        model = TextTransformer(**TINY, eot_token_id=63)
        restored = self.check_keras_round_trip(model, token_ids())
        assert restored.eot_token_id == 63

    def test_token_ids_longer_than_context(self):
        model = TextTransformer(**TINY)
        with pytest.raises(ValueError, match=r"context_length.*Received: token_ids with "
                           r"length 20 \(shape \(2, 20\)\), context_length=16"):
            model(np.zeros((2, 20), "int32"))
        with pytest.raises(ValueError, match="length 17"):
            model(keras.Input((17,), dtype="int32"))

    def test_bad_inputs(self):
        model = TextTransformer(**TINY)
        with pytest.raises(ValueError, match=r"'token_ids'.*Received: inputs keys=\['ids'\]"):
            model({"ids": token_ids()})
        with pytest.raises(ValueError, match=r"token_ids must have shape \(batch, length\)"):
            model(np.zeros((16,), "int32"))
        with pytest.raises(ValueError, match="padding_mask must have the shape of token_ids"):
            model({"token_ids": token_ids(), "padding_mask": np.ones((3, 15), bool)})

    @pytest.mark.parametrize("kwargs, message", [
        ({"num_heads": 5}, r"num_heads=5, hidden_dim=32"),
        ({"context_length": 0}, "context_length=0"),
        ({"eot_token_id": 64}, r"eot_token_id=64, vocabulary_size=64"),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            TextTransformer(**{**TINY, **kwargs})


class TestTextTransformerOptions(TestCase):
    """intermediate_dim, output_tokens, use_projection_bias, layer_norm_epsilon."""

    def test_output_tokens_common_checks(self):
        model = TextTransformer(**TINY, intermediate_dim=50, output_tokens=True,
                                use_projection_bias=True)
        self.run_model_test(model, token_ids(),
                            expected_output_shape={"pooled": (3, 16), "tokens": (3, 16, 32)})
        assert model.compute_output_shape((4, 10)) == {"pooled": (4, 16),
                                                       "tokens": (4, 10, 32)}

    def test_intermediate_dim_matches_openai_forward(self):
        model = TextTransformer(**TINY, intermediate_dim=157)
        assert tuple(model.blocks[0].mlp.dense_2.kernel.shape) == (157, 32)
        numpy_clip.randomize_weights(model)
        ids = token_ids()
        expected = numpy_clip.openai_text_transformer(ids, numpy_clip.text_state(model),
                                                      heads=2)
        np.testing.assert_allclose(to_numpy(model(ids)), expected, atol=1e-4, rtol=1e-4)

    def test_tokens_path_keeps_the_pooled_output(self):
        fast = TextTransformer(**TINY, use_projection_bias=True)
        numpy_clip.randomize_weights(fast)
        full = TextTransformer.from_config({**fast.get_config(), "output_tokens": True})
        full.set_weights(fast.get_weights())
        ids = token_ids()
        mask = np.arange(16)[None, :] <= np.array([5, 9, 15])[:, None]
        for inputs in (ids, {"token_ids": ids, "padding_mask": mask}):
            outputs = full(inputs)
            np.testing.assert_allclose(to_numpy(outputs["pooled"]), to_numpy(fast(inputs)),
                                       atol=1e-5)
            np.testing.assert_allclose(to_numpy(outputs["tokens"]),
                                       to_numpy(fast.token_features(inputs)), atol=1e-6)

    def test_options_round_trip(self):
        model = TextTransformer(**TINY, use_projection_bias=True, layer_norm_epsilon=1e-6,
                                intermediate_dim=24, output_tokens=True)
        assert tuple(model.projection.bias.shape) == (16,)
        assert model.ln_final.epsilon == 1e-6
        config = model.get_config()
        assert TextTransformer.from_config(config).get_config() == config
        restored = self.check_keras_round_trip(model, token_ids())
        assert restored.output_tokens and restored.intermediate_dim == 24

    @pytest.mark.parametrize("kwargs, message", [
        ({"layer_norm_epsilon": 0.0}, r"layer_norm_epsilon must be > 0"),
        ({"layer_norm_epsilon": float("nan")}, "layer_norm_epsilon must be finite"),
        ({"intermediate_dim": -3}, "intermediate_dim=-3"),
        ({"output_tokens": None}, "output_tokens must be a bool"),
    ])
    def test_bad_options(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            TextTransformer(**{**TINY, **kwargs})


def test_trim_padding_drops_only_the_columns_after_the_last_eot():
    model = TextTransformer(**{**TINY, "context_length": 32})
    numpy_clip.randomize_weights(model)
    ids = token_ids(length=32, eot_positions=(3, 9, 5))
    # Up to the last EOT (position 9), rounded up to a multiple of 8.
    assert model.trim_padding(ids).shape == (3, 16)
    np.testing.assert_array_equal(model.trim_padding(ids, multiple=1), ids[:, :10])
    # The same features as the whole rows (OpenAI's forward on all 32 columns).
    expected = numpy_clip.openai_text_transformer(ids, numpy_clip.text_state(model), heads=2)
    np.testing.assert_allclose(to_numpy(model(model.trim_padding(ids, multiple=1))),
                               expected, atol=1e-4, rtol=1e-4)
    # Lists and dicts (the padding mask trimmed alike); nothing to drop: unchanged.
    other = np.ones((3, 32))
    trimmed = model.trim_padding({"token_ids": ids.tolist(), "padding_mask": ids > 0,
                                  "other": other})
    assert trimmed["token_ids"].shape == trimmed["padding_mask"].shape == (3, 16)
    assert trimmed["other"] is other  # only the ids and their mask
    short = ids[:, :16]  # already as short as the rounding allows
    assert model.trim_padding(short) is short
    full = token_ids(length=32, eot_positions=(3, 31, 5))
    assert model.trim_padding(full) is full
    # What a call refuses is refused, even in the columns that would be dropped.
    with pytest.raises(ValueError, match="context_length=32"):
        model.trim_padding(np.zeros((2, 33), "int32"))
    with pytest.raises(ValueError, match="multiple.*Received: multiple=0"):
        model.trim_padding(ids, multiple=0)
    bad = ids.copy()
    bad[0, 20] = 64
    with pytest.raises(ValueError, match="token_ids"):
        model.trim_padding(bad)


def test_trim_padding_keeps_what_the_pooling_could_read():
    # A row without its eot_token_id is read at the last column: nothing dropped.
    model = TextTransformer(**{**TINY, "context_length": 32}, eot_token_id=EOT)
    ids = token_ids(length=32, eot_positions=(3, 9, 5))
    ids[1, 9] = 7
    assert model.trim_padding(ids) is ids
    # Symbolic ids (a traced call) and towers returning every token: unchanged.
    symbolic = keras.KerasTensor((3, 32), "int32")
    assert model.trim_padding(symbolic) is symbolic
    tokens = TextTransformer(**{**TINY, "context_length": 32}, output_tokens=True)
    ids = token_ids(length=32, eot_positions=(3, 9, 5))
    assert tokens.trim_padding(ids) is ids
