import numpy as np
import pytest
from keras import ops

from kerasmm.layers import BasicDecoder
from kerasmm.layers import ClassificationDecoder
from kerasmm.layers import MaskedLMDecoder
from kerasmm.layers import MultimodalDecoder
from tests.models.perceiver.perceiver_reference import cross_attention_layer
from tests.models.perceiver.perceiver_reference import fourier_features
from tests.models.perceiver.perceiver_reference import weights
from tests.test_case import TestCase
from tests.test_case import to_numpy

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.normal(size=shape).astype("float32")


LATENTS = rand(2, 5, 8)


def decoded(decoder, queries):
    """Reference: HF cross-attention layer of the queries over LATENTS."""
    return cross_attention_layer(decoder.cross_attention, queries, LATENTS.astype("float64"))


class TestClassificationDecoder(TestCase):
    def test_common_checks(self):
        self.run_layer_test(ClassificationDecoder, {"num_classes": 3, "num_heads": 2},
                            LATENTS, expected_output_shape=(2, 3))

    def test_matches_reference(self):
        decoder = ClassificationDecoder(num_classes=4, query_dim=6, qk_channels=4)
        out = to_numpy(decoder(LATENTS))
        w = weights(decoder)
        query = np.broadcast_to(w["query/latents"], (2, 1, 6))
        ref = decoded(decoder, query)[:, 0] @ w["final_projection/kernel"] \
            + w["final_projection/bias"]
        np.testing.assert_allclose(out, ref, atol=1e-5)
        assert decoder.cross_attention.use_query_residual

    def test_bad_config(self):
        with pytest.raises(ValueError, match="num_classes=0"):
            ClassificationDecoder(0)
        with pytest.raises(ValueError, match="num_heads=3, qk_channels=8"):
            ClassificationDecoder(2, num_heads=3, qk_channels=8)
        with pytest.raises(ValueError, match="num_heads=3, latent width=8"):
            ClassificationDecoder(2, num_heads=3)(LATENTS)


class TestBasicDecoder(TestCase):
    def test_common_checks(self):
        self.run_layer_test(BasicDecoder, {"output_num_channels": 3, "output_index_dims": (2, 3),
                                           "position_dim": 4},
                            LATENTS, expected_output_shape=(2, 2, 3, 3))

    def test_fourier_queries_per_pixel(self):
        decoder = BasicDecoder(output_num_channels=2, output_index_dims=(3, 4),
                               position_encoding="fourier", num_bands=3,
                               max_resolution=(6, 8))
        out = to_numpy(decoder(LATENTS))
        assert out.shape == (2, 3, 4, 2)
        queries = np.broadcast_to(fourier_features((3, 4), 3, (6, 8)), (2, 12, 14))
        np.testing.assert_allclose(to_numpy(decoder.queries(LATENTS)), queries, atol=1e-5)
        w = weights(decoder)
        ref = decoded(decoder, queries) @ w["final_projection/kernel"] \
            + w["final_projection/bias"]
        np.testing.assert_allclose(out, ref.reshape(2, 3, 4, 2), atol=1e-5)

    def test_subsampled_points_use_deepmind_positions(self):
        decoder = BasicDecoder(output_num_channels=2, output_index_dims=(3, 4),
                               position_encoding="fourier", num_bands=2)
        points = np.array([0, 5, 11])
        out = to_numpy(decoder(LATENTS, subsampled_points=points))
        assert out.shape == (2, 3, 2)
        # DeepMind: pos = -1 + 2 * unravel_index(points) / index_dims.
        pos = -1 + 2 * np.stack(np.unravel_index(points, (3, 4)), axis=1) / np.array([3, 4])
        np.testing.assert_allclose(
            to_numpy(decoder.queries(LATENTS, subsampled_points=points))[0],
            fourier_features((3, 4), 2, pos=pos), atol=1e-5)

    def test_learned_queries_subsampled_rows_and_output_shape(self):
        decoder = BasicDecoder(output_num_channels=3, output_index_dims=(4,),
                               output_shape=(-1,))
        out = to_numpy(decoder(LATENTS))
        assert out.shape == (2, 12)
        table = weights(decoder)["position_embeddings/latents"]
        assert table.shape == (4, 8)
        sub = to_numpy(decoder.queries(LATENTS, subsampled_points=np.array([3, 1])))
        np.testing.assert_array_equal(sub[1], table[[3, 1]].astype("float32"))
        no_projection = BasicDecoder(output_index_dims=(4,), final_project=False,
                                     position_dim=6)
        assert to_numpy(no_projection(LATENTS)).shape == (2, 4, 6)

    def test_bad_config(self):
        with pytest.raises(ValueError, match="output_num_channels=None"):
            BasicDecoder(output_index_dims=(4,))
        with pytest.raises(ValueError, match="position_encoding=None"):
            BasicDecoder(2, output_index_dims=(4,), position_encoding=None)
        with pytest.raises(ValueError, match="max_resolution=\\(4,\\)"):
            BasicDecoder(2, output_index_dims=(4, 4), position_encoding="fourier",
                         max_resolution=(4,))
        with pytest.raises(ValueError, match="output_index_dims=0"):
            BasicDecoder(2, output_index_dims=0)


class TestMaskedLMDecoder(TestCase):
    def test_common_checks(self):
        self.run_layer_test(MaskedLMDecoder, {"vocabulary_size": 11, "max_sequence_length": 6,
                                              "num_heads": 2, "tie_embeddings": False},
                            LATENTS, expected_output_shape=(2, 6, 11))

    def test_tied_logits_match_reference(self):
        decoder = MaskedLMDecoder(vocabulary_size=7, max_sequence_length=6, position_dim=4,
                                  num_heads=2)
        embeddings = rand(7, 4)
        text_features = rand(2, 5, 4)
        out = to_numpy(decoder(LATENTS, inputs=text_features, embedding_matrix=embeddings))
        w = weights(decoder)
        queries = np.broadcast_to(w["position_embeddings/latents"][:5], (2, 5, 4))
        ref = decoded(decoder, queries) @ embeddings.T.astype("float64") + w["bias"]
        np.testing.assert_allclose(out, ref, atol=1e-5)
        assert not decoder.cross_attention.use_query_residual
        with pytest.raises(ValueError, match="embedding_matrix=None"):
            decoder(LATENTS)
        with pytest.raises(ValueError, match=r"embedding_matrix with shape \(7, 3\)"):
            decoder(LATENTS, embedding_matrix=rand(7, 3))

    def test_query_width_defaults_to_input_width(self):
        decoder = MaskedLMDecoder(vocabulary_size=7, max_sequence_length=6, num_heads=1)
        out = decoder(LATENTS, inputs=rand(2, 3, 5), embedding_matrix=rand(7, 5))
        assert decoder.query_dim == 5 and tuple(out.shape) == (2, 3, 7)


def multimodal_decoder():
    return MultimodalDecoder({
        "image": BasicDecoder(3, output_index_dims=(2, 2), position_encoding="fourier",
                              num_bands=2),  # 2 + 8 = 10 query channels
        "audio": BasicDecoder(4, output_index_dims=(3,), position_dim=5, output_shape=(-1,)),
        "label": ClassificationDecoder(num_classes=6, query_dim=7, use_query_residual=False),
    }, output_num_channels=9, min_padding_size=1)


class TestMultimodalDecoder(TestCase):
    def test_common_checks(self):
        self.run_layer_test(MultimodalDecoder, {"decoders": {
            "a": BasicDecoder(2, output_index_dims=(3,), position_dim=4),
            "b": ClassificationDecoder(3, query_dim=2)}, "output_num_channels": 5},
            LATENTS, expected_output_shape={"a": (2, 3, 2), "b": (2, 3)})

    def test_matches_reference(self):
        decoder = multimodal_decoder()
        out = {k: to_numpy(v) for k, v in decoder(LATENTS).items()}
        assert {k: v.shape for k, v in out.items()} == {
            "audio": (2, 12), "image": (2, 2, 2, 3), "label": (2, 6)}
        w = weights(decoder)
        sub = {m: weights(d) for m, d in decoder.decoders.items()}

        def pad(q, name):
            padding = np.broadcast_to(w[f"padding_{name}"], q.shape[:2] + (11 - q.shape[-1],))
            return np.concatenate([q, padding], axis=-1)

        queries = np.concatenate([
            pad(np.broadcast_to(sub["audio"]["position_embeddings/latents"], (2, 3, 5)), "audio"),
            pad(np.broadcast_to(fourier_features((2, 2), 2), (2, 4, 10)), "image"),
            pad(np.broadcast_to(sub["label"]["query/latents"], (2, 1, 7)), "label"),
        ], axis=1)
        x = decoded(decoder, queries) @ w["final_projection/kernel"] + w["final_projection/bias"]

        def project(part, name):
            return part @ sub[name]["final_projection/kernel"] + sub[name]["final_projection/bias"]

        np.testing.assert_allclose(out["audio"], project(x[:, :3], "audio").reshape(2, 12),
                                   atol=1e-5)
        np.testing.assert_allclose(out["image"], project(x[:, 3:7], "image").reshape(2, 2, 2, 3),
                                   atol=1e-5)
        np.testing.assert_allclose(out["label"], project(x[:, 7:], "label")[:, 0], atol=1e-5)
        # The modality decoders only give queries: no cross-attention of their own.
        assert not any("cross_attention" in v.path for d in decoder.decoders.values()
                       for v in d.weights)

    def test_subsampled_points(self):
        decoder = multimodal_decoder()
        out = decoder(LATENTS, subsampled_points={"image": np.array([1, 2]), "audio": None})
        assert {k: tuple(v.shape) for k, v in out.items()} == {
            "audio": (2, 12), "image": (2, 2, 3), "label": (2, 6)}

    def test_bad_config(self):
        with pytest.raises(ValueError, match="decoders must be a non-empty dict"):
            MultimodalDecoder({})
        with pytest.raises(ValueError, match="single-modality decoders"):
            MultimodalDecoder({"a": multimodal_decoder()})
        with pytest.raises(ValueError, match="output_num_channels=0"):
            MultimodalDecoder({"a": ClassificationDecoder(2)}, output_num_channels=0)


def test_mixed_precision_queries_in_compute_dtype():
    decoder = BasicDecoder(2, output_index_dims=(3,), position_encoding="fourier", num_bands=2,
                           dtype="mixed_bfloat16")
    out = decoder(LATENTS)
    assert str(ops.dtype(out)) == "bfloat16"
