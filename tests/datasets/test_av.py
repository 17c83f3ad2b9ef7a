import colorsys

import numpy as np
import pytest

from kerasmm.datasets import av_dataset, generate_av


@pytest.fixture(scope="module")
def data():
    return generate_av(num_examples=64, num_frames=5, image_size=16, audio_samples=256,
                       num_classes=6, seed=0)


def test_shapes_dtypes_ranges_and_determinism(data):
    assert data["video"].shape == (64, 5, 16, 16, 3) and data["video"].dtype == np.float32
    assert data["audio"].shape == (64, 256, 1) and data["audio"].dtype == np.float32
    assert data["label"].shape == (64,) and data["label"].dtype == np.int32
    assert data["video"].min() >= 0 and data["video"].max() <= 1
    assert np.abs(data["audio"]).max() <= 1
    again = generate_av(num_examples=64, num_frames=5, seed=0)
    for key in data:
        np.testing.assert_array_equal(again[key], data[key])
    other = generate_av(num_examples=64, num_frames=5, seed=1)
    assert not np.array_equal(other["audio"], data["audio"])


def test_modalities_share_the_label(data):
    for video, audio, label in zip(data["video"], data["audio"][..., 0], data["label"]):
        # Colour: every lit pixel has the label's hue.
        lit = video.reshape(-1, 3)[video.reshape(-1, 3).max(axis=1) > 0]
        expected = colorsys.hsv_to_rgb(label / 6, 1.0, 1.0)
        np.testing.assert_allclose(lit, np.broadcast_to(expected, lit.shape), atol=1e-6)
        # Pitch: the spectrum peaks at 2 + 3 * label cycles per clip.
        assert np.argmax(np.abs(np.fft.rfft(audio))) == 2 + 3 * label


def test_square_moves_and_loudness_follows_size(data):
    video = data["video"]
    lit = video.max(axis=-1) > 0  # (N, T, H, W)
    area = lit.sum(axis=(2, 3))
    assert (area > 0).all()
    # The same square in every frame, up to one row or column of pixels.
    assert (area.max(axis=1) - area.min(axis=1) <= 2 * np.sqrt(area.max(axis=1)) + 1).all()
    moved = [not np.array_equal(lit[i, 0], lit[i, -1]) for i in range(len(video))]
    assert np.mean(moved) > 0.9
    loudness = np.abs(data["audio"][..., 0]).max(axis=1)
    assert np.corrcoef(area[:, 0], loudness)[0, 1] > 0.9


def test_dataset_batches_and_one_hot():
    ds = av_dataset(batch_size=4, num_examples=10, one_hot=True, num_classes=5)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 2  # drop_remainder
    batch = batches[0]
    assert batch["video"].shape == (4, 4, 16, 16, 3)
    assert batch["audio"].shape == (4, 256, 1)
    assert batch["label"].shape == (4, 5)
    np.testing.assert_array_equal(batch["label"].sum(axis=1), np.ones(4))


def test_bad_arguments():
    with pytest.raises(ValueError, match="audio_samples"):
        generate_av(audio_samples=16, num_classes=6)
    with pytest.raises(ValueError, match="num_frames"):
        generate_av(num_frames=0)
    with pytest.raises(ValueError, match="batch_size"):
        av_dataset(batch_size=0)
