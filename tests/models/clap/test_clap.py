import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import kerasmm
from kerasmm.datasets import sounds
from kerasmm.models import CLAP
from kerasmm.models import CLAPAudioEncoder
from kerasmm.models import TextTransformer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLES = 1600


def make_clap(logit_bias_init=None, audio_encoder=None, output_dim=None):
    return CLAP(
        audio_encoder or CLAPAudioEncoder(num_mel_bins=16, conv_widths=(8, 8), output_dim=12),
        TextTransformer(vocabulary_size=50, context_length=6, hidden_dim=16, num_layers=1,
                        num_heads=2, output_dim=8),
        logit_bias_init=logit_bias_init, output_dim=output_dim)


def batch(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return {"audio": (0.3 * rng.normal(size=(n, SAMPLES))).astype("float32"),
            "token_ids": rng.integers(1, 50, size=(n, 6)).astype("int32")}


def test_outputs_are_unit_norm_and_keyed_for_the_losses():
    clap = make_clap()
    outputs = clap(batch())
    assert sorted(outputs) == ["audio_embeddings", "image_embeddings", "logit_scale",
                               "text_embeddings"]
    audio = keras.ops.convert_to_numpy(outputs["audio_embeddings"])
    assert audio.shape == (4, 8)  # Projected from the tower's 12 to the text's 8.
    np.testing.assert_allclose(np.linalg.norm(audio, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(audio, keras.ops.convert_to_numpy(
        outputs["image_embeddings"]))
    np.testing.assert_allclose(audio, keras.ops.convert_to_numpy(
        clap.encode_audio(batch()["audio"])), atol=1e-6)
    # Different clips, different embeddings.
    assert np.abs(audio[0] - audio[1]).max() > 1e-3
    logits = keras.ops.convert_to_numpy(clap.logits(batch()["audio"], batch()["token_ids"]))
    text = keras.ops.convert_to_numpy(outputs["text_embeddings"])
    np.testing.assert_allclose(logits, np.exp(np.log(1 / 0.07)) * audio @ text.T, rtol=1e-4)


def test_default_losses():
    clap = make_clap()
    clap.compile(optimizer="adam")
    assert isinstance(clap.loss, kerasmm.losses.CLIPLoss)
    biased = make_clap(logit_bias_init=-10.0)
    biased.compile(optimizer="adam")
    assert isinstance(biased.loss, kerasmm.losses.SigLIPLoss)
    assert "logit_bias" in biased(batch())


@pytest.mark.slow
def test_fit_lowers_the_loss():
    clap = make_clap()
    clap.compile(optimizer=keras.optimizers.Adam(3e-3))
    data = batch(16)
    history = clap.fit(data, batch_size=8, epochs=5, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.8 * losses[0]


def test_config_and_keras_round_trip(tmp_path):
    clap = make_clap(logit_bias_init=-5.0)
    clap.compile(optimizer="adam")
    expected = clap(batch())
    config = clap.get_config()
    assert "audio_encoder" in config and "vision_encoder" not in config
    path = str(tmp_path / "clap.keras")
    clap.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is CLAP and type(restored.audio_encoder) is CLAPAudioEncoder
    outputs = restored(batch())
    for key in expected:
        np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs[key]),
                                   keras.ops.convert_to_numpy(expected[key]), atol=1e-6)
    assert isinstance(restored.loss, kerasmm.losses.SigLIPLoss)


def test_log_mel_front_end_puts_a_tone_in_its_mel_band():
    encoder = CLAPAudioEncoder(num_mel_bins=40, conv_widths=(4,), output_dim=4)
    t = np.arange(16000) / 16000
    features = keras.ops.convert_to_numpy(encoder.log_mel(
        np.sin(2 * np.pi * 1000 * t)[None].astype("float32")))
    assert features.shape == (1, 101, 40)  # 1 + 16000 // 160 frames
    # HTK mel scale: the band whose centre is nearest 1 kHz holds the peak.
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    centres = np.linspace(mel(20), mel(8000), 42)[1:-1]
    expected = np.argmin(np.abs(centres - mel(1000)))
    assert abs(int(np.argmax(features[0, 50])) - expected) <= 1
    # A 10x louder tone is 20 dB (1.0 after the / 20) higher.
    louder = keras.ops.convert_to_numpy(encoder.log_mel(
        10 * np.sin(2 * np.pi * 1000 * t)[None].astype("float32")))
    np.testing.assert_allclose(louder[0, 50].max() - features[0, 50].max(), 1.0, atol=1e-3)


def test_features_input_and_any_keras_audio_model():
    features_tower = CLAPAudioEncoder(num_mel_bins=16, conv_widths=(8,), output_dim=8,
                                      waveform_input=False)
    clap = make_clap(audio_encoder=features_tower)
    features = np.random.default_rng(0).normal(size=(3, 20, 16)).astype("float32")
    assert tuple(clap.encode_audio(features).shape) == (3, 8)
    inputs = keras.Input((SAMPLES,))
    x = keras.layers.Reshape((SAMPLES // 16, 16))(inputs)
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Conv1D(6, 3)(x))
    clap = make_clap(audio_encoder=keras.Model(inputs, x))
    assert clap.image_projection is not None  # 6 -> 8
    assert tuple(clap.encode_audio(batch()["audio"]).shape) == (4, 8)


def test_audio_spectrogram_transformer_tower_round_trip(tmp_path):
    ast = kerasmm.models.AudioSpectrogramTransformer(
        num_mel_bins=16, max_length=20, patch_size=8, frequency_stride=8, time_stride=6,
        hidden_dim=8, num_layers=1, num_heads=2)
    clap = make_clap(audio_encoder=ast)
    assert clap.audio_encoder.encoder is ast and clap.image_projection is None
    features = np.random.default_rng(0).normal(size=(3, 20, 16)).astype("float32")
    expected = keras.ops.convert_to_numpy(ast(features)["pooled_output"])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clap.encode_audio(features)),
                               expected / np.linalg.norm(expected, axis=1, keepdims=True),
                               atol=1e-5)
    path = str(tmp_path / "clap_ast.keras")
    clap.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored.encode_audio(features)),
                               keras.ops.convert_to_numpy(clap.encode_audio(features)),
                               atol=1e-6)


def test_bad_arguments():
    clap = make_clap()
    with pytest.raises(ValueError, match="'audio' and 'token_ids'"):
        clap({"images": batch()["audio"], "token_ids": batch()["token_ids"]})
    with pytest.raises(ValueError, match="inputs must have rank 2"):
        clap.encode_audio(np.zeros((2, 10, 16), "float32"))
    with pytest.raises(ValueError, match="conv_widths"):
        CLAPAudioEncoder(conv_widths=(8, 0))
    with pytest.raises(ValueError, match="fft_length"):
        CLAPAudioEncoder(frame_length=400, fft_length=256)


@pytest.mark.slow
def test_zero_shot_and_retrieval_over_audio():
    tokenizer = sounds.sounds_tokenizer()
    clap = CLAP(CLAPAudioEncoder(sample_rate=8000, frame_length=200, frame_step=80,
                                 fft_length=256, num_mel_bins=16, conv_widths=(8,),
                                 output_dim=8),
                TextTransformer(vocabulary_size=tokenizer.vocabulary_size(),
                                context_length=tokenizer.sequence_length, hidden_dim=16,
                                num_layers=1, num_heads=2, output_dim=8))
    data = sounds.zero_shot_sounds(num_per_class=1, sample_rate=8000)
    classifier = kerasmm.tasks.ZeroShotClassifier(
        clap, tokenizer, sounds.SOUND_CLASSES, sounds.SOUND_TEMPLATES[:2])
    probabilities = classifier.predict(data["audio"][:5], verbose=0)
    assert probabilities.shape == (5, len(sounds.SOUND_CLASSES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # Class embeddings: the normalised mean of the prompts' text embeddings;
    # scores: the softmax of the CLAP's logits against them.
    prompts = np.asarray(tokenizer([t.format(sounds.SOUND_CLASSES[0])
                                    for t in sounds.SOUND_TEMPLATES[:2]]))
    mean = keras.ops.convert_to_numpy(clap.encode_text(prompts)).mean(axis=0)
    classes = keras.ops.convert_to_numpy(classifier.class_embeddings)
    np.testing.assert_allclose(classes[0], mean / np.linalg.norm(mean), atol=1e-5)
    audio = keras.ops.convert_to_numpy(clap.encode_audio(data["audio"][:5]))
    logits = np.exp(np.log(1 / 0.07)) * audio @ classes.T
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probabilities, expected / expected.sum(axis=1, keepdims=True),
                               atol=1e-4)
    retriever = kerasmm.tasks.Retriever(clap, tokenizer).index_images(data["audio"])
    indices, scores = retriever.search_text("two high beeps", k=3)
    assert indices.shape == (3,) and np.all(np.diff(scores) <= 0)
    results = retriever.evaluate(data["audio"], list(data["captions"]), ks=(1,))
    assert sorted(results) == ["i2t_recall@1", "t2i_recall@1"]


@pytest.mark.slow
@pytest.mark.tf_only
def test_mirrored_strategy_and_accumulation_equal_one_device():
    environment = dict(os.environ, PYTHONPATH=ROOT)
    process = subprocess.run([sys.executable, os.path.join(HERE, "clap_mirrored.py")],
                             capture_output=True, text=True, timeout=600, env=environment)
    assert process.returncode == 0, process.stderr[-4000:]
    results = json.loads(process.stdout.strip().splitlines()[-1])
    assert results["num_replicas"] == 2
    assert results["moved"] > 1e-1  # The weights did change over 3 steps.
    assert results["mirrored_diff"] <= 1e-4 * results["moved"]
    assert results["accumulation_diff"] <= 1e-4 * results["moved"]


@pytest.mark.slow
@pytest.mark.tf_only
def test_fit_learns_sounds_retrieval_and_zero_shot():
    from kerasmm.recipes.clap_sounds import train_sounds_clap

    # A short run (4 epochs of 1,536 clips: about 0.8 recall@1 here, chance 0.056).
    _, results = train_sounds_clap(epochs=4, num_train=1536, num_per_class=5)
    chance = results["retrieval_chance"]
    assert results["a2t_recall@1"] > 10 * chance, results
    assert results["t2a_recall@1"] > 10 * chance, results
    assert results["zero_shot_accuracy"] > 10 * results["zero_shot_chance"], results
