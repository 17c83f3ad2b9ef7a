"""MSR-VTT (videodatainfo JSON + TrainValVideo/TestVideo .mp4) through load."""

import os

import numpy as np
import pytest

from kerasmm.datasets.builders import msr_vtt
from kerasmm.datasets.load import load
from tests.datasets.builders import fake_release

pytestmark = pytest.mark.tf_only

NUM_VIDEO_FRAMES = 30  # 1 s at 30 fps; frame i is grey 8 * i.
VIDEOS = {"video0": ("train", 9), "video1": ("train", 16), "video2": ("validate", 3),
          "video7010": ("test", 12)}


def info(video_ids, start_sen_id):
    videos = [{"category": category, "url": f"https://www.youtube.com/watch?v={v}",
               "video_id": v, "start time": 1.0, "end time": 2.0, "split": split,
               "id": int(v[5:])} for v in video_ids for split, category in [VIDEOS[v]]]
    sentences = [{"caption": f"{v} caption {k}", "video_id": v,
                  "sen_id": start_sen_id + 2 * i + k}
                 for i, v in enumerate(video_ids) for k in range(2)]
    return {"info": {"year": "2016", "version": "1.0", "description": "MSR-VTT",
                     "contributor": "Microsoft", "data_created": "2016-04-01"},
            "videos": videos, "sentences": sentences}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    # PyAV writes and decodes the videos: the video extra, installed by the test extra.
    import av  # noqa: F401
    manual_dir = str(tmp_path_factory.mktemp("msrvtt_manual"))
    for video_id, (split, _) in VIDEOS.items():
        folder = "TestVideo" if split == "test" else "TrainValVideo"
        fake_release.write_mp4(os.path.join(manual_dir, folder, f"{video_id}.mp4"),
                               [8 * i for i in range(NUM_VIDEO_FRAMES)])
    fake_release.write_json(os.path.join(manual_dir, "train_val_videodatainfo.json"),
                            info(["video0", "video1", "video2"], 0))
    fake_release.write_json(os.path.join(manual_dir, "test_videodatainfo.json"),
                            info(["video7010"], 130260))
    with open(os.path.join(manual_dir, "MSRVTT_JSFUSION_test.csv"), "w") as f:
        f.write("key,vid_key,video_id,sentence\n"
                "ret0,msr7010,video7010,a man talks about cars\n"
                "ret1,msr1,video1,\"a dog, a cat\"\n")
    data_dir = str(tmp_path_factory.mktemp("msrvtt_tfds"))
    load("msr_vtt", "train", data_dir=data_dir, manual_dir=manual_dir)  # Prepares.
    return manual_dir, data_dir


def test_uniform_indices_are_segment_middles():
    np.testing.assert_array_equal(msr_vtt.uniform_indices(30, 8), [1, 5, 9, 13, 16, 20, 24, 28])
    np.testing.assert_array_equal(msr_vtt.uniform_indices(2, 4), [0, 0, 1, 1])


def test_videos_are_uniformly_sampled_frames_with_their_captions(folders):
    manual_dir, data_dir = folders
    examples = list(load("msr_vtt", "train", data_dir=data_dir, manual_dir=manual_dir))
    assert sorted(ex["captions"].numpy()[0].decode() for ex in examples) == [
        "video0 caption 0", "video1 caption 0"]
    for ex in examples:
        videos = ex["videos"].numpy()
        assert videos.dtype == np.uint8 and videos.shape == (8, 16, 16, 3)
        # Frame i of the file is grey 8 * i; H.264 and JPEG keep it within 3.
        expected = 8.0 * np.array([1, 5, 9, 13, 16, 20, 24, 28])
        np.testing.assert_allclose(videos.mean(axis=(1, 2, 3)), expected, atol=3)
        assert len(ex["captions"]) == 2
    (test,) = list(load("msr_vtt", "test", data_dir=data_dir, caption="first"))
    assert test["captions"].numpy() == b"video7010 caption 0"
    assert len(list(load("msr_vtt", "validation", data_dir=data_dir))) == 1
    one_k = list(load("msr_vtt", "test_1k", data_dir=data_dir))
    assert sorted(ex["captions"].numpy().tolist() for ex in one_k) == [
        [b"a dog, a cat"], [b"a man talks about cars"]]


def test_a_missing_video_is_named(tmp_path):
    manual_dir = tmp_path / "manual"
    (manual_dir / "TrainValVideo").mkdir(parents=True)
    fake_release.write_json(str(manual_dir / "train_val_videodatainfo.json"),
                            info(["video0"], 0))
    with pytest.raises(ValueError, match="'video0.mp4' is in none of"):
        load("msr_vtt", "train", data_dir=str(tmp_path / "tfds"), manual_dir=str(manual_dir))
