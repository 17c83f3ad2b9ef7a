import keras
import numpy as np
import pytest

from kerasmm.datasets import moving_shapes_dataset
from kerasmm.datasets.moving_shapes import generate_moving_shapes
from kerasmm.datasets.shapes_captions import caption_tokenizer
from kerasmm.losses import CLIPLoss
from kerasmm.models import CLIP, SigLIP, TextTransformer, VideoCLIP, VideoEncoder
from kerasmm.models import VisionTransformer
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.tasks import Retriever
from tests.test_case import TestCase, to_numpy

VIT = {"image_size": 16, "patch_size": 8, "hidden_dim": 8, "num_layers": 1, "num_heads": 2,
       "output_dim": 8}
TEXT = {"vocabulary_size": 40, "context_length": 6, "hidden_dim": 8, "num_layers": 1,
        "num_heads": 2, "output_dim": 8}


def clips(batch=3, frames=4, size=16, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, frames, size, size, 3)).astype("float32")


def token_ids(batch=3, seed=1):
    ids = np.random.default_rng(seed).integers(1, 39, size=(batch, 6)).astype("int32")
    ids[:, -1] = 39  # the end token, read by the text tower (argmax)
    return ids


def tiny_video_clip(pooling="transformer"):
    encoder = VideoEncoder(VisionTransformer(**VIT), num_frames=2, pooling=pooling,
                           num_heads=2, output_tokens=False)
    return VideoCLIP(encoder, TextTransformer(**TEXT))


def preprocessed(videos):
    frames = CLIPImagePreprocessor(image_size=videos.shape[2])(
        videos.reshape((-1,) + videos.shape[2:]))
    return np.asarray(frames).reshape(videos.shape[:2] + np.shape(frames)[1:])


class TestVideoCLIP(TestCase):
    @pytest.mark.slow
    def test_shapes_fit_and_round_trip(self):
        model = tiny_video_clip()
        data = {"videos": clips(), "token_ids": token_ids()}
        outputs = self.run_model_test(
            model, data, loss=CLIPLoss(),
            expected_output_shape={"image_embeddings": (3, 8), "text_embeddings": (3, 8),
                                   "video_embeddings": (3, 8), "logit_scale": ()})
        np.testing.assert_allclose(
            np.linalg.norm(to_numpy(outputs["image_embeddings"]), axis=-1), 1.0, atol=1e-5)
        # "images" (the moving-shapes batches' key) is the same input.
        same = model({"images": data["videos"], "token_ids": data["token_ids"]})
        np.testing.assert_allclose(to_numpy(same["image_embeddings"]),
                                   to_numpy(model.encode_video(data["videos"])), atol=1e-6)
        assert tuple(model.logits(data["videos"], data["token_ids"]).shape) == (3, 3)
        assert model.video_encoder is model.vision_encoder
        mean = tiny_video_clip("mean")
        assert VideoCLIP.from_config(mean.get_config()).video_encoder.pooling == "mean"
        assert tuple(mean.encode_video(data["videos"]).shape) == (3, 8)

    def test_from_clip_copies_the_towers_exactly(self):
        keras.utils.set_random_seed(0)
        clip = CLIP(VisionTransformer(**VIT), TextTransformer(**TEXT))
        clip.logit_scale.assign(3.0)
        model = VideoCLIP.from_clip(clip, num_frames=3, pooling="transformer", num_heads=2)
        image_tower = model.video_encoder.image_encoder
        assert image_tower is not clip.vision_encoder  # copies: the CLIP stays as it is
        for copied, original in ((image_tower, clip.vision_encoder),
                                 (model.text_encoder, clip.text_encoder)):
            assert len(copied.weights) == len(original.weights) > 0
            for a, b in zip(copied.weights, original.weights):
                np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
        assert float(to_numpy(model.logit_scale)) == 3.0
        ids = token_ids()
        np.testing.assert_array_equal(to_numpy(model.encode_text(ids)),
                                      to_numpy(clip.encode_text(ids)))
        # Mean pooling starts as CLIP's zero-shot video model: a clip of one
        # repeated frame embeds as that frame.
        mean = VideoCLIP.from_clip(clip, num_frames=3)
        frame = clips(frames=1)
        np.testing.assert_allclose(to_numpy(mean.encode_video(np.repeat(frame, 5, axis=1))),
                                   to_numpy(clip.encode_image(frame[:, 0])), atol=1e-5)
        # Training the video model leaves the CLIP alone.
        before = to_numpy(clip.vision_encoder.weights[0])
        model.video_encoder.image_encoder.weights[0].assign(before + 1.0)
        np.testing.assert_array_equal(to_numpy(clip.vision_encoder.weights[0]), before)

    @pytest.mark.slow
    def test_from_preset_name_and_siglip(self):
        model = VideoCLIP.from_clip("shapes_clip_tiny", num_frames=2)
        clip = CLIP.from_preset("shapes_clip_tiny")
        for a, b in zip(model.video_encoder.image_encoder.weights, clip.vision_encoder.weights):
            np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
        videos = clips(batch=2, frames=2, size=32)
        assert tuple(model.encode_video(videos).shape) == (2, clip.output_dim)
        from kerasmm.models import SigLIPTextEncoder, SigLIPVisionEncoder

        siglip = SigLIP(SigLIPVisionEncoder(image_size=16, patch_size=8, hidden_dim=8,
                                            num_layers=1, num_heads=2),
                        SigLIPTextEncoder(vocabulary_size=40, context_length=6, hidden_dim=8,
                                          num_layers=1, num_heads=2))
        video_siglip = VideoCLIP.from_clip(siglip, num_frames=2)
        assert video_siglip.logit_bias is not None
        assert float(to_numpy(video_siglip.logit_bias)) == float(to_numpy(siglip.logit_bias))
        assert tuple(video_siglip.encode_video(clips(batch=2)).shape) == (2, 8)

    @pytest.mark.slow
    def test_retriever_searches_videos(self):
        model = tiny_video_clip()
        videos = clips(batch=5)
        retriever = Retriever(model).index_images(videos)
        ids = token_ids(batch=2)
        indices, scores = retriever.search_text(ids, k=3)
        assert indices.shape == (2, 3)
        expected = to_numpy(model.encode_text(ids)) @ to_numpy(model.encode_video(videos)).T
        np.testing.assert_allclose(scores, -np.sort(-expected, axis=1)[:, :3], atol=1e-5)
        retriever.index_texts(token_ids(batch=4))
        indices, _ = retriever.search_image(videos[0], k=2)  # one clip
        assert indices.shape == (2,)
        recalls = retriever.evaluate(videos, token_ids(batch=5), ks=(1,))
        assert set(recalls) == {"i2t_recall@1", "t2i_recall@1"}

    def test_bad_arguments(self):
        with pytest.raises(TypeError, match="video_encoder must be a"):
            VideoCLIP(VisionTransformer(**VIT), TextTransformer(**TEXT))
        with pytest.raises(ValueError, match="output_tokens=False"):
            VideoCLIP(VideoEncoder(VisionTransformer(**VIT), num_frames=2),
                      TextTransformer(**TEXT))
        with pytest.raises(TypeError, match="clip must be"):
            VideoCLIP.from_clip(tiny_video_clip())
        model = tiny_video_clip()
        with pytest.raises(ValueError, match="videos must have shape"):
            model.encode_video(clips()[:, 0])  # frames, not clips
        with pytest.raises(ValueError, match="videos must have shape"):
            model.encode_video(clips(size=32))
        with pytest.raises(ValueError, match="float"):
            model.encode_video(np.zeros((1, 2, 16, 16, 3), "uint8"))


@pytest.mark.slow
def test_fit_learns_moving_shapes_retrieval():
    """From the shapes preset, a short fit lifts held-out video->text and
    text->video R@1 on moving shapes far above chance, direction included."""
    data = generate_moving_shapes("test", 200, num_frames=4, image_size=32)
    _, first = np.unique(data["captions"], return_index=True)
    videos, captions = preprocessed(data["videos"][first]), list(data["captions"][first])
    keras.utils.set_random_seed(0)
    model = VideoCLIP.from_clip("shapes_clip_tiny", num_frames=4, pooling="transformer")
    model.compile(keras.optimizers.Adam(2e-3), loss=CLIPLoss())
    retriever = Retriever(model, caption_tokenizer())
    before = retriever.evaluate(videos, captions, ks=(1,))
    dataset = moving_shapes_dataset("train", batch_size=64, num_frames=4, image_size=32,
                                    num_examples=1024)
    history = model.fit(dataset, epochs=3, verbose=0)
    after = retriever.evaluate(videos, captions, ks=(1,))
    chance = 1 / len(captions)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after["i2t_recall@1"] > max(10 * chance, before["i2t_recall@1"] + 0.05), after
    assert after["t2i_recall@1"] > max(10 * chance, before["t2i_recall@1"] + 0.05), after
