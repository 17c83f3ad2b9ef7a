"""`backbone.load_image_preprocessor` picks the preprocessor a preset records."""

import tempfile

import numpy as np

from kerasmm.models import TextTransformer
from kerasmm.models import backbone
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.preprocessing import PerceiverImagePreprocessor


def test_perceiver_vision_presets_get_the_perceiver_preprocessor():
    for name in ("perceiver_io_vision_learned", "perceiver_io_vision_fourier",
                 "perceiver_io_vision_conv"):
        preprocess = backbone.load_image_preprocessor(name)
        assert isinstance(preprocess, PerceiverImagePreprocessor)
        config = preprocess.get_config()
        assert config["image_size"] == 224
        assert config["center_crop_fraction"] == 224 / 256
        np.testing.assert_array_equal(config["mean"], [0.485, 0.456, 0.406])
        np.testing.assert_array_equal(config["std"], [0.229, 0.224, 0.225])
        assert config["interpolation"] == "bicubic"


def test_clip_presets_keep_the_clip_preprocessor():
    preprocess = backbone.load_image_preprocessor("clip_vit_b32_openai", image_size=32)
    assert type(preprocess) is CLIPImagePreprocessor
    assert preprocess.image_size == 32


def test_saved_preset_restores_the_perceiver_preprocessor():
    model = TextTransformer(vocabulary_size=16, context_length=4, hidden_dim=8,
                            num_layers=1, num_heads=2, output_dim=4)
    preprocess = PerceiverImagePreprocessor(image_size=16, center_crop_fraction=0.75,
                                            mean=(0.5, 0.5, 0.5), std=(0.2, 0.3, 0.4),
                                            interpolation="bilinear", antialias=False)
    directory = tempfile.mkdtemp()
    backbone.save_to_preset(model, directory, image_preprocessor=preprocess)
    restored = backbone.load_image_preprocessor(directory)
    assert isinstance(restored, PerceiverImagePreprocessor)
    config, expected = restored.get_config(), preprocess.get_config()
    for key in ("image_size", "center_crop_fraction", "mean", "std", "interpolation",
                "antialias"):
        assert tuple(np.ravel(config[key])) == tuple(np.ravel(expected[key])), key
