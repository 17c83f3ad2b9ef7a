import numpy as np
import pytest

from kerasmm.tasks import Retriever
from tests.tasks.tiny_clip import make_clip, make_images, make_tokenizer
from tests.test_case import to_numpy

CAPTIONS = ["a red circle", "a blue square", "two green stars", "a red square",
            "a small blue circle", "a cross", "a big red star"]


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="module")
def clip(tokenizer):
    return make_clip(tokenizer.vocabulary_size())


def np_image_embeddings(clip, images):
    x = to_numpy(clip.vision_encoder(images)).astype("float64")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def np_text_embeddings(clip, tokenizer, texts):
    x = to_numpy(clip.text_encoder(np.asarray(tokenizer(texts)))).astype("float64")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force_top_k(queries, index, k):
    """Sort every similarity row by hand, best first."""
    results = []
    for query in queries:
        scores = [float(np.dot(query, item)) for item in index]
        order = sorted(range(len(index)), key=lambda i: -scores[i])[:k]
        results.append((order, [scores[i] for i in order]))
    return results


def brute_force_recall(images, texts, text_to_image, k):
    t2i = []
    for text, j in zip(texts, text_to_image):
        scores = images @ text  # own score read from the same vector: no rounding tie
        t2i.append(int(np.sum(scores > scores[j]) < k))
    i2t = []
    for i, image in enumerate(images):
        scores = texts @ image
        best_own = max(scores[m] for m in range(len(texts)) if text_to_image[m] == i)
        i2t.append(int(np.sum(scores > best_own) < k))
    return np.mean(i2t), np.mean(t2i)


class TestRetriever:
    def test_batched_encoding(self, clip, tokenizer):
        retriever = Retriever(clip, tokenizer, batch_size=3)
        images = make_images(7)
        np.testing.assert_allclose(retriever.encode_images(images),
                                   np_image_embeddings(clip, images), atol=1e-5)
        np.testing.assert_allclose(retriever.encode_texts(CAPTIONS),
                                   np_text_embeddings(clip, tokenizer, CAPTIONS), atol=1e-5)
        # Token ids need no tokenizer; a dataset of image batches works too.
        # (Batches of 3 throughout: one batch shape, as the padding intends.)
        ids = np.asarray(tokenizer(CAPTIONS))
        np.testing.assert_allclose(Retriever(clip, batch_size=3).encode_texts(ids),
                                   retriever.encode_texts(CAPTIONS), atol=1e-6)
        import tensorflow as tf
        data = tf.data.Dataset.from_tensor_slices(images[:6]).batch(3)
        np.testing.assert_allclose(retriever.encode_images(data),
                                   retriever.encode_images(images[:6]), atol=1e-6)

    def test_search_text(self, clip, tokenizer):
        images = make_images(7)
        retriever = Retriever(clip, tokenizer, batch_size=4).index_images(images)
        queries = ["a red circle", "a blue star", "a cross"]
        indices, scores = retriever.search_text(queries, k=4)
        assert indices.shape == scores.shape == (3, 4)
        expected = brute_force_top_k(np_text_embeddings(clip, tokenizer, queries),
                                     np_image_embeddings(clip, images), 4)
        for row, (order, top) in enumerate(expected):
            assert indices[row].tolist() == order
            np.testing.assert_allclose(scores[row], top, atol=1e-5)
        one_index, one_score = retriever.search_text("a blue star", k=2)
        assert one_index.tolist() == expected[1][0][:2]
        assert one_score.shape == (2,)

    def test_search_image(self, clip, tokenizer):
        retriever = Retriever(clip, tokenizer, batch_size=2).index_texts(CAPTIONS)
        images = make_images(3, seed=1)
        indices, scores = retriever.search_image(images, k=3)
        expected = brute_force_top_k(np_image_embeddings(clip, images),
                                     np_text_embeddings(clip, tokenizer, CAPTIONS), 3)
        for row, (order, top) in enumerate(expected):
            assert indices[row].tolist() == order
            np.testing.assert_allclose(scores[row], top, atol=1e-5)
        one_index, _ = retriever.search_image(images[2], k=3)
        assert one_index.tolist() == expected[2][0]

    def test_evaluate_against_brute_force(self, clip, tokenizer):
        images = make_images(4, seed=2)
        captions = CAPTIONS[:7] + ["a green circle"]
        text_to_image = [0, 0, 1, 1, 2, 2, 3, 3]
        results = Retriever(clip, tokenizer, batch_size=3).evaluate(
            images, captions, text_to_image, ks=(1, 2))
        image_embeddings = np_image_embeddings(clip, images)
        text_embeddings = np_text_embeddings(clip, tokenizer, captions)
        for k in (1, 2):
            i2t, t2i = brute_force_recall(image_embeddings, text_embeddings,
                                          text_to_image, k)
            assert results[f"i2t_recall@{k}"] == pytest.approx(i2t)
            assert results[f"t2i_recall@{k}"] == pytest.approx(t2i)
        assert results["t2i_recall@1"] < 1.0  # random weights: not all hits

    def test_errors(self, clip, tokenizer):
        retriever = Retriever(clip, tokenizer)
        with pytest.raises(ValueError, match="No images indexed yet: call index_images"):
            retriever.search_text("a cat")
        with pytest.raises(ValueError, match="No texts indexed yet: call index_texts"):
            retriever.search_image(make_images(1)[0])
        retriever.index_images(make_images(3))
        with pytest.raises(ValueError, match=r"Received: k=4, 3 indexed images"):
            retriever.search_text("a cat", k=4)
        with pytest.raises(ValueError, match="tokenizer=None"):
            Retriever(clip).encode_texts(["a cat"])
        with pytest.raises(ValueError, match=r"texts must be strings or int token ids"):
            Retriever(clip).encode_texts(np.zeros((2, 3, 4), "int32"))
        with pytest.raises(ValueError, match="batch_size=0"):
            Retriever(clip, batch_size=0)
