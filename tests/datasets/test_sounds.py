import importlib.util
import os

import numpy as np
import pytest

from kerasmm.datasets import sounds

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RATE = sounds.SAMPLE_RATE


@pytest.fixture(scope="module")
def train():
    return sounds.generate_sounds("train", 300)


@pytest.fixture(scope="module")
def zero_shot():
    return sounds.zero_shot_sounds(num_per_class=3)


def sound_part(data, i):
    """The sound of clip i, without the silence around it."""
    start = int(round(float(data["onsets"][i]) * RATE))
    seconds = sounds.sound_seconds(data["kinds"][i], data["durations"][i] or None)
    return data["audio"][i, start:start + int(round(seconds * RATE))]


def dominant_frequency(x):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(spectrum)]


def test_shapes_dtypes_and_range(train):
    assert train["audio"].shape == (300, RATE) and train["audio"].dtype == np.float32
    assert np.abs(train["audio"]).max() <= 1.0
    assert len(train["captions"]) == 300 and train["labels"].dtype == np.int32
    assert set(train["kinds"]) == set(sounds.KINDS)
    assert set(train["pitches"]) == set(sounds.PITCHES)


@pytest.mark.parametrize("index", range(0, 54, 9))
def test_tone_dominant_frequency_is_its_pitch(zero_shot, index):
    tones = np.flatnonzero(zero_shot["kinds"] == "tone")
    i = tones[index % len(tones)]
    sound = sound_part(zero_shot, i)
    # Resolution of the FFT: rate / len(sound) (3.3 Hz for 0.3 s).
    assert abs(dominant_frequency(sound) - zero_shot["frequencies"][i]) <= RATE / len(sound)
    pitch = zero_shot["pitches"][i]
    assert abs(zero_shot["frequencies"][i] / sounds.PITCH_HZ[pitch] - 1) <= 0.04


@pytest.mark.parametrize("kind", ["rising chirp", "falling chirp"])
def test_chirp_frequency_moves_the_right_way(zero_shot, kind):
    for i in np.flatnonzero(zero_shot["kinds"] == kind):
        sound = sound_part(zero_shot, i)
        quarter = len(sound) // 4
        first, last = dominant_frequency(sound[:quarter]), dominant_frequency(sound[-quarter:])
        centre = zero_shot["frequencies"][i]
        if kind == "rising chirp":
            assert first < centre < last
        else:
            assert first > centre > last
        # One octave around the centre: the last quarter sweeps from
        # 2**0.25 to 2**0.5 times the centre (the first one back for falling).
        assert 1.15 < max(first, last) / centre < 1.45
        assert 1.15 < centre / min(first, last) < 1.45


@pytest.mark.parametrize("kind,count", [("two beeps", 2), ("three beeps", 3)])
def test_beep_count_from_the_envelope(zero_shot, kind, count):
    frame = RATE // 100  # 10 ms frames
    for i in np.flatnonzero(zero_shot["kinds"] == kind):
        x = zero_shot["audio"][i]
        energy = np.sqrt(np.mean(x[: len(x) // frame * frame].reshape(-1, frame) ** 2, axis=1))
        on = energy > 0.3 * energy.max()
        onsets = np.sum(on[1:] & ~on[:-1]) + int(on[0])
        assert onsets == count


def test_noise_burst_is_broadband_in_its_octave(zero_shot):
    for i in np.flatnonzero(zero_shot["kinds"] == "noise burst"):
        sound = sound_part(zero_shot, i)
        power = np.abs(np.fft.rfft(sound)) ** 2
        freqs = np.fft.rfftfreq(len(sound), 1 / RATE)
        centre = zero_shot["frequencies"][i]
        band = (freqs > centre / np.sqrt(2)) & (freqs < centre * np.sqrt(2))
        assert power[band].sum() > 0.99 * power.sum()
        # Not a tone: the power spreads over the whole band (a tone's bins
        # away from its peak hold almost nothing).
        assert power.max() < 0.25 * power.sum()
        assert np.mean(power[band] > 0.05 * power[band].mean()) > 0.8


def test_loud_is_louder_than_quiet(train):
    peaks = np.abs(train["audio"]).max(axis=1)
    loud = train["loudness"] == "loud"
    assert peaks[loud].min() > peaks[~loud].max()


def test_deterministic_and_prefix_stable():
    a = sounds.generate_sounds("validation", 20, seed=3)
    b = sounds.generate_sounds("validation", 30, seed=3)
    np.testing.assert_array_equal(a["audio"], b["audio"][:20])
    assert list(a["captions"]) == list(b["captions"][:20])
    c = sounds.generate_sounds("validation", 20, seed=4)
    assert not np.array_equal(a["audio"], c["audio"])


def test_held_out_combos_only_in_test_and_zero_shot(train, zero_shot):
    validation = sounds.generate_sounds("validation", 300)
    test = sounds.generate_sounds("test", 300)
    for data in (train, validation):
        assert not data["held_out"].any()
        pairs = set(zip(data["pitches"], data["kinds"]))
        assert not pairs & set(sounds.HELD_OUT_COMBOS)
        assert len(pairs) == len(sounds.SOUND_CLASSES) - len(sounds.HELD_OUT_COMBOS)
    assert test["held_out"].any()
    assert set(np.unique(zero_shot["labels"][zero_shot["held_out"]])) == set(
        sounds.HELD_OUT_CLASS_IDS)
    for ids in sounds.HELD_OUT_CLASS_IDS:
        pitch, kind = sounds.HELD_OUT_COMBOS[sounds.HELD_OUT_CLASS_IDS.index(ids)]
        assert sounds.SOUND_CLASSES[ids] == sounds.class_name(pitch, kind)


def test_captions_name_the_sound(train):
    words_of_kind = {"tone": {"tone"}, "rising chirp": {"rising", "up"},
                     "falling chirp": {"falling", "down"}, "noise burst": {"noise", "hiss"},
                     "two beeps": {"two"}, "three beeps": {"three"}}
    for caption, pitch, kind in zip(train["captions"], train["pitches"], train["kinds"]):
        words = set(caption.split())
        assert pitch in words and words & words_of_kind[kind], caption
        others = set(sounds.PITCHES) - {pitch}
        assert not words & others, caption
    assert len(set(train["captions"])) > 50


def test_zero_shot_set_is_class_major(zero_shot):
    np.testing.assert_array_equal(
        zero_shot["labels"], np.repeat(np.arange(len(sounds.SOUND_CLASSES)), 3))


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        sounds.generate_sounds("dev", 2)
    with pytest.raises(ValueError, match="sample_rate"):
        sounds.generate_sounds("train", 2, sample_rate=4000)
    with pytest.raises(ValueError, match="num_examples"):
        sounds.generate_sounds("train", 0)


def test_tokenizer_one_token_per_word_and_fits():
    tokenizer = sounds.sounds_tokenizer()
    data = sounds.generate_sounds("train", 200)
    prompts = [t.format(c) for t in sounds.SOUND_TEMPLATES for c in sounds.SOUND_CLASSES]
    texts = list(set(data["captions"])) + prompts
    ids = np.asarray(tokenizer(texts))
    lengths = (ids != 0).sum(axis=1)
    np.testing.assert_array_equal(lengths, [len(t.split()) + 2 for t in texts])
    assert lengths.max() <= sounds.SOUNDS_SEQUENCE_LENGTH


def test_vocabulary_files_are_what_the_tool_writes():
    spec = importlib.util.spec_from_file_location(
        "make_sounds_vocab", os.path.join(ROOT, "tools", "make_sounds_vocab.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    expected = tool.render(*tool.build(sounds.SOUNDS_WORDS))
    for path, text in zip((sounds.SOUNDS_VOCABULARY_PATH, sounds.SOUNDS_MERGES_PATH), expected):
        with open(path, encoding="utf-8") as f:
            assert f.read() == text, f"{path} is stale: rerun tools/make_sounds_vocab.py"


@pytest.mark.tf_only
def test_sounds_dataset_batches():
    ds = sounds.sounds_dataset(batch_size=4, num_examples=10, shuffle=False)
    batches = list(ds)
    assert len(batches) == 2  # drop_remainder
    data = sounds.generate_sounds("train", 4)
    np.testing.assert_array_equal(batches[0]["audio"].numpy(), data["audio"])
    expected = np.asarray(sounds.sounds_tokenizer()(list(data["captions"])))
    np.testing.assert_array_equal(batches[0]["token_ids"].numpy(), expected)
    with pytest.raises(ValueError, match="num_examples"):
        sounds.sounds_dataset(batch_size=8, num_examples=4)
