"""The embedded "sounds" dataset: synthetic sounds and their descriptions, in numpy.

Each clip (`CLIP_SECONDS` long, 16 kHz by default) holds one sound on a
faint noise floor: a steady tone, a rising or falling chirp (a one-octave
sweep around its pitch), a burst of band-limited noise, or two or three
short beeps. A sound has a kind, a pitch ("low" 250 Hz, "mid" 800 Hz,
"high" 2500 Hz, jittered by up to 4 %), a loudness ("quiet" / "loud") and,
beeps aside, a duration ("short" / "long"). Its caption is drawn from
several templates: "a high pitched tone rising", "two short low beeps",
"a loud burst of mid noise".

Four pitch x kind combinations (`HELD_OUT_COMBOS`) never appear in "train"
or "validation" and do appear in "test" and in the zero-shot set, so
retrieval and zero-shot accuracy on them measure composition rather than
memory. Zero-shot classes (`SOUND_CLASSES`, pitch x kind, e.g. "a low
tone", "three high beeps") go into `SOUND_TEMPLATES`.

Everything is deterministic by `seed`; example `i` of a split has its own
random stream, so the first `n` examples are the same whatever
`num_examples` is asked for.
"""

import os

import numpy as np
import tensorflow as tf

from kerasmm.preprocessing import CLIPTokenizer
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_positive_int

SAMPLE_RATE = 16000
CLIP_SECONDS = 1.0
KINDS = ("tone", "rising chirp", "falling chirp", "noise burst", "two beeps",
         "three beeps")
PITCHES = ("low", "mid", "high")
PITCH_HZ = {"low": 250.0, "mid": 800.0, "high": 2500.0}
LOUDNESS = ("quiet", "loud")
AMPLITUDES = {"quiet": 0.15, "loud": 0.6}
DURATIONS = ("short", "long")
DURATION_SECONDS = {"short": 0.3, "long": 0.7}
BEEP_SECONDS = 0.1  # Each beep, and each gap between beeps.
SPLITS = ("train", "validation", "test")
SPLIT_SIZES = {"train": 4000, "validation": 500, "test": 500}

HELD_OUT_COMBOS = (
    ("high", "rising chirp"),
    ("low", "falling chirp"),
    ("mid", "noise burst"),
    ("low", "three beeps"),
)


def class_name(pitch, kind):
    """The zero-shot class name of a pitch x kind: "a low tone", "two high beeps"."""
    if kind.endswith("beeps"):
        count, beeps = kind.split()
        return f"{count} {pitch} {beeps}"
    return f"a {pitch} {kind}"


SOUND_CLASSES = tuple(class_name(p, k) for p in PITCHES for k in KINDS)
HELD_OUT_CLASS_IDS = tuple(
    PITCHES.index(p) * len(KINDS) + KINDS.index(k) for p, k in HELD_OUT_COMBOS)
SOUND_TEMPLATES = ("{}", "the sound of {}", "a recording of {}", "you can hear {}")

# Caption templates per kind: {p} pitch, {l} loudness, {d} duration.
_CAPTIONS = {
    "tone": ("a {p} tone", "a {d} {p} pitched tone", "a {l} {p} tone",
             "a steady {p} pitched tone", "the sound of a {d} {p} tone"),
    "rising chirp": ("a {p} pitched tone rising", "a rising {p} chirp",
                     "a {l} {p} chirp going up", "a {d} {p} sweep rising"),
    "falling chirp": ("a {p} pitched tone falling", "a falling {p} chirp",
                      "a {l} {p} chirp going down", "a {d} {p} sweep falling"),
    "noise burst": ("a burst of {p} noise", "a {d} {p} noise burst",
                    "a {l} burst of {p} noise", "a {p} hiss"),
    "two beeps": ("two short {p} beeps", "two {l} {p} beeps",
                  "a {p} beep repeated two times", "two {p} pitched beeps"),
    "three beeps": ("three short {p} beeps", "three {l} {p} beeps",
                    "a {p} beep repeated three times", "three {p} pitched beeps"),
}
_ALL_TEXT = " ".join(
    sum(_CAPTIONS.values(), ()) + SOUND_TEMPLATES + SOUND_CLASSES + PITCHES
    + LOUDNESS + DURATIONS)
# Every word of every caption and prompt (one token each in the vocabulary).
SOUNDS_WORDS = tuple(sorted({w for w in _ALL_TEXT.split() if "{" not in w}))
_STREAMS = {"train": 0, "validation": 1, "test": 2, "zero_shot": 3}
_NOISE_FLOOR = 0.003
# Per-example fields -> the keys of the returned dict.
_FIELDS = {"caption": "captions", "label": "labels", "kind": "kinds", "pitch": "pitches",
           "loudness": "loudness", "duration": "durations", "frequency": "frequencies",
           "onset": "onsets"}


def _allowed_combos(split):
    combos = [(p, k) for p in PITCHES for k in KINDS]
    if split in ("train", "validation"):
        combos = [c for c in combos if c not in HELD_OUT_COMBOS]
    return combos


def _ramp_envelope(num_samples, sample_rate):
    """A flat envelope with 10 ms raised-cosine attack and release."""
    ramp = min(int(0.01 * sample_rate), num_samples // 2)
    envelope = np.ones(num_samples)
    if ramp:
        rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        envelope[:ramp], envelope[num_samples - ramp:] = rise, rise[::-1]
    return envelope


def _band_noise(rng, num_samples, low, high, sample_rate):
    """White noise restricted to `[low, high]` Hz, scaled to a peak of 1."""
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.fft.rfftfreq(num_samples, 1.0 / sample_rate)
    spectrum[(freqs < low) | (freqs > high)] = 0.0
    noise = np.fft.irfft(spectrum, num_samples)
    return noise / (np.max(np.abs(noise)) + 1e-12)


def synthesize(kind, frequency, amplitude, seconds, sample_rate, rng):
    """One sound (no silence around it): float64 `(round(seconds * rate),)`.

    Chirps sweep exponentially from `frequency / sqrt(2)` to
    `frequency * sqrt(2)` (rising) or back (falling); noise bursts fill the
    same octave band; beeps are `BEEP_SECONDS` tones with gaps as long.
    """
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    phase0 = rng.uniform(0, 2 * np.pi)
    if kind == "tone":
        wave = np.sin(2 * np.pi * frequency * t + phase0) * _ramp_envelope(n, sample_rate)
    elif kind.endswith("chirp"):
        sign = 1.0 if kind == "rising chirp" else -1.0
        # f(t) = f0 * 2 ** (sign * (t / T - 0.5)); the phase is its integral.
        rate = sign * np.log(2.0) / seconds
        phase = 2 * np.pi * frequency * 2 ** (-0.5 * sign) * np.expm1(rate * t) / rate
        wave = np.sin(phase + phase0) * _ramp_envelope(n, sample_rate)
    elif kind == "noise burst":
        wave = _band_noise(rng, n, frequency / np.sqrt(2), frequency * np.sqrt(2),
                           sample_rate) * _ramp_envelope(n, sample_rate)
    else:
        beep = int(round(BEEP_SECONDS * sample_rate))
        wave = np.zeros(n)
        one = np.sin(2 * np.pi * frequency * t[:beep]) * _ramp_envelope(beep, sample_rate)
        for start in range(0, n - beep + 1, 2 * beep):
            wave[start:start + beep] = one
    return amplitude * wave


def sound_seconds(kind, duration):
    """How long a sound lasts: its duration, or `(2 * count - 1)` beep lengths."""
    if kind.endswith("beeps"):
        count = 2 if kind == "two beeps" else 3
        return (2 * count - 1) * BEEP_SECONDS
    return DURATION_SECONDS[duration]


def _caption(rng, pitch, kind, loudness, duration):
    template = _CAPTIONS[kind][rng.integers(len(_CAPTIONS[kind]))]
    return template.format(p=pitch, l=loudness, d=duration or "short")


def _example(rng, combo, sample_rate, num_samples):
    pitch, kind = combo
    loudness = LOUDNESS[rng.integers(2)]
    duration = None if kind.endswith("beeps") else DURATIONS[rng.integers(2)]
    frequency = PITCH_HZ[pitch] * rng.uniform(0.96, 1.04)
    amplitude = AMPLITUDES[loudness] * rng.uniform(0.9, 1.1)
    sound = synthesize(kind, frequency, amplitude, sound_seconds(kind, duration),
                       sample_rate, rng)
    onset = rng.integers(0, num_samples - len(sound) + 1)
    audio = _NOISE_FLOOR * rng.standard_normal(num_samples)
    audio[onset:onset + len(sound)] += sound
    audio = np.clip(audio, -1.0, 1.0)
    return audio, {
        "caption": _caption(rng, pitch, kind, loudness, duration),
        "label": PITCHES.index(pitch) * len(KINDS) + KINDS.index(kind),
        "kind": kind, "pitch": pitch, "loudness": loudness,
        "duration": duration or "", "frequency": frequency,
        "onset": onset / sample_rate,
    }


def _generate(stream, num_examples, sample_rate, seed, combos):
    num_samples = int(round(CLIP_SECONDS * sample_rate))
    audio = np.zeros((num_examples, num_samples), "float32")
    fields = []
    for i in range(num_examples):
        rng = np.random.default_rng([seed, _STREAMS[stream], i])
        combo = combos(i, rng)
        audio[i], info = _example(rng, combo, sample_rate, num_samples)
        fields.append(info)
    data = {"audio": audio}
    for key, name in _FIELDS.items():
        values = [f[key] for f in fields]
        dtype = {"label": "int32", "frequency": "float32", "onset": "float32"}.get(key, object)
        data[name] = np.array(values, dtype=dtype)
    data["held_out"] = np.isin(data["labels"], HELD_OUT_CLASS_IDS)
    return data


def generate_sounds(split="train", num_examples=None, sample_rate=SAMPLE_RATE, seed=0):
    """Generates sound clips and their captions as numpy arrays.

    Args:
        split: "train", "validation" or "test" ("test" holds the
            `HELD_OUT_COMBOS`, which "train" and "validation" never do).
        num_examples: int, defaults to `SPLIT_SIZES[split]`.
        sample_rate: int, samples per second (>= 8000, so that the high
            chirps and noise stay below Nyquist).
        seed: int, the dataset's seed.

    Returns:
        dict: `audio` float32 `(N, CLIP_SECONDS * sample_rate)`, `captions`
        (str object array), `labels` int32 (index into `SOUND_CLASSES`),
        `kinds`, `pitches`, `loudness`, `durations` (str object arrays,
        "" for beeps), `frequencies` float32 (the sound's pitch in Hz; a
        chirp's centre), `onsets` float32 (seconds), `held_out` bool.

    Example:

    >>> data = generate_sounds("test", num_examples=3)
    >>> data["audio"].shape, data["audio"].dtype
    ((3, 16000), dtype('float32'))
    >>> len(data["captions"]), data["labels"].dtype
    (3, dtype('int32'))
    """
    check_choice("split", split, SPLITS)
    num_examples = check_positive_int("num_examples", num_examples, allow_none=True)
    sample_rate = check_int("sample_rate", sample_rate, minimum=8000)
    seed = check_int("seed", seed, minimum=0)
    combos = _allowed_combos(split)
    return _generate(split, num_examples or SPLIT_SIZES[split], sample_rate, seed,
                     lambda i, rng: combos[rng.integers(len(combos))])


def zero_shot_sounds(num_per_class=10, sample_rate=SAMPLE_RATE, seed=0):
    """Balanced clips of every `SOUND_CLASSES` class (held-out ones included).

    Returns:
        The dict of `generate_sounds`, class-major: `labels` are
        `repeat(arange(len(SOUND_CLASSES)), num_per_class)`.

    Example:

    >>> data = zero_shot_sounds(num_per_class=1)
    >>> len(data["labels"]) == len(SOUND_CLASSES), int(data["held_out"].sum())
    (True, 4)
    """
    num_per_class = check_positive_int("num_per_class", num_per_class)
    sample_rate = check_int("sample_rate", sample_rate, minimum=8000)
    seed = check_int("seed", seed, minimum=0)
    combos = [(p, k) for p in PITCHES for k in KINDS]
    return _generate("zero_shot", len(combos) * num_per_class, sample_rate, seed,
                     lambda i, rng: combos[i // num_per_class])


# === Tokenizer and tf.data pipeline ===

# The longest caption or prompt ("the sound of a short high tone") is 7
# words + start and end (tests check).
SOUNDS_SEQUENCE_LENGTH = 12
_HERE = os.path.dirname(os.path.abspath(__file__))
SOUNDS_VOCABULARY_PATH = os.path.join(_HERE, "sounds_vocab.json")
SOUNDS_MERGES_PATH = os.path.join(_HERE, "sounds_merges.txt")


def sounds_tokenizer(sequence_length=None, **kwargs):
    """The `CLIPTokenizer` of the sounds dataset (offline).

    Every caption and prompt word is one token (`tools/make_sounds_vocab.py`
    builds the vocabulary as the shapes one); other text still tokenizes
    through the byte symbols.

    Args:
        sequence_length: int, defaults to `SOUNDS_SEQUENCE_LENGTH` (12).
        **kwargs: other `CLIPTokenizer` arguments (`pad_token_id`, ...).

    Example:

    >>> tokenizer = sounds_tokenizer()
    >>> tuple(np.asarray(tokenizer(["two short low beeps"])).shape)
    (1, 12)
    """
    return CLIPTokenizer(SOUNDS_VOCABULARY_PATH, SOUNDS_MERGES_PATH,
                         sequence_length=sequence_length or SOUNDS_SEQUENCE_LENGTH,
                         **kwargs)


def sounds_dataset(split="train", batch_size=32, tokenizer=None, shuffle=True, seed=0,
                   num_examples=None, drop_remainder=True, sample_rate=SAMPLE_RATE):
    """Batches `{"audio", "token_ids"}` of the sounds dataset, for a CLAP's `fit`.

    Features only, no labels: the contrastive losses need none. Captions are
    tokenized once, eagerly, each distinct one once.

    Args:
        split: "train", "validation" or "test".
        batch_size: int.
        tokenizer: callable mapping a list of str to token ids; defaults to
            `sounds_tokenizer()`.
        shuffle: bool, reshuffle the examples every epoch.
        seed: int, seed of the shuffling (the dataset's own seed is 0).
        num_examples: int, the first `num_examples` of the split (default
            `SPLIT_SIZES[split]`).
        drop_remainder: bool, drop the last partial batch.
        sample_rate: int, of the generated waveforms.

    Returns:
        A `tf.data.Dataset` of dicts: `audio` float32 `(batch, samples)`
        waveforms in [-1, 1], `token_ids` int32 `(batch, sequence_length)`.

    Example:

    >>> ds = sounds_dataset(batch_size=4, num_examples=8)
    >>> batch = next(iter(ds))
    >>> tuple(batch["audio"].shape), tuple(batch["token_ids"].shape)
    ((4, 16000), (4, 12))
    """
    batch_size = check_positive_int("batch_size", batch_size)
    for name, value in (("shuffle", shuffle), ("drop_remainder", drop_remainder)):
        check_bool(name, value)
    if drop_remainder and num_examples is not None and num_examples < batch_size:
        raise ValueError(
            "With drop_remainder=True, num_examples must be >= batch_size. "
            f"Received: num_examples={num_examples}, batch_size={batch_size}")
    data = generate_sounds(split, num_examples, sample_rate)
    tokenizer = tokenizer or sounds_tokenizer()
    unique, inverse = np.unique(data["captions"].astype(str), return_inverse=True)
    token_ids = np.asarray(tokenizer(list(unique)))[inverse.reshape(-1)]
    ds = tf.data.Dataset.from_tensor_slices({"audio": data["audio"],
                                             "token_ids": token_ids.astype("int32")})
    if shuffle:
        ds = ds.shuffle(len(token_ids), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
