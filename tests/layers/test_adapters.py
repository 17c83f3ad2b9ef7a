import keras
import numpy as np
import pytest

from kerasmm.layers import AudioAdapter
from kerasmm.layers import ImageAdapter
from kerasmm.layers import LabelAdapter
from kerasmm.layers import TextAdapter
from kerasmm.layers import VideoAdapter
from tests.models.perceiver.perceiver_reference import fourier_features
from tests.models.perceiver.perceiver_reference import space_to_depth_nchw
from tests.models.perceiver.perceiver_reference import weights
from tests.test_case import TestCase
from tests.test_case import to_numpy

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.normal(size=shape).astype("float32")


def features(layer, x):
    return to_numpy(layer(x)["features"]).astype("float64")


class TestImageAdapter(TestCase):
    @pytest.mark.parametrize("kwargs, shape", [
        ({"preprocessing": "conv1x1", "out_channels": 4, "position_encoding": "learned",
          "spatial_downsample": 2}, (2, 16, 8)),
        ({"preprocessing": "conv", "out_channels": 4, "num_bands": 2}, (2, 1, 14)),
    ])
    def test_common_checks(self, kwargs, shape):
        self.run_layer_test(ImageAdapter, {"image_shape": (8, 8, 3), **kwargs},
                            rand(2, 8, 8, 3), expected_output_shape={"features": shape})

    def test_weightless_configs(self):
        self.run_layer_test(ImageAdapter, {"image_shape": (4, 6, 3), "num_bands": 3},
                            rand(2, 4, 6, 3), check_fit=False,
                            expected_output_shape={"features": (2, 24, 17)})

    def test_pixels_with_fourier_match_reference(self):
        images = rand(2, 4, 6, 3)
        out = features(ImageAdapter((4, 6, 3), num_bands=5, max_resolution=(9, 7)), images)
        np.testing.assert_array_equal(out[..., :3], images.reshape(2, 24, 3))
        ref = fourier_features((4, 6), 5, max_resolution=(9, 7))
        np.testing.assert_allclose(out[0, :, 3:], ref, atol=1e-5)
        np.testing.assert_array_equal(out[0, :, 3:], out[1, :, 3:])

    def test_pixels_downsample_takes_every_sth_pixel(self):
        images = rand(1, 5, 6, 2)
        out = features(ImageAdapter((5, 6, 2), position_encoding=None,
                                    spatial_downsample=2), images)
        np.testing.assert_array_equal(out, images[:, ::2, ::2].reshape(1, 9, 2))

    def test_patches_match_hugging_face_space_to_depth(self):
        images = rand(2, 8, 4, 3)
        adapter = ImageAdapter((8, 4, 3), preprocessing="patches", spatial_downsample=2,
                               num_bands=2, sine_only=True, concat_pos=False)
        out = features(adapter, images)
        ref = space_to_depth_nchw(images.transpose(0, 3, 1, 2), 2).reshape(2, 8, 12)
        np.testing.assert_array_equal(out[..., :12], ref)
        np.testing.assert_allclose(out[0, :, 12:], fourier_features(
            (4, 2), 2, concat_pos=False, sine_only=True), atol=1e-6)
        assert adapter.output_dim == out.shape[-1] == 12 + 4

    def test_conv1x1_and_learned_positions(self):
        images = rand(2, 4, 4, 3)
        adapter = ImageAdapter((4, 4, 3), preprocessing="conv1x1", out_channels=5,
                               position_encoding="learned", position_dim=3,
                               project_pos_dim=6, spatial_downsample=2)
        out = features(adapter, images)
        w = weights(adapter)
        ref = images[:, ::2, ::2].reshape(2, 4, 3) @ w["conv1x1/kernel"][0, 0] \
            + w["conv1x1/bias"]
        np.testing.assert_allclose(out[..., :5], ref, atol=1e-5)
        table = w["position_embeddings/latents"]
        assert table.shape == (4, 3)
        projected = table @ w["position_projection/kernel"] + w["position_projection/bias"]
        np.testing.assert_allclose(out[:, :, 5:], np.broadcast_to(projected, (2, 4, 6)),
                                   atol=1e-6)

    def test_add_positions(self):
        images = rand(2, 3, 3, 4)
        adapter = ImageAdapter((3, 3, 4), position_encoding="learned",
                               concat_or_add_pos="add")
        out = features(adapter, images)
        np.testing.assert_allclose(
            out, images.reshape(2, 9, 4) + weights(adapter)["position_embeddings/latents"],
            atol=1e-6)

    def test_conv_stem_matches_numpy(self):
        images = rand(1, 10, 12, 2)
        adapter = ImageAdapter((10, 12, 2), preprocessing="conv", out_channels=3,
                               position_encoding=None)
        out = features(adapter, images)
        w = weights(adapter)
        # Hugging Face: ZeroPad2d(3, 3, 3, 3), Conv2d(7, stride 2, no bias),
        # BatchNorm2d (fresh statistics), ReLU, MaxPool2d(3, stride 2).
        x = np.pad(images[0].astype("float64"), ((3, 3), (3, 3), (0, 0)))
        kernel = w["conv/kernel"]
        rows, cols = (x.shape[0] - 7) // 2 + 1, (x.shape[1] - 7) // 2 + 1
        conv = np.zeros((rows, cols, 3))
        for i in range(rows):
            for j in range(cols):
                patch = x[2 * i:2 * i + 7, 2 * j:2 * j + 7]
                conv[i, j] = np.einsum("hwc,hwco->o", patch, kernel)
        bn = conv / np.sqrt(1.0 + 1e-5) * w["batchnorm/gamma"] + w["batchnorm/beta"]
        relu = np.maximum(bn, 0.0)
        pooled = np.array([[relu[2 * i:2 * i + 3, 2 * j:2 * j + 3].max((0, 1))
                            for j in range((cols - 3) // 2 + 1)]
                           for i in range((rows - 3) // 2 + 1)])
        np.testing.assert_allclose(out[0], pooled.reshape(-1, 3), atol=1e-5)

    def test_conv_stem_on_224_images_gives_55x55(self):
        adapter = ImageAdapter((224, 224, 3), preprocessing="conv", out_channels=2,
                               num_bands=1, max_resolution=(56, 56))
        shape = adapter.compute_output_shape((None, 224, 224, 3))["features"]
        assert shape == (None, 55 * 55, 2 + 2 + 4)

    @pytest.mark.parametrize("kwargs, message", [
        ({"image_shape": (8, 8)}, "image_shape=(8, 8)"),
        ({"image_shape": (8, 8, 3), "preprocessing": "resnet"}, "preprocessing='resnet'"),
        ({"image_shape": (8, 8, 3), "position_encoding": "sine"}, "position_encoding='sine'"),
        ({"image_shape": (8, 8, 3), "concat_or_add_pos": "mul"}, "concat_or_add_pos='mul'"),
        ({"image_shape": (9, 8, 3), "preprocessing": "patches", "spatial_downsample": 2},
         "image side=9"),
        ({"image_shape": (8, 8, 3), "preprocessing": "conv", "spatial_downsample": 4},
         "spatial_downsample=4"),
        ({"image_shape": (8, 8, 3), "max_resolution": (8,)}, "max_resolution=(8,)"),
        ({"image_shape": (8, 8, 3), "concat_or_add_pos": "add"}, "position width=258"),
        ({"image_shape": (8, 8, 3), "num_bands": 0}, "num_bands=0"),
    ])
    def test_bad_config(self, kwargs, message):
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            ImageAdapter(**kwargs)

    def test_wrong_image_size(self):
        adapter = ImageAdapter((8, 8, 3))
        with pytest.raises(ValueError, match=r"image_shape=\(8, 8, 3\).*\(2, 16, 8, 3\)"):
            adapter(rand(2, 16, 8, 3))


class TestTextAdapter(TestCase):
    def test_common_checks(self):
        ids = RNG.integers(0, 20, size=(2, 5)).astype("int32")
        self.run_layer_test(TextAdapter, {"vocabulary_size": 20, "max_sequence_length": 8,
                                          "embedding_dim": 6}, ids,
                            expected_output_shape={"features": (2, 5, 6)})

    def test_embeddings_plus_positions_and_mask_passes_on(self):
        ids = np.array([[7, 3, 9, 0], [1, 1, 0, 0]], "int32")
        mask = ids != 0
        adapter = TextAdapter(vocabulary_size=10, max_sequence_length=6, embedding_dim=4)
        out = adapter({"token_ids": ids, "padding_mask": mask})
        w = weights(adapter)
        ref = w["token_embedding/embeddings"][ids] + w["position_embedding/embeddings"][:4]
        np.testing.assert_allclose(to_numpy(out["features"]), ref, atol=1e-6)
        np.testing.assert_array_equal(to_numpy(out["padding_mask"]), mask)
        assert "padding_mask" not in adapter(ids)
        assert adapter.compute_output_shape({"token_ids": (2, 4), "padding_mask": (2, 4)}) \
            == {"features": (2, 4, 4), "padding_mask": (2, 4)}

    def test_too_long_text(self):
        adapter = TextAdapter(max_sequence_length=4, embedding_dim=4)
        with pytest.raises(ValueError, match="length=5, max_sequence_length=4"):
            adapter(np.zeros((1, 5), "int32"))

    def test_bad_config(self):
        with pytest.raises(ValueError, match="embedding_dim=0"):
            TextAdapter(embedding_dim=0)


class TestAudioAdapter(TestCase):
    def test_common_checks(self):
        self.run_layer_test(AudioAdapter, {"samples_per_patch": 4, "position_encoding": "learned"},
                            rand(2, 16, 2), expected_output_shape={"features": (2, 4, 16)})

    def test_patches_and_1d_fourier(self):
        audio = rand(2, 24, 1)
        adapter = AudioAdapter(samples_per_patch=6, num_bands=3, max_resolution=(24,))
        out = features(adapter, audio)
        np.testing.assert_array_equal(out[..., :6], audio.reshape(2, 4, 6))
        np.testing.assert_allclose(out[0, :, 6:], fourier_features((4,), 3, (24,)), atol=1e-5)
        assert adapter.output_dim == 6 + 7

    def test_length_not_divisible(self):
        with pytest.raises(ValueError, match="audio length=10, samples_per_patch=4"):
            AudioAdapter(samples_per_patch=4)(rand(1, 10, 1))


class TestVideoAdapter(TestCase):
    def test_common_checks(self):
        self.run_layer_test(VideoAdapter, {"video_shape": (2, 4, 4, 1), "spatial_downsample": 2,
                                           "position_encoding": "learned"},
                            rand(2, 2, 4, 4, 1), expected_output_shape={"features": (2, 8, 8)})

    def test_space_time_patches_and_3d_fourier(self):
        video = rand(2, 4, 4, 6, 3)
        adapter = VideoAdapter((4, 4, 6, 3), temporal_downsample=2, spatial_downsample=2,
                               num_bands=2, max_resolution=(4, 4, 6))
        out = features(adapter, video)
        ref = space_to_depth_nchw(video.transpose(0, 1, 4, 2, 3), 2, temporal=2)
        np.testing.assert_array_equal(out[..., :24], ref.reshape(2, 12, 24))
        np.testing.assert_allclose(out[1, :, 24:], fourier_features((2, 2, 3), 2, (4, 4, 6)),
                                   atol=1e-5)

    def test_bad_shapes(self):
        with pytest.raises(ValueError, match="frames=3, temporal_downsample=2"):
            VideoAdapter((3, 4, 4, 3), temporal_downsample=2)
        with pytest.raises(ValueError, match="video_shape="):
            VideoAdapter((4, 4, 3))
        with pytest.raises(ValueError, match=r"video with shape \(1, 2, 4, 4, 1\)"):
            VideoAdapter((2, 4, 4, 3), spatial_downsample=2)(rand(1, 2, 4, 4, 1))


class TestLabelAdapter(TestCase):
    def test_one_position(self):
        labels = np.eye(4, dtype="float32")[[1, 3]]
        out = LabelAdapter(4)(labels)["features"]
        np.testing.assert_array_equal(to_numpy(out), labels[:, None, :])
        with pytest.raises(ValueError, match="num_classes=4"):
            LabelAdapter(4)(np.zeros((2, 5), "float32"))

    def test_config_round_trip(self):
        layer = LabelAdapter(3, name="labels")
        assert LabelAdapter.from_config(layer.get_config()).get_config() == layer.get_config()
        assert keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(layer)).num_classes == 3
