import numpy as np
import pytest

from kerasmm.metrics import retrieval_recall


def brute_force(images, texts, text_to_image, k):
    """Recall@k by sorting the full similarity matrix."""
    similarity = images @ texts.T
    i2t_hits = []
    for i in range(len(images)):
        top = np.argsort(-similarity[i])[:k]
        i2t_hits.append(any(text_to_image[c] == i for c in top))
    t2i_hits = []
    for c in range(len(texts)):
        top = np.argsort(-similarity[:, c])[:k]
        t2i_hits.append(text_to_image[c] in top)
    return np.mean(i2t_hits), np.mean(t2i_hits)


def make_split(num_images=23, captions_per_image=3, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(num_images, dim)).astype("float32")
    text_to_image = np.repeat(np.arange(num_images), captions_per_image)
    rng.shuffle(text_to_image)
    texts = images[text_to_image] + 1.5 * rng.normal(
        size=(len(text_to_image), dim))
    return images, texts.astype("float32"), text_to_image


@pytest.mark.parametrize("chunk_size", [4, 1024])
def test_several_captions_per_image_matches_brute_force(chunk_size):
    images, texts, text_to_image = make_split()
    results = retrieval_recall(images, texts, text_to_image, ks=(1, 5, 10),
                               chunk_size=chunk_size)
    assert sorted(results) == sorted(
        f"{d}_recall@{k}" for d in ("i2t", "t2i") for k in (1, 5, 10))
    for k in (1, 5, 10):
        i2t, t2i = brute_force(images, texts, text_to_image, k)
        assert results[f"i2t_recall@{k}"] == pytest.approx(i2t)
        assert results[f"t2i_recall@{k}"] == pytest.approx(t2i)
    assert 0 < results["t2i_recall@1"] < results["t2i_recall@10"] < 1


def test_one_caption_per_image_by_default():
    images, texts, text_to_image = make_split(captions_per_image=1)
    texts = texts[np.argsort(text_to_image)]  # caption i describes image i
    results = retrieval_recall(images, texts, ks=(1, 3), chunk_size=5)
    for k in (1, 3):
        i2t, t2i = brute_force(images, texts, np.arange(len(images)), k)
        assert results[f"i2t_recall@{k}"] == pytest.approx(i2t)
        assert results[f"t2i_recall@{k}"] == pytest.approx(t2i)


def test_bad_inputs_raise():
    images, texts, text_to_image = make_split()
    with pytest.raises(ValueError, match="one caption per image"):
        retrieval_recall(images, texts)
    with pytest.raises(ValueError, match="same width"):
        retrieval_recall(images, texts[:, :3], text_to_image)
    with pytest.raises(ValueError, match="text_to_image values"):
        retrieval_recall(images, texts, text_to_image + 1)
    with pytest.raises(ValueError, match="without captions"):
        retrieval_recall(images, texts, np.zeros_like(text_to_image))
    with pytest.raises(ValueError, match="ks="):
        retrieval_recall(images, texts, text_to_image, ks=(0,))
    with pytest.raises(ValueError, match="chunk_size=0"):
        retrieval_recall(images, texts, text_to_image, chunk_size=0)
