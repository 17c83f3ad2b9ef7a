"""MSR-VTT video captioning / retrieval, from the files the user downloaded.

Manual files (the official release, unchanged, unzipped), either:

- `train_val_videodatainfo.json` (+ `test_videodatainfo.json`) with the
  videos in `TrainValVideo/` (+ `TestVideo/`), or
- `MSRVTT_data.json` (all 10,000 videos in one file) with the videos in
  `videos/all/` (the layout CLIP4Clip's download uses);

each JSON `{"info", "videos": [{"video_id": "video0", "category", "url",
"start time", "end time", "split": "train" | "validate" | "test", "id"}],
"sentences": [{"caption", "video_id", "sen_id"}]}`, videos `video0.mp4`.

Splits: `train` (6,513 videos), `validation` (497), `test` (2,990), 20
captions each; with `MSRVTT_JSFUSION_test.csv` (CLIP4Clip's `msrvtt_data`)
also `test_1k`, the 1k-A retrieval test set (1,000 videos, one caption each). Each video keeps `num_frames` frames sampled uniformly (the
middle frame of `num_frames` equal segments), decoded with PyAV (`pip
install av`, which bundles FFmpeg).
"""

import collections
import csv
import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from kerasmm.datasets.builders import manual

INFO_FILES = ("train_val_videodatainfo.json", "test_videodatainfo.json", "MSRVTT_data.json")
VIDEO_FOLDERS = ("TrainValVideo", "TestVideo", os.path.join("videos", "all"), "videos")
SPLITS = {"train": "train", "validate": "validation", "test": "test"}
# The 1k-A text-video retrieval test set (Yu et al. 2018), one caption per video.
JSFUSION_TEST = "MSRVTT_JSFUSION_test.csv"


def uniform_indices(num_available, num_frames):
    """The middle frame of each of `num_frames` equal segments of a video of
    `num_available` frames (frames repeat when the video is shorter)."""
    if num_available < 1:
        raise ValueError("A video must have at least one frame. Received: 0 frames")
    return ((np.arange(num_frames) + 0.5) * num_available / num_frames).astype(np.int64)


def read_frames(path, num_frames):
    """uint8 `(num_frames, H, W, 3)`: frames of a video file sampled uniformly."""
    try:
        import av
    except ImportError:
        raise ImportError("MSR-VTT's videos are decoded with PyAV: `pip install av` "
                          "(it bundles FFmpeg)") from None
    try:
        with av.open(path) as container:
            frames = list(container.decode(video=0))
    except av.error.FFmpegError as error:
        raise ValueError(f"Cannot decode video {path!r}: {error}") from None
    indices = uniform_indices(len(frames), num_frames)
    return np.stack([frames[i].to_ndarray(format="rgb24") for i in indices])


def read_annotations(manual_dir):
    """`{tfds split: [(video_id, category, [captions])]}` of the info JSON
    files present, in the files' order of videos."""
    videos, captions = {}, collections.defaultdict(list)
    for name in INFO_FILES:
        path = os.path.join(manual_dir, name)
        if not os.path.isfile(path):
            continue
        data = manual.read_json(path)
        try:
            for video in data["videos"]:
                videos[video["video_id"]] = (SPLITS[video["split"]], video["category"])
            for sentence in sorted(data["sentences"], key=lambda s: s["sen_id"]):
                captions[sentence["video_id"]].append(sentence["caption"])
        except (KeyError, TypeError) as error:
            raise ValueError(f"{path!r} lacks {error}: expected MSR-VTT's 'videos' (video_id, "
                             "category, split) and 'sentences' (caption, video_id, sen_id)"
                             ) from None
    splits = collections.defaultdict(list)
    for video_id, (split, category) in videos.items():
        # MSRVTT_data.json and the official pair may list a sentence twice.
        texts = list(dict.fromkeys(captions[video_id]))
        splits[split].append((video_id, category, texts))
    path = os.path.join(manual_dir, JSFUSION_TEST)
    if os.path.isfile(path):
        splits["test_1k"] = [(video_id, videos.get(video_id, (None, -1))[1], [sentence])
                             for video_id, sentence in read_jsfusion_test(path)]
    return splits


def read_jsfusion_test(path):
    """`[(video_id, sentence)]` of the 1k-A retrieval test set (JSFusion's
    `MSRVTT_JSFUSION_test.csv`: `key,vid_key,video_id,sentence`)."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if not {"video_id", "sentence"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path!r} lacks the columns 'video_id' and 'sentence' (expected "
                             "the header key,vid_key,video_id,sentence)")
        return [(row["video_id"], row["sentence"]) for row in reader]


@dataclasses.dataclass
class MsrVttConfig(tfds.core.BuilderConfig):
    """Frames kept per video.

    Attributes:
        num_frames: int, frames sampled uniformly from each video.
    """

    num_frames: int = 8


class KerasmmMsrVtt(manual.ManualBuilder):
    """MSR-VTT: 10,000 web video clips with 20 captions each."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [MsrVttConfig(name="default", description="8 frames per video.")]
    DEFAULT_CONFIG_NAME = "default"
    MANUAL_FILES = ("train_val_videodatainfo.json|MSRVTT_data.json",
                    "TrainValVideo/|videos/all/")
    MANUAL_DOWNLOAD_INSTRUCTIONS = manual.manual_instructions(MANUAL_FILES)
    code_path = epath.Path(__file__)  # TFDS 4.9 cannot find it on Python >= 3.9.

    def _info(self):
        num_frames = self.builder_config.num_frames
        return tfds.core.DatasetInfo(
            builder=self,
            description=f"MSR-VTT video clips ({num_frames} uniformly sampled frames) with "
                        "20 captions each.",
            features=tfds.features.FeaturesDict({
                "video": tfds.features.Video(shape=(num_frames, None, None, 3),
                                             encoding_format="jpeg"),
                "video_id": tfds.features.Text(),
                "category": np.int32,
                "captions": tfds.features.Sequence(tfds.features.Text()),
            }),
            homepage="https://www.microsoft.com/en-us/research/publication/msr-vtt-a-large-"
                     "video-description-dataset-for-bridging-video-and-language/",
        )

    def _split_generators(self, dl_manager):
        manual_dir = self.manual_dir(dl_manager)
        folders = [os.path.join(manual_dir, folder) for folder in VIDEO_FOLDERS]
        return {split: self._generate_examples(entries, folders)
                for split, entries in read_annotations(manual_dir).items()}

    def _generate_examples(self, entries, folders):
        for video_id, category, captions in entries:
            path = manual.find_file(folders, f"{video_id}.mp4", "video")
            yield video_id, {
                "video": read_frames(path, self.builder_config.num_frames),
                "video_id": video_id,
                "category": category,
                "captions": captions,
            }
