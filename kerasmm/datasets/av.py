"""Synthetic video + audio + label data for multimodal autoencoding.

A small stand-in for the Kinetics clips of Perceiver IO's multimodal
autoencoder: each example is a square moving in a straight line over a
black background for `num_frames` frames, a tone, and a class label. Class
`c` sets the square's colour (hue `c / num_classes`) and the tone's pitch
(`2 + 3c` cycles per clip); the square's size sets the tone's loudness. So
the three modalities share latent factors, and a model can reconstruct one
from the others.
"""

import colorsys

import numpy as np
import tensorflow as tf
from kerasmm.utils.checks import check_int


def generate_av(
    num_examples=256,
    num_frames=4,
    image_size=16,
    audio_samples=256,
    num_classes=6,
    seed=0,
):
    """Generates moving-square videos, tones and labels as numpy arrays.

    Args:
        num_examples: int.
        num_frames: int, frames per video.
        image_size: int, frame height and width.
        audio_samples: int, waveform length.
        num_classes: int, number of labels (colours and pitches).
        seed: int.

    Returns:
        `{"video": float32 (N, T, H, W, 3) in [0, 1], "audio": float32
        (N, audio_samples, 1) in [-1, 1], "label": int32 (N,)}`.
    """
    n = check_int("num_examples", num_examples, minimum=1)
    frames = check_int("num_frames", num_frames, minimum=1)
    size = check_int("image_size", image_size, minimum=4)
    samples = check_int("audio_samples", audio_samples, minimum=8)
    classes = check_int("num_classes", num_classes, minimum=1)
    top_pitch = 2 + 3 * (classes - 1)
    if 2 * top_pitch >= samples:
        raise ValueError(
            "audio_samples must be > 2 * (2 + 3 * (num_classes - 1)) so the "
            f"highest tone stays below Nyquist. Received: audio_samples={samples}, "
            f"num_classes={classes}"
        )
    rng = np.random.default_rng([seed, 0xA5])
    label = rng.integers(classes, size=n)
    half = rng.uniform(0.12, 0.25, size=n) * size  # Half the square's side.
    start = rng.uniform(half[:, None], size - half[:, None], size=(n, 2))
    end = rng.uniform(half[:, None], size - half[:, None], size=(n, 2))
    phase = rng.uniform(0, 2 * np.pi, size=n)

    t = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)
    centers = start[:, None] + (end - start)[:, None] * t[None, :, None]  # (n, T, 2)
    grid = np.arange(size) + 0.5
    inside_x = np.abs(grid[None, None, :] - centers[..., 0, None]) <= half[:, None, None]
    inside_y = np.abs(grid[None, None, :] - centers[..., 1, None]) <= half[:, None, None]
    inside = inside_y[..., :, None] & inside_x[..., None, :]  # (n, T, H, W)
    colors = np.array([colorsys.hsv_to_rgb(c / classes, 1.0, 1.0) for c in range(classes)])
    video = inside[..., None] * colors[label][:, None, None, None, :]

    loudness = 0.3 + 0.6 * (half / size - 0.12) / 0.13
    pitch = 2 + 3 * label
    steps = np.arange(samples) / samples
    audio = loudness[:, None] * np.sin(2 * np.pi * pitch[:, None] * steps + phase[:, None])
    return {
        "video": video.astype("float32"),
        "audio": audio[..., None].astype("float32"),
        "label": label.astype("int32"),
    }


def av_dataset(
    batch_size=8,
    num_examples=256,
    num_frames=4,
    image_size=16,
    audio_samples=256,
    num_classes=6,
    one_hot=False,
    shuffle=True,
    seed=0,
    drop_remainder=True,
):
    """Batches of `generate_av(...)` as a `tf.data.Dataset`.

    Args:
        batch_size: int.
        one_hot: bool, labels as float32 one-hot `(B, num_classes)` (as the
            multimodal autoencoder's label input) instead of int32 `(B,)`.
        shuffle: bool, reshuffle every epoch (seeded by `seed`).
        drop_remainder: bool, drop the last partial batch.
        Other arguments: see `generate_av`.

    Returns:
        A dataset of dicts `{"video": (B, T, H, W, 3), "audio": (B, S, 1),
        "label": (B,) or (B, num_classes)}`.

    Example:

    >>> ds = av_dataset(batch_size=4, num_examples=16)
    >>> batch = next(iter(ds))
    >>> [tuple(batch[k].shape) for k in ("video", "audio", "label")]
    [(4, 4, 16, 16, 3), (4, 256, 1), (4,)]
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    data = generate_av(num_examples, num_frames, image_size, audio_samples, num_classes, seed)
    if one_hot:
        data["label"] = np.eye(num_classes, dtype="float32")[data["label"]]
    ds = tf.data.Dataset.from_tensor_slices(data)
    if shuffle:
        ds = ds.shuffle(num_examples, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
