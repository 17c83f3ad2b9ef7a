"""`instantiate` / `build_model`: nested kerasmm layers in any of their three forms."""

import keras
import pytest

from kerasmm.layers import AudioAdapter
from kerasmm.layers import ClassificationDecoder
from kerasmm.layers import ImageAdapter
from kerasmm.layers import LabelAdapter
from kerasmm.layers import MultimodalAdapter
from kerasmm.models import CLIP
from kerasmm.models import Perceiver
from kerasmm.models import PerceiverIO
from kerasmm.presets import build_model
from kerasmm.presets import instantiate
from tests.test_case import TestCase

TINY = {"num_latents": 4, "latent_dim": 8, "num_self_attends_per_block": 1,
        "num_cross_attention_heads": 1, "num_self_attention_heads": 2}
IMAGE = {"image_shape": [4, 4, 3], "num_bands": 2}


def spec(class_name, **config):
    return {"class_name": class_name, "config": config}


def perceiver_config(form):
    """A PerceiverIO config whose adapter and decoder are in `form`."""
    layers = {"input_adapter": spec("ImageAdapter", **IMAGE),
              "decoder": spec("ClassificationDecoder", num_classes=3)}
    if form == "keras":
        layers = {k: keras.saving.serialize_keras_object(
            ImageAdapter(**v["config"]) if k == "input_adapter"
            else ClassificationDecoder(**v["config"])) for k, v in layers.items()}
    elif form == "object":
        layers = {"input_adapter": ImageAdapter(**IMAGE),
                  "decoder": ClassificationDecoder(num_classes=3)}
    return {**TINY, **layers}


def architecture(model):
    """The config with auto-generated layer names dropped."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "name"}
        return value
    return strip(model.get_config())


class TestInstantiate(TestCase):
    @pytest.mark.parametrize("form", ["spec", "keras", "object"])
    def test_perceiver_io_from_every_nested_form(self, form):
        model = instantiate("PerceiverIO", perceiver_config(form))
        assert isinstance(model, PerceiverIO)
        assert isinstance(model.input_adapter, ImageAdapter)
        assert model.input_adapter.num_bands == 2
        assert isinstance(model.decoder, ClassificationDecoder)
        assert model.decoder.num_classes == 3
        reference = PerceiverIO(ImageAdapter(**IMAGE), ClassificationDecoder(3), **TINY)
        assert architecture(model) == architecture(reference)

    @pytest.mark.parametrize("form", ["keras", "object"])
    def test_perceiver_io_from_config_reads_both_forms(self, form):
        model = PerceiverIO.from_config(perceiver_config(form))
        assert isinstance(model.input_adapter, ImageAdapter)
        assert isinstance(model.decoder, ClassificationDecoder)

    @pytest.mark.parametrize("form", ["spec", "keras", "object"])
    def test_perceiver_from_config_reads_every_form_as_perceiver_io(self, form):
        config = {**perceiver_config(form), "num_classes": 3}
        del config["decoder"]
        model = (instantiate("Perceiver", config) if form == "spec"
                 else Perceiver.from_config(config))
        assert isinstance(model.input_adapter, ImageAdapter)
        assert model.input_adapter.num_bands == 2
        reference = Perceiver(ImageAdapter(**IMAGE), num_classes=3, **TINY)
        assert architecture(model) == architecture(reference)

    def test_specs_nested_inside_a_layer_config(self):
        # MultimodalAdapter holds a dict of adapters: specs two levels down.
        adapter = spec("MultimodalAdapter", adapters={
            "audio": spec("AudioAdapter", samples_per_patch=4, num_bands=2),
            "label": spec("LabelAdapter", num_classes=3)})
        config = {**TINY, "input_adapter": adapter,
                  "decoder": spec("ClassificationDecoder", num_classes=3)}
        model = instantiate("PerceiverIO", config)
        adapters = model.input_adapter.adapters
        assert isinstance(adapters["audio"], AudioAdapter)
        assert isinstance(adapters["label"], LabelAdapter)
        reference = PerceiverIO(MultimodalAdapter({
            "audio": AudioAdapter(samples_per_patch=4, num_bands=2),
            "label": LabelAdapter(3)}), ClassificationDecoder(3), **TINY)
        assert architecture(model) == architecture(reference)

    def test_layer_object_as_a_preset_override(self):
        model = build_model("PerceiverIO", perceiver_config("spec"),
                            overrides={"decoder": ClassificationDecoder(5)})
        assert isinstance(model.input_adapter, ImageAdapter)
        assert model.decoder.num_classes == 5

    def test_clip_towers_as_specs(self):
        vision = spec("VisionTransformer", image_size=16, patch_size=8, hidden_dim=8,
                      num_layers=1, num_heads=2, output_dim=4)
        text = spec("TextTransformer", vocabulary_size=16, context_length=4, hidden_dim=8,
                    num_layers=1, num_heads=2, output_dim=4)
        model = instantiate("CLIP", {"vision_encoder": vision, "text_encoder": text})
        assert isinstance(model, CLIP)
        assert model.vision_encoder.image_size == 16
        assert model.text_encoder.context_length == 4

    def test_unknown_nested_class(self):
        config = {**perceiver_config("spec"), "decoder": spec("NoSuchDecoder")}
        with pytest.raises(ValueError, match="Unknown kerasmm class 'NoSuchDecoder'"):
            instantiate("PerceiverIO", config)
