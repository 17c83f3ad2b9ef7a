"""Tiny fake copies of the official releases, in their real on-disk formats."""

import json
import os

import numpy as np
from PIL import Image


def image_pixels(seed, size=8):
    """A distinct 8x8 RGB picture per seed (a flat colour, so JPEG keeps it)."""
    colour = np.random.default_rng(seed).integers(0, 256, size=3)
    return np.broadcast_to(colour.astype("uint8"), (size, size, 3)).copy()


def write_image(path, seed, size=8):
    """Writes `image_pixels(seed)` as a JPEG (or PNG by extension); returns them."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pixels = image_pixels(seed, size)
    Image.fromarray(pixels).save(path, quality=95)
    return pixels


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)


def karpathy_entry(filename, split, captions, image_id):
    """An image entry of Karpathy's dataset_*.json, all fields of the release."""
    sentences = [{"tokens": caption.lower().rstrip(".").split(), "raw": caption,
                  "imgid": image_id, "sentid": image_id * 10 + i}
                 for i, caption in enumerate(captions)]
    return {"sentids": [s["sentid"] for s in sentences], "imgid": image_id,
            "sentences": sentences, "split": split, "filename": filename}


def write_wav(path, samples, sample_rate=44100, sample_width=2):
    """Writes float `samples` ((n,) mono or (n, channels)) in [-1, 1] as PCM
    WAV; returns the quantised integers written."""
    import wave

    samples = np.asarray(samples, "float64")
    frames = samples.reshape(len(samples), -1)
    scale = 2 ** (8 * sample_width - 1) - 1
    ints = np.round(frames * scale).astype("<i4")
    if sample_width == 2:
        data = ints.astype("<i2").tobytes()
    else:  # 24-bit: the low 3 bytes of each little-endian int32.
        data = ints.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with wave.open(path, "wb") as f:
        f.setnchannels(frames.shape[1])
        f.setsampwidth(sample_width)
        f.setframerate(sample_rate)
        f.writeframes(data)
    return ints


def write_mp4(path, values, size=16, rate=30):
    """An H.264 MP4 whose frame i is flat grey `values[i]` (needs PyAV)."""
    import av

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        for value in values:
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), value, "uint8"),
                                               format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
