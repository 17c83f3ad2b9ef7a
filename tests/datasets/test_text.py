import numpy as np
import pytest

from kerasmm.datasets import masked_bytes_dataset, shapes_text_corpus


def test_corpus_is_deterministic_captions():
    corpus = shapes_text_corpus(50)
    assert corpus == shapes_text_corpus(50)
    assert len(corpus) == 50 and all(isinstance(t, str) and t for t in corpus)
    assert corpus != shapes_text_corpus(50, seed=1)


def test_masked_bytes_batches():
    ds = masked_bytes_dataset(batch_size=16, sequence_length=48, num_examples=64,
                              mask_rate=0.2, shuffle=False)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 4
    inputs = np.concatenate([b[0]["token_ids"] for b in batches])
    padding = np.concatenate([b[0]["padding_mask"] for b in batches])
    targets = np.concatenate([b[1] for b in batches])
    weights = np.concatenate([b[2] for b in batches])
    assert inputs.shape == targets.shape == weights.shape == (64, 48)
    # Targets: UTF-8 bytes + 6 of the captions (truncated to 48), padded with 0.
    for text, row, mask in zip(shapes_text_corpus(64), targets, padding):
        encoded = [b + 6 for b in text.encode("utf-8")][:48]
        assert row.tolist() == encoded + [0] * (48 - len(encoded))
        assert mask.tolist() == [True] * len(encoded) + [False] * (48 - len(encoded))
    masked = weights == 1.0
    assert set(np.unique(weights)) <= {0.0, 1.0}
    np.testing.assert_array_equal(inputs[masked], 3)
    np.testing.assert_array_equal(inputs[~masked], targets[~masked])
    assert not (masked & ~padding).any()
    assert masked.any(axis=1).all()
    assert 0.1 < masked.sum() / padding.sum() < 0.3


def test_bad_mask_rate():
    with pytest.raises(ValueError, match="mask_rate"):
        masked_bytes_dataset(mask_rate=1.5)
