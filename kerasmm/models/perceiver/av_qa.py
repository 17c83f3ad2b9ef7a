"""Audio-visual question answering: video + audio + question in, an answer out.

A Perceiver (IO) over kerasmm's `MultimodalAdapter`, and a time-aligned fusion backbone.
"""

import keras

from kerasmm.layers.audio_adapter import AudioAdapter
from kerasmm.layers.classification_decoder import ClassificationDecoder
from kerasmm.layers.multimodal_adapter import MultimodalAdapter
from kerasmm.layers.position import LearnedPositionEmbedding
from kerasmm.layers.self_attention import SelfAttention
from kerasmm.layers.text_adapter import TextAdapter
from kerasmm.layers.video_adapter import VideoAdapter
from kerasmm.models.conv_encoder import build_conv_encoder
from kerasmm.models.perceiver.perceiver import Perceiver
from kerasmm.models.perceiver.perceiver_io import PerceiverIO
from kerasmm.utils.checks import check_choice

# The inputs the model may take (as `kerasmm.datasets.av_qa_dataset` yields them).
MODALITIES = ("audio", "question", "video")


def _check_modalities(modalities):
    modalities = tuple(modalities)
    for m in modalities:
        check_choice("modalities", m, MODALITIES)
    if "question" not in modalities:
        raise ValueError("modalities must include 'question': the answer depends on it. "
                         f"Received: modalities={modalities}")
    return modalities


def build_av_qa_perceiver(num_answers, vocabulary_size, question_length,
                          video_shape=(4, 16, 16, 3), modalities=MODALITIES,
                          spatial_downsample=16, temporal_downsample=1, samples_per_patch=16,
                          num_bands=4,
                          question_dim=32, num_latents=32, latent_dim=64,
                          num_self_attends_per_block=2, num_self_attention_heads=4,
                          architecture="perceiver_io", num_blocks=2, **kwargs):
    """A Perceiver IO answering questions about a clip's video and sound.

    A `kerasmm.layers.MultimodalAdapter` turns the video (space-time
    patches, `VideoAdapter`), the sound (log-mel frames of
    `kerasmm.preprocessing.LogMelSpectrogram`, `samples_per_patch` frames a
    patch, `AudioAdapter`; both with Fourier positions) and the question
    (word embeddings + learned positions, `TextAdapter`) into one input
    array; the latents cross-attend to it, self-attend, and a
    `ClassificationDecoder` query reads `num_answers` logits. Train it with
    `fit` on `kerasmm.datasets.av_qa_dataset` and
    `SparseCategoricalCrossentropy(from_logits=True)`.

    Ablations: `modalities=("audio", "question")` or `("question",
    "video")` build the same model without one input (the question is
    always needed).

    Args:
        num_answers: int, the answer vocabulary's size (`len(av_qa.ANSWERS)`
            for the embedded set).
        vocabulary_size: int, question word ids
            (`len(av_qa.QUESTION_VOCABULARY)`).
        question_length: int, question ids per example
            (`av_qa.QUESTION_LENGTH`).
        video_shape: `(frames, height, width, channels)`.
        modalities: the inputs, from "audio", "question", "video".
        spatial_downsample: int, video patch side in pixels (16: a whole
            16 x 16 frame per patch).
        temporal_downsample: int, frames per video patch.
        samples_per_patch: int, audio frames (rows of the audio input) per patch.
        num_bands: Fourier bands of the video and audio positions.
        question_dim: int, question embedding width.
        num_latents, latent_dim, num_self_attends_per_block,
        num_self_attention_heads, **kwargs: `PerceiverIO` arguments.
        architecture: `"perceiver_io"` (one cross-attention from the
            latents to the inputs, a `ClassificationDecoder` query reads the
            answer) or `"perceiver"` (the original Perceiver: the latents
            cross-attend to the inputs again in each of `num_blocks` blocks,
            so later reads depend on what the first one found, e.g. which
            half of the clip the high tone is in; averaged latents give the
            logits).
        num_blocks: int, blocks of the `"perceiver"` architecture.

    Returns:
        A `kerasmm.models.PerceiverIO` (or `Perceiver`) taking the dict
        `{"video": (B, T, H, W, C), "audio": (B, frames, mel_bins),
        "question": (B, question_length)}` (the chosen modalities) and
        returning logits `(B, num_answers)`.

    Example:
    >>> model = build_av_qa_perceiver(
    ...     num_answers=15, vocabulary_size=20, question_length=10,
    ...     video_shape=(2, 16, 16, 3), num_latents=4, latent_dim=8,
    ...     num_self_attends_per_block=1, num_self_attention_heads=2)
    >>> inputs = {"video": np.zeros((2, 2, 16, 16, 3), "float32"),
    ...           "audio": np.zeros((2, 32, 16), "float32"),
    ...           "question": np.ones((2, 10), "int32")}
    >>> tuple(model(inputs).shape)
    (2, 15)

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """
    modalities = _check_modalities(modalities)
    adapters = {"question": TextAdapter(vocabulary_size, question_length, question_dim,
                                        name="question_adapter")}
    if "video" in modalities:
        adapters["video"] = VideoAdapter(video_shape, temporal_downsample=temporal_downsample,
                                         spatial_downsample=spatial_downsample,
                                         num_bands=num_bands, name="video_adapter")
    if "audio" in modalities:
        adapters["audio"] = AudioAdapter(samples_per_patch, num_bands=num_bands,
                                         name="audio_adapter")
    check_choice("architecture", architecture, ("perceiver_io", "perceiver"))
    common = {"num_latents": num_latents, "latent_dim": latent_dim,
              "num_self_attends_per_block": num_self_attends_per_block,
              "num_cross_attention_heads": 1,
              "num_self_attention_heads": num_self_attention_heads, **kwargs}
    adapter = MultimodalAdapter(adapters, name="input_adapter")
    if architecture == "perceiver":
        return Perceiver(adapter, num_classes=num_answers, num_blocks=num_blocks, **common)
    return PerceiverIO(adapter, ClassificationDecoder(num_answers, name="answer_decoder"),
                       **common)


def build_av_qa_fusion(num_answers, vocabulary_size, question_length,
                       video_shape=(4, 16, 16, 3), audio_shape=(32, 16), modalities=MODALITIES,
                       hidden_dim=64, num_layers=2, num_heads=4, conv_widths=(16, 32),
                       name="av_qa_fusion"):
    """A time-aligned fusion backbone for audio-visual questions (functional Keras model).

    Each frame goes through a small CNN (`build_conv_encoder`, applied per
    frame), the log-mel frames are cut into as many chunks as there are
    video frames and each chunk goes through a Dense layer, so the sound of
    time step `t` and the picture of step `t` are fused into one token
    (concatenated, Dense); the `T` tokens get learned time positions, the
    question's word embeddings learned positions of their own, and
    `num_layers` transformer blocks (`kerasmm.layers.SelfAttention`) mix
    question and clip before a mean, a LayerNorm and the answer logits.
    Dropping a modality (`modalities=("audio", "question")` or
    `("question", "video")`) leaves the other one alone in each token: the
    ablations.

    Args:
        num_answers, vocabulary_size, question_length, video_shape,
            modalities: as `build_av_qa_perceiver`.
        audio_shape: `(frames, mel_bins)` of the log-mel input; frames must
            be a multiple of the video's.
        hidden_dim: int, token width.
        num_layers: int, transformer blocks.
        num_heads: int, attention heads.
        conv_widths: the frame CNN's widths (`build_conv_encoder`).
        name: str, the model's name.

    Returns:
        A functional `keras.Model` from the dict of the chosen inputs to
        logits `(B, num_answers)`.

    Example:
    >>> model = build_av_qa_fusion(num_answers=15, vocabulary_size=20,
    ...                            question_length=10, video_shape=(2, 16, 16, 3),
    ...                            hidden_dim=8, num_layers=1, num_heads=2,
    ...                            conv_widths=(4, 8))
    >>> inputs = {"video": np.zeros((2, 2, 16, 16, 3), "float32"),
    ...           "audio": np.zeros((2, 32, 16), "float32"),
    ...           "question": np.ones((2, 10), "int32")}
    >>> tuple(model(inputs).shape)
    (2, 15)
    """
    modalities = _check_modalities(modalities)
    frames = video_shape[0]
    if "audio" in modalities and audio_shape[0] % frames:
        raise ValueError(
            "audio_shape[0] (log-mel frames) must be a multiple of the video frames "
            f"video_shape[0]. Received: audio_shape={audio_shape}, video_shape={video_shape}")
    inputs = {"question": keras.Input((question_length,), dtype="int32", name="question")}
    streams = []
    if "video" in modalities:
        inputs["video"] = keras.Input(tuple(video_shape), name="video")
        tower = build_conv_encoder(video_shape[1], conv_widths, hidden_dim,
                                   name="frame_encoder")
        streams.append(keras.layers.TimeDistributed(tower, name="frames")(inputs["video"]))
    if "audio" in modalities:
        inputs["audio"] = keras.Input(tuple(audio_shape), name="audio")
        chunks = keras.layers.Reshape((frames, audio_shape[0] // frames * audio_shape[1]),
                                      name="sound_chunks")(inputs["audio"])
        streams.append(keras.layers.Dense(hidden_dim, activation="gelu", name="sound")(chunks))
    x = streams[0] if len(streams) == 1 else keras.layers.Concatenate(name="av")(streams)
    x = keras.layers.Dense(hidden_dim, activation="gelu", name="fuse")(x)
    x = keras.layers.Add(name="time_positions")([x, LearnedPositionEmbedding(frames)(x)])
    q = keras.layers.Embedding(vocabulary_size, hidden_dim, name="words")(inputs["question"])
    q = keras.layers.Add(name="word_positions")([q, LearnedPositionEmbedding(question_length)(q)])
    tokens = keras.layers.Concatenate(axis=1, name="tokens")([q, x])
    for i in range(num_layers):
        tokens = SelfAttention(num_heads, name=f"fusion_block_{i}")(tokens)
    pooled = keras.layers.GlobalAveragePooling1D(name="mean")(tokens)
    pooled = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(pooled)
    logits = keras.layers.Dense(num_answers, name="answer")(pooled)
    return keras.Model(inputs, logits, name=name)
