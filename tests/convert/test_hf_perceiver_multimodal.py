"""Hugging Face `PerceiverForMultimodalAutoencoding` converts with float32
parity (no torch here); the fixture was made by
`tools/make_parity_fixtures.py --perceiver-multimodal`.

HF's forward decodes correctly only with `subsampled_output_points`, so the
references are HF's outputs for every point (`full_*`) and for an
unordered chunk (`chunk_*`)."""

import os

import numpy as np
import pytest

from kerasmm import convert
from kerasmm.layers import AudioAdapter
from kerasmm.layers import BasicDecoder
from kerasmm.layers import ClassificationDecoder
from kerasmm.layers import LabelAdapter
from kerasmm.layers import MultimodalAdapter
from kerasmm.layers import MultimodalDecoder
from kerasmm.layers import VideoAdapter
from kerasmm.models import PerceiverIO
from kerasmm.presets import from_preset
from tests.convert.parity import ATOL, converted_model, copy_fixture, fixture
from tests.convert.parity import max_abs_diff, reference
from tests.convert.parity import rewrite_config, rewrite_weights

NAME = "hf_perceiver_multimodal"
MODALITIES = ("audio", "image", "label")


def _inputs(ref):
    return {m: ref[m] for m in MODALITIES}


def _assert_parity(outputs, ref, case):
    for m in MODALITIES:
        expected = ref[f"{case}_{m}"]
        actual = np.asarray(outputs[m])
        assert actual.size == expected.size, (m, actual.shape, expected.shape)
        diff = max_abs_diff(actual.reshape(expected.shape), expected)
        assert diff <= ATOL, f"{case} {m}: max abs diff {diff:.3g} > {ATOL}"


def test_reference_is_not_degenerate():
    ref = reference(NAME)
    for m in MODALITIES:
        assert np.std(ref[f"full_{m}"]) > 0.1, m
    # Audio and video reconstructions depend on the input of each example.
    for m in ("audio", "image"):
        assert np.max(np.abs(ref[f"full_{m}"][0] - ref[f"full_{m}"][1])) > 0.05, m


def test_full_decoding_parity():
    """A call without subsampled points decodes every point, with the
    positions of HF's `subsampled_output_points=arange(all)`."""
    ref = reference(NAME)
    model = converted_model(NAME)
    outputs = model(_inputs(ref))
    assert tuple(outputs["image"].shape) == (2, 2, 16, 16, 3)
    assert tuple(outputs["audio"].shape) == (2, 32)
    assert tuple(outputs["label"].shape) == (2, 5)
    _assert_parity(outputs, ref, "full")


def test_subsampled_chunk_parity():
    ref = reference(NAME)
    model = converted_model(NAME)
    points = {"audio": ref["chunk_audio_points"], "image": ref["chunk_image_points"]}
    assert not np.all(np.diff(points["image"]) > 0)  # Unordered indices.
    outputs = model(_inputs(ref), subsampled_points=points)
    assert tuple(outputs["image"].shape) == (2, 40, 3)
    assert tuple(outputs["audio"].shape) == (2, 12)  # 3 patches of 4 samples
    _assert_parity(outputs, ref, "chunk")


def test_converted_model_structure():
    model = converted_model(NAME)
    assert isinstance(model, PerceiverIO)
    adapter, decoder = model.input_adapter, model.decoder
    assert isinstance(adapter, MultimodalAdapter) and isinstance(decoder, MultimodalDecoder)
    assert isinstance(adapter.adapters["audio"], AudioAdapter)
    assert isinstance(adapter.adapters["image"], VideoAdapter)
    assert isinstance(adapter.adapters["label"], LabelAdapter)
    # HF: audio 4 samples + 385 Fourier channels is the widest; + 4 padding.
    assert adapter.output_dim == 4 + 385 + 4
    assert adapter.mask_probs == {"audio": 0.0, "image": 0.0, "label": 1.0}
    assert isinstance(decoder.decoders["audio"], BasicDecoder)
    assert isinstance(decoder.decoders["label"], ClassificationDecoder)
    assert decoder.query_dim == 385 + 2


def test_label_input_is_masked():
    """HF masks the label modality with probability 1: its value is unused."""
    ref = reference(NAME)
    model = converted_model(NAME)
    inputs = _inputs(ref)
    other = dict(inputs, label=np.zeros_like(ref["label"]))
    points = {"audio": ref["chunk_audio_points"][:1], "image": ref["chunk_image_points"][:4]}
    a = model(inputs, subsampled_points=points)
    b = model(other, subsampled_points=points)
    for m in MODALITIES:
        np.testing.assert_array_equal(np.asarray(a[m]), np.asarray(b[m]))


def test_converted_config_and_input_shape():
    converted = convert.convert(fixture(NAME), load_weights=False)
    assert converted.class_name == "PerceiverIO" and converted.weights is None
    assert converted.input_shape == {"audio": (None, 32, 1), "image": (None, 2, 16, 16, 3),
                                     "label": (None, 5)}
    adapters = converted.config["input_adapter"]["config"]["adapters"]
    assert adapters["audio"]["config"]["max_resolution"] == (32,)
    assert adapters["image"]["config"]["max_resolution"] == (2, 16, 16)
    assert converted.preprocessing["num_frames"] == 2


def test_missing_tensor_is_named(tmp_path):
    directory = copy_fixture(NAME, tmp_path)
    name = "perceiver.output_postprocessor.modalities.image.classifier.bias"
    rewrite_weights(directory, lambda t: t.pop(name))
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        convert.convert(directory)


def test_unused_tensor_is_listed(tmp_path):
    directory = copy_fixture(NAME, tmp_path)
    rewrite_weights(directory, lambda t: t.update(
        {"perceiver.decoder.padding.depth": np.zeros((1, 3), "float16")}))
    with pytest.raises(ValueError, match=r"left unused.*padding\.depth"):
        convert.convert(directory)


def test_config_that_disagrees_with_weights_names_tensor(tmp_path):
    directory = copy_fixture(NAME, tmp_path)
    rewrite_config(directory, lambda c: c.update(_label_trainable_num_channels=20))
    # The label query is 4 narrower: the checkpoint's label padding is 4 short.
    with pytest.raises(ValueError, match=r"decoder\.padding\.label.*\(1, 363\).*\(1, 367\)"):
        convert.convert(directory)


def test_converted_model_save_to_preset_round_trip(tmp_path):
    ref = reference(NAME)
    model = converted_model(NAME)
    points = {"audio": ref["chunk_audio_points"], "image": ref["chunk_image_points"]}
    directory = os.path.join(tmp_path, "preset")
    model.save_to_preset(directory)
    restored = from_preset(directory)
    _assert_parity(restored(_inputs(ref), subsampled_points=points), ref, "chunk")
