import numpy as np
import pytest

from kerasmm.datasets.av_qa import ANSWERS
from kerasmm.datasets.av_qa import QUESTION_LENGTH
from kerasmm.datasets.av_qa import QUESTION_VOCABULARY
from kerasmm.datasets.av_qa import av_qa_features
from kerasmm.datasets.av_qa import generate_av_qa
from kerasmm.models import Perceiver, PerceiverIO, build_av_qa_fusion, build_av_qa_perceiver
from tests.test_case import TestCase, to_numpy

TINY = {"num_latents": 4, "latent_dim": 8, "num_self_attends_per_block": 1,
        "num_self_attention_heads": 2, "question_dim": 8, "num_bands": 2}
SIZES = (len(ANSWERS), len(QUESTION_VOCABULARY), QUESTION_LENGTH)
TINY_FUSION = {"hidden_dim": 8, "num_layers": 1, "num_heads": 2, "conv_widths": (4, 8)}


@pytest.fixture(scope="module")
def data():
    return generate_av_qa("test", 4, num_frames=2)


class TestAVQAPerceiver(TestCase):
    @pytest.mark.slow
    def test_fit_and_round_trip(self, data):
        model = build_av_qa_perceiver(*SIZES, video_shape=(2, 16, 16, 3), **TINY)
        assert isinstance(model, PerceiverIO)
        self.run_model_test(
            model, av_qa_features(data), loss="sparse_categorical_crossentropy",
            y=data["answer_ids"], expected_output_shape=(4, len(ANSWERS)))

    def test_ablations_drop_a_modality(self, data):
        full = build_av_qa_perceiver(*SIZES, video_shape=(2, 16, 16, 3), **TINY)
        full(av_qa_features(data))
        for modalities, missing in ((("audio", "question"), "video"),
                                    (("question", "video"), "audio")):
            model = build_av_qa_perceiver(*SIZES, video_shape=(2, 16, 16, 3),
                                          modalities=modalities, **TINY)
            logits = model(av_qa_features(data, modalities))
            assert tuple(logits.shape) == (4, len(ANSWERS))
            assert sorted(model.input_adapter.modalities) == sorted(modalities)
            assert missing not in model.input_adapter.modalities
            # The input array is shorter by the dropped modality's positions.
            assert (full.input_adapter.modality_sizes[missing]
                    == sum(full.input_adapter.modality_sizes.values())
                    - sum(model.input_adapter.modality_sizes.values()))
        # Every input reaches the answer.
        base = to_numpy(full(av_qa_features(data)))
        for key in ("audio", "video", "question"):
            changed = dict(av_qa_features(data))
            changed[key] = (changed[key][:, ::-1] if key == "question" else changed[key] * 0.0)
            assert np.abs(to_numpy(full(changed)) - base).max() > 1e-6, key

    @pytest.mark.slow
    def test_fusion_fit_round_trip_and_ablations(self, data):
        model = build_av_qa_fusion(*SIZES, video_shape=(2, 16, 16, 3), **TINY_FUSION)
        self.run_model_test(
            model, av_qa_features(data), loss="sparse_categorical_crossentropy",
            y=data["answer_ids"], expected_output_shape=(4, len(ANSWERS)))
        base = to_numpy(model(av_qa_features(data)))
        for key in ("audio", "video", "question"):
            changed = dict(av_qa_features(data))
            changed[key] = (changed[key][:, ::-1] if key == "question" else changed[key] * 0.0)
            assert np.abs(to_numpy(model(changed)) - base).max() > 1e-6, key
        for modalities in (("audio", "question"), ("question", "video")):
            ablation = build_av_qa_fusion(*SIZES, video_shape=(2, 16, 16, 3),
                                          modalities=modalities, **TINY_FUSION)
            assert sorted(ablation.input) == sorted(modalities)
            assert tuple(ablation(av_qa_features(data, modalities)).shape) == (4, len(ANSWERS))

    def test_perceiver_architecture(self, data):
        model = build_av_qa_perceiver(*SIZES, video_shape=(2, 16, 16, 3),
                                      architecture="perceiver", num_blocks=2, **TINY)
        assert isinstance(model, Perceiver) and model.num_blocks == 2
        assert tuple(model(av_qa_features(data)).shape) == (4, len(ANSWERS))

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="multiple of the video frames"):
            build_av_qa_fusion(*SIZES, video_shape=(3, 16, 16, 3))
        with pytest.raises(ValueError, match="architecture"):
            build_av_qa_perceiver(*SIZES, architecture="transformer")
        with pytest.raises(ValueError, match="include 'question'"):
            build_av_qa_perceiver(*SIZES, modalities=("audio", "video"))
        with pytest.raises(ValueError, match="modalities"):
            build_av_qa_perceiver(*SIZES, modalities=("audio", "question", "text"))
