"""The embedded audio-visual question answering set: questions that need sound and picture.

Each clip has two halves. In each half one shape of the moving-shapes set
(`kerasmm.datasets.moving_shapes`: a colour, a shape, a direction) crosses
the frame, and a tone plays: a high tone in one half, a low tone in the
other, in random order. The two halves always differ in colour, shape and
direction. A question asks about the shape seen while one of the tones
plays:

    "what colour is the shape during the high tone" -> "green"
    "what shape is seen during the low tone" -> "circle"
    "which way does the shape move during the high tone" -> "left"

so the answer needs the sound (which half) and the picture (what is in
it): without the audio a model can at best pick one of the two halves
(50%), without the video it can only guess among 4 to 6 answers. As in the
shapes sets, the `HELD_OUT_COMBOS` colour x shape pairs never appear in
"train" or "validation" clips; "test" clips have them, and `held_out`
marks the questions about a half showing one. Deterministic by `seed`.
"""

import numpy as np
import tensorflow as tf

from kerasmm.datasets import shapes
from kerasmm.datasets.moving_shapes import DIRECTIONS
from kerasmm.datasets.moving_shapes import MOVING_SHAPES_SPLIT_SIZES
from kerasmm.datasets.moving_shapes import generate_moving_shapes
from kerasmm.preprocessing import LogMelSpectrogram
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_positive_int

TONES = ("high", "low")
QUESTION_TEMPLATES = {
    "colour": "what colour is the shape during the {} tone",
    "shape": "what shape is seen during the {} tone",
    "direction": "which way does the shape move during the {} tone",
}
QUESTION_KINDS = tuple(QUESTION_TEMPLATES)
ANSWERS = tuple(shapes.COLORS) + tuple(shapes.SHAPES) + tuple(DIRECTIONS)
# Word ids of the questions; 0 pads.
QUESTION_VOCABULARY = ("<pad>",) + tuple(sorted(
    {w for t in QUESTION_TEMPLATES.values() for w in t.format(TONES[0]).split()} | set(TONES)))
QUESTION_LENGTH = max(len(t.split()) for t in QUESTION_TEMPLATES.values())
MODALITIES = ("audio", "question", "video")
# A clip's sound: about one second at 8 kHz (32 spectrogram frames); the
# tones (high, low) in hertz, +-10%.
SAMPLE_RATE = 8000
AUDIO_SAMPLES = 8192
_TONE_HERTZ = (1600.0, 400.0)


def av_qa_spectrogram():
    """The audio front end of the set: 16 log-mel bins every 32 ms (256 samples)."""
    return LogMelSpectrogram(sample_rate=SAMPLE_RATE, num_mel_bins=16, frame_length=256,
                             frame_step=256, log="log", mel_floor=1e-6)


def tokenize_questions(questions):
    """Word ids `(N, QUESTION_LENGTH)` int32 of questions, padded with 0.

    Example:

    >>> tokenize_questions(["what shape is seen during the low tone"]).shape
    (1, 10)
    """
    index = {w: i for i, w in enumerate(QUESTION_VOCABULARY)}
    ids = np.zeros((len(questions), QUESTION_LENGTH), "int32")
    for row, question in enumerate(questions):
        words = question.split()
        unknown = [w for w in words if w not in index]
        if unknown or len(words) > QUESTION_LENGTH:
            raise ValueError(
                "questions must use the words of QUESTION_VOCABULARY, at most "
                f"{QUESTION_LENGTH} of them. Received: {question!r}")
        ids[row, :len(words)] = [index[w] for w in words]
    return ids


def _halves(split, n, num_frames, image_size, seed):
    """Two moving-shapes draws, cut to `n` pairs differing in every attribute."""
    m = 2 * n + 64
    while True:
        a, b = (generate_moving_shapes(split, m, num_frames, image_size, seed=2 * seed + h)
                for h in (0, 1))
        keep = np.nonzero((a["colors"] != b["colors"]) & (a["shapes"] != b["shapes"])
                          & (a["directions"] != b["directions"]))[0]
        if len(keep) >= n:
            keep = keep[:n]
            return [{k: v[keep] for k, v in d.items() if isinstance(v, np.ndarray)}
                    for d in (a, b)]
        m *= 2


def _tones(rng, high_first, audio_samples):
    """Waveforms `(n, audio_samples)`: a high and a low tone, one per half."""
    n, half = len(high_first), audio_samples // 2
    hertz = np.where(high_first[:, None] == (np.arange(2)[None] == 0), *_TONE_HERTZ)  # (n, 2)
    cycles = hertz * rng.uniform(0.9, 1.1, size=(n, 2)) * half / SAMPLE_RATE
    t = np.arange(half) / half
    phase = rng.uniform(0, 2 * np.pi, size=(n, 2, 1))
    loudness = rng.uniform(0.4, 0.9, size=(n, 2, 1))
    waves = loudness * np.sin(2 * np.pi * cycles[..., None] * t + phase)
    audio = np.zeros((n, audio_samples))
    audio[:, :2 * half] = waves.reshape(n, 2 * half)
    return audio + rng.normal(0, 0.05, size=audio.shape)


def generate_av_qa(split="train", num_examples=None, num_frames=4, image_size=16,
                   audio_samples=AUDIO_SAMPLES, seed=0):
    """Generates one split of the audio-visual QA set as numpy arrays.

    Args:
        split: "train", "validation" or "test".
        num_examples: int, defaults to the moving-shapes split size.
        num_frames: even int, frames per clip (half per tone).
        image_size: int >= 16, frame side.
        audio_samples: int >= 512, waveform length at `SAMPLE_RATE` (half
            per tone).
        seed: int.

    Returns:
        A dict over `N` examples: `video` float32 `(N, T, H, W, 3)` in
        [0, 1], `waveform` float32 `(N, audio_samples)`, `audio` its
        log-mel features `(N, audio_samples // 256, 16)`
        (`av_qa_spectrogram`), `question_ids`
        int32 `(N, QUESTION_LENGTH)`, `questions` and `answers` (str object
        arrays), int32 `answer_ids` (indices into `ANSWERS`), `kinds`
        (into `QUESTION_KINDS`), `high_first` and `held_out` (bool).

    Example:

    >>> data = generate_av_qa("test", num_examples=2, num_frames=4)
    >>> data["video"].shape, data["audio"].shape, data["question_ids"].shape
    ((2, 4, 16, 16, 3), (2, 32, 16), (2, 10))
    """
    check_choice("split", split, tuple(MOVING_SHAPES_SPLIT_SIZES))
    n = check_positive_int("num_examples", num_examples or MOVING_SHAPES_SPLIT_SIZES[split])
    num_frames = check_int("num_frames", num_frames, minimum=2)
    if num_frames % 2:
        raise ValueError(f"num_frames must be even. Received: num_frames={num_frames}")
    audio_samples = check_int("audio_samples", audio_samples, minimum=512)
    first, second = _halves(split, n, num_frames // 2, image_size, seed)
    rng = np.random.default_rng([seed, 0xA7, MOVING_SHAPES_SPLIT_SIZES[split]])
    high_first = rng.integers(2, size=n).astype(bool)
    kinds = rng.integers(len(QUESTION_KINDS), size=n)
    asked_high = rng.integers(2, size=n).astype(bool)
    # The half the question is about: the high tone's, or the other one.
    asked_first = asked_high == high_first
    pick = {k: np.where(asked_first, first[k], second[k]) for k in ("colors", "shapes",
                                                                     "directions")}
    offsets = np.cumsum([0, len(shapes.COLORS), len(shapes.SHAPES)])
    values = np.stack([pick["colors"], pick["shapes"], pick["directions"]], axis=1)
    answer_ids = values[np.arange(n), kinds] + offsets[kinds]
    questions = np.array([
        QUESTION_TEMPLATES[QUESTION_KINDS[k]].format(TONES[0] if h else TONES[1])
        for k, h in zip(kinds, asked_high)], dtype=object)
    video = np.concatenate([first["videos"], second["videos"]], axis=1)
    held = {(shapes.COLORS.index(c), shapes.SHAPES.index(s)) for c, s in shapes.HELD_OUT_COMBOS}
    waveform = _tones(rng, high_first, audio_samples).astype("float32")
    return {
        "video": (video / 255.0).astype("float32"),
        "waveform": waveform,
        "audio": np.asarray(av_qa_spectrogram()(waveform), dtype="float32"),
        "question_ids": tokenize_questions(questions),
        "questions": questions,
        "answers": np.array([ANSWERS[a] for a in answer_ids], dtype=object),
        "answer_ids": answer_ids.astype("int32"),
        "kinds": kinds.astype("int32"),
        "high_first": high_first,
        "held_out": np.array([(c, s) in held for c, s in zip(pick["colors"], pick["shapes"])]),
    }


def av_qa_features(data, modalities=MODALITIES):
    """The model inputs of `generate_av_qa` output: `{"video", "audio", "question"}`.

    Args:
        data: a `generate_av_qa` dict.
        modalities: the modalities to keep (an ablation drops one).
    """
    for m in modalities:
        check_choice("modalities", m, MODALITIES)
    features = {"video": data["video"], "audio": data["audio"],
                "question": data["question_ids"]}
    return {m: features[m] for m in modalities}


def av_qa_dataset(split="train", batch_size=32, num_examples=None, num_frames=4,
                  image_size=16, audio_samples=AUDIO_SAMPLES, modalities=MODALITIES, shuffle=True,
                  seed=0, drop_remainder=True):
    """Batches `(features, answer_ids)` of the audio-visual QA set, for `fit`.

    Args:
        split, num_examples, num_frames, image_size, audio_samples, seed: as
            `generate_av_qa` (`seed` also shuffles).
        batch_size: int.
        modalities: the feature keys to keep, of "audio", "question", "video".
        shuffle: bool, reshuffle every epoch.
        drop_remainder: bool.

    Returns:
        A `tf.data.Dataset` of `({"video": (B, T, H, W, 3), "audio": (B,
        frames, 16) log-mel, "question": (B, QUESTION_LENGTH)}, (B,))`.

    Example:

    >>> ds = av_qa_dataset(batch_size=2, num_examples=4, num_frames=4)
    >>> features, answers = next(iter(ds))
    >>> sorted(features), tuple(answers.shape)
    (['audio', 'question', 'video'], (2,))
    """
    batch_size = check_positive_int("batch_size", batch_size)
    data = generate_av_qa(split, num_examples, num_frames, image_size, audio_samples, seed)
    ds = tf.data.Dataset.from_tensor_slices(
        (av_qa_features(data, modalities), data["answer_ids"]))
    if shuffle:
        ds = ds.shuffle(len(data["answer_ids"]), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
