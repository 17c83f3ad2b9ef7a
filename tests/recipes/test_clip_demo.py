"""`run_clip_demo`: its output folder is checked before training; `save_clip`."""

import os

import keras
import numpy as np
import pytest

from kerasmm import datasets
from kerasmm.recipes import ClipDemoConfig
from kerasmm.recipes import clip_demo
from kerasmm.recipes import run_clip_demo
from kerasmm.recipes import save_clip


class _Reached(Exception):
    """Raised by a stand-in for the first step after the folder check."""


def _must_not_run(*args, **kwargs):
    raise AssertionError("the demo built or trained a model before checking its folder")


def _reached(*args, **kwargs):
    raise _Reached


def test_non_empty_folder_is_refused_before_any_training(tmp_path, monkeypatch):
    monkeypatch.setattr(clip_demo, "build_demo_clip", _must_not_run)
    monkeypatch.setattr(clip_demo, "train_clip", _must_not_run)
    (tmp_path / "shapes_clip.keras").write_bytes(b"an earlier model")
    with pytest.raises(ValueError, match="output_dir must be a new or empty folder"):
        run_clip_demo(ClipDemoConfig.small(output_dir=str(tmp_path)))
    assert (tmp_path / "shapes_clip.keras").read_bytes() == b"an earlier model"


@pytest.mark.parametrize("make_earlier, overwrite", [(False, False), (True, True)])
def test_new_folder_or_overwrite_goes_on_to_build(tmp_path, monkeypatch, make_earlier,
                                                  overwrite):
    monkeypatch.setattr(clip_demo, "build_demo_clip", _reached)
    output_dir = tmp_path / "out"
    if make_earlier:
        output_dir.mkdir()
        (output_dir / "retrievals.png").write_bytes(b"earlier")
    with pytest.raises(_Reached):
        run_clip_demo(ClipDemoConfig.small(output_dir=str(output_dir), overwrite=overwrite))
    assert output_dir.is_dir()


@pytest.mark.slow
def test_save_clip_round_trip(trained_clip, tmp_path):
    config = ClipDemoConfig(output_dir=str(tmp_path))
    path = save_clip(trained_clip, config)
    assert path == os.path.join(str(tmp_path), config.model_filename)
    loaded = keras.saving.load_model(path)
    images = np.random.default_rng(0).normal(
        size=(4, config.image_size, config.image_size, 3)).astype("float32")
    token_ids = np.asarray(datasets.shapes_tokenizer()(["a red circle", "a blue cross"]))
    for method, inputs in (("encode_image", images), ("encode_text", token_ids)):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(getattr(loaded, method)(inputs)),
            keras.ops.convert_to_numpy(getattr(trained_clip, method)(inputs)), atol=1e-6)
