import keras
import numpy as np
import pytest

from kerasmm.models import VideoEncoder, VisionTransformer, build_conv_encoder
from kerasmm.models.video import uniform_frame_indices
from tests.test_case import TestCase, assert_trees_close, to_numpy

VIT = {"image_size": 16, "patch_size": 8, "hidden_dim": 8, "num_layers": 1, "num_heads": 2,
       "output_dim": 8, "output_tokens": True}


def clips(batch=3, frames=4, size=16, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, frames, size, size, 3)).astype("float32")


class TestVideoEncoder(TestCase):
    @pytest.mark.parametrize("pooling", ["mean", "transformer"])
    def test_tokens_tower_shapes_fit_and_round_trip(self, pooling):
        encoder = VideoEncoder(VisionTransformer(**VIT), num_frames=4, pooling=pooling,
                               num_heads=2)
        # Mean: the ViT's 4 patch tokens, averaged over frames; transformer:
        # one token per frame.
        tokens = (3, 4, 8)
        self.run_model_test(encoder, clips(), 
                           
                            expected_output_shape={"pooled": (3, 8), "tokens": tokens})
        clone = VideoEncoder.from_config(encoder.get_config())
        assert clone.get_config() == encoder.get_config()

    def test_vector_tower_and_pooled_output(self):
        tower = build_conv_encoder(image_size=16, conv_widths=(4, 8), output_dim=6)
        mean = VideoEncoder(tower, num_frames=3)
        out = mean(clips(frames=7))
        assert tuple(out["tokens"].shape) == (3, 1, 6)
        pooled = VideoEncoder(tower, num_frames=3, pooling="transformer", num_heads=3,
                              output_tokens=False)(clips(frames=7))
        assert tuple(pooled.shape) == (3, 6)

    def test_mean_pooling_ignores_frame_order_transformer_does_not(self):
        videos = clips(frames=4)
        reversed_videos = videos[:, ::-1]
        mean = VideoEncoder(VisionTransformer(**VIT), num_frames=4)
        assert_trees_close(mean(reversed_videos), mean(videos), atol=1e-5)
        # The mean equals the tower applied frame by frame, then averaged.
        frames = to_numpy(mean.image_encoder(videos.reshape(-1, 16, 16, 3)))
        np.testing.assert_allclose(to_numpy(mean(videos)["pooled"]),
                                   frames["pooled"].reshape(3, 4, -1).mean(1), atol=1e-5)
        temporal = VideoEncoder(VisionTransformer(**VIT), num_frames=4, pooling="transformer",
                                num_heads=2)
        forward, backward = to_numpy(temporal(videos)), to_numpy(temporal(reversed_videos))
        # Same frames, other positions: different pooled vectors...
        assert np.abs(forward["pooled"] - backward["pooled"]).max() > 1e-3
        # ...and with positions zeroed, a reordering of the same tokens.
        temporal.frame_positions.embeddings.assign(np.zeros((4, 8), "float32"))
        forward, backward = to_numpy(temporal(videos)), to_numpy(temporal(reversed_videos))
        np.testing.assert_allclose(forward["tokens"][:, ::-1], backward["tokens"], atol=1e-5)

    def test_uniform_sampling(self):
        assert uniform_frame_indices(8, 4).tolist() == [1, 3, 5, 7]
        assert uniform_frame_indices(4, 4).tolist() == [0, 1, 2, 3]
        assert uniform_frame_indices(2, 4).tolist() == [0, 0, 1, 1]
        # Only the sampled frames matter.
        encoder = VideoEncoder(VisionTransformer(**VIT), num_frames=2)
        videos = clips(frames=4)
        changed = videos.copy()
        changed[:, [0, 2]] = 0.0
        assert_trees_close(encoder(changed), encoder(videos))

    @pytest.mark.slow
    def test_tiny_fit_learns_direction(self):
        # A bright column moving left or right over 4 frames; the label is the
        # direction, which only an order-aware pooling can read.
        rng = np.random.default_rng(0)
        n, frames = 64, 4
        videos = np.zeros((n, frames, 8, 8, 1), "float32")
        labels = rng.integers(2, size=n)
        for i in range(n):
            start = rng.integers(0, 3)
            for t in range(frames):
                videos[i, t, :, start + t if labels[i] else 7 - start - t] = 1.0
        keras.utils.set_random_seed(0)
        tower = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(8)])
        model = keras.Sequential([
            keras.Input((frames, 8, 8, 1)),
            VideoEncoder(tower, num_frames=frames, pooling="transformer", num_heads=2,
                         output_tokens=False),
            keras.layers.Dense(2),
        ])
        model.compile(keras.optimizers.Adam(1e-2),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], jit_compile=False)
        history = model.fit(videos, labels, batch_size=16, epochs=10, verbose=0)
        assert history.history["accuracy"][-1] >= 0.95
        assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]

    def test_bad_arguments(self):
        tower = build_conv_encoder(image_size=16, conv_widths=(4, 8), output_dim=6)
        with pytest.raises(ValueError, match="pooling"):
            VideoEncoder(tower, num_frames=2, pooling="max")
        with pytest.raises(ValueError, match="image_encoder"):
            VideoEncoder("vit", num_frames=2)
        with pytest.raises(ValueError, match="num_heads must divide"):
            VideoEncoder(tower, num_frames=2, pooling="transformer", num_heads=4)(clips())
        with pytest.raises(ValueError, match="rank 5"):
            VideoEncoder(tower, num_frames=2)(np.zeros((2, 16, 16, 3), "float32"))


@pytest.mark.slow
def test_feeds_coca_for_video_captioning():
    from kerasmm.models import CoCa

    encoder = VideoEncoder(VisionTransformer(**VIT), num_frames=2, pooling="transformer",
                           num_heads=2)
    encoder.build((None, 4, 16, 16, 3))  # CoCa reads the clip shape from the build
    coca = CoCa(encoder, vocabulary_size=20, context_length=8, hidden_dim=16,
                num_unimodal_layers=1, num_multimodal_layers=1, num_heads=2, output_dim=8,
                start_token_id=1, end_token_id=2, pad_token_id=0, num_caption_queries=4)
    videos = clips(batch=2, frames=4)
    outputs = coca({"images": videos, "token_ids": np.ones((2, 8), "int32")})
    assert tuple(outputs["caption_logits"].shape) == (2, 7, 20)
    # The image embedding changes with frame order (temporal transformer).
    backward = to_numpy(coca.encode_image(videos[:, ::-1]))
    assert np.abs(to_numpy(outputs["image_embeddings"]) - backward).max() > 1e-4
