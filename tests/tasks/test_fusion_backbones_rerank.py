"""Retriever.rerank: a matcher re-orders CLIP's top-k (text->image and
image->text), with the matcher's probabilities, batched."""

import numpy as np
import pytest

from kerasmm.tasks import ImageTextMatcher
from kerasmm.tasks import Retriever
from tests.tasks.test_fusion_backbones import make_backbone
from tests.tasks.tiny_clip import make_clip


class PixelMatcher:
    """Scores a pair by its image's first pixel plus its text's first id / 100."""

    def match_probability(self, inputs):
        return inputs["images"][:, 0, 0, 0] + inputs["token_ids"][:, 0] / 100.0


def test_matcher_reorders_the_top_k_both_ways():
    retriever = Retriever(make_clip(10), batch_size=3)
    indices = np.array([[3, 0, 5, 1], [2, 4, 1, 0]])  # A search_text's top 4 of 6.
    # The matcher's images rank the CLIP order backwards: the last is best.
    candidates = np.zeros((6, 4, 4, 3), "float32")
    for j, index in enumerate(indices[0]):
        candidates[index, 0, 0, 0] = j
    queries = {"token_ids": np.array([[5, 1], [9, 1]], "int32")}
    reranked, probabilities = retriever.rerank(PixelMatcher(), indices, queries, candidates)
    np.testing.assert_array_equal(reranked[0], indices[0][::-1])
    np.testing.assert_allclose(probabilities[0], [3.05, 2.05, 1.05, 0.05], rtol=1e-6)
    assert sorted(reranked[1]) == sorted(indices[1])
    # Image queries: texts re-ordered by their first id, descending.
    text_indices = np.array([4, 1, 0, 2, 3])  # A search_image's top 5.
    texts = {"token_ids": np.array([[30], [10], [50], [20], [40]], "int32")}
    order, probabilities = retriever.rerank(PixelMatcher(), text_indices,
                                            np.zeros((1, 4, 4, 3), "float32"), texts)
    np.testing.assert_array_equal(order, [2, 4, 0, 3, 1])
    np.testing.assert_allclose(probabilities, [.5, .4, .3, .2, .1], rtol=1e-6)


def test_image_text_matcher_probabilities_pair_by_pair():
    matcher = ImageTextMatcher(make_backbone("mmbt"))
    rng = np.random.default_rng(0)
    images = rng.normal(size=(5, 16, 16, 3)).astype("float32")
    queries = {"token_ids": rng.integers(1, 30, (2, 4)).astype("int32"),
               "padding_mask": np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)}
    indices = np.array([[4, 0, 2], [1, 3, 0]])
    retriever = Retriever(make_clip(10), batch_size=4)  # 6 pairs: 2 batches.
    reranked, probabilities = retriever.rerank(matcher, indices, queries, images)
    for q in range(2):
        expected = [float(np.asarray(matcher.match_probability(
            {"images": images[i:i + 1], "token_ids": queries["token_ids"][q:q + 1],
             "padding_mask": queries["padding_mask"][q:q + 1]}))[0]) for i in indices[q]]
        order = np.argsort(-np.array(expected), kind="stable")
        np.testing.assert_array_equal(reranked[q], indices[q][order])
        np.testing.assert_allclose(probabilities[q], np.array(expected)[order], atol=1e-6)


def test_rerank_errors():
    retriever = Retriever(make_clip(10))
    texts = {"token_ids": np.ones((1, 2), "int32")}
    with pytest.raises(TypeError, match="match_probability"):
        retriever.rerank(object(), np.array([0]), texts, np.zeros((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="indices must have shape"):
        retriever.rerank(PixelMatcher(), np.zeros((1, 1, 1), int), texts,
                         np.zeros((1, 4, 4, 3)))
