"""`kerasmm.models.build_conv_encoder`: the demo's two-stream CNN tower."""

import keras
import numpy as np
import pytest

from kerasmm.models import build_conv_encoder


def _images(n=3, size=16):
    return np.random.default_rng(0).normal(size=(n, size, size, 3)).astype("float32")


def test_form_stream_sees_the_brightest_channel():
    encoder = build_conv_encoder(image_size=16, conv_widths=(4, 8), output_dim=6)
    images = _images()
    assert tuple(encoder(images).shape) == (3, 6)
    brightness = keras.Model(encoder.input, encoder.get_layer("brightness").output)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(brightness(images)),
                                  images.max(axis=-1, keepdims=True))


def test_widths_set_the_layers():
    encoder = build_conv_encoder(image_size=16, conv_widths=(4, 8, 12), output_dim=6,
                                 color_width=3)
    assert encoder.get_layer("form_conv").filters == 4
    assert encoder.get_layer("color_conv").filters == 3
    assert [encoder.get_layer(f"conv_{i}").filters for i in range(2)] == [8, 12]
    assert encoder.get_layer("hidden").units == 12 and encoder.get_layer("output").units == 6


def test_saved_model_needs_no_kerasmm_code(tmp_path):
    encoder = build_conv_encoder(image_size=16, conv_widths=(4, 8), output_dim=6)
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(_images())),
                               keras.ops.convert_to_numpy(encoder(_images())), atol=1e-6)


@pytest.mark.parametrize("kwargs, name", [
    ({"image_size": 0}, "image_size"),
    ({"conv_widths": ()}, "conv_widths"),
    ({"conv_widths": (4, -8)}, "conv_widths"),
    ({"output_dim": 2.5}, "output_dim"),
    ({"color_width": 0}, "color_width"),
])
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"{name} must be .* Received: {name}="):
        build_conv_encoder(**kwargs)
