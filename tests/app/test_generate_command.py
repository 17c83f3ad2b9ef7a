"""`kerasmm generate`: a PNG from the shipped shapes_diffusion_tiny preset, offline."""

import json

import numpy as np
import pytest
from PIL import Image

from kerasmm.app.generate_command import image_row
from kerasmm.cli import build_parser
from kerasmm.cli import main


def test_generate_writes_png_of_the_right_size(tmp_path, capsys):
    out = tmp_path / "out.png"
    status = main(["generate", "a red circle", "-o", str(out), "--num-steps", "3",
                   "--num-images", "2", "--seed", "1", "--scale", "2", "--json"])
    assert status == 0
    picture = np.asarray(Image.open(out))
    assert picture.shape == (64, 128, 3) and picture.dtype == np.uint8
    assert picture.std() > 0  # not a blank image
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["width"] == 128 and line["height"] == 64 and line["preset"] == (
        "shapes_diffusion_tiny")
    # The same seed draws the same images.
    again = tmp_path / "again.png"
    assert main(["generate", "a red circle", "-o", str(again), "--num-steps", "3",
                 "--num-images", "2", "--seed", "1", "--scale", "2"]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(again)), picture)


def test_generate_refuses_a_missing_folder(tmp_path, capsys):
    status = main(["generate", "a red circle", "-o", str(tmp_path / "no" / "out.png")])
    assert status == 2
    assert "-o must be in an existing folder" in capsys.readouterr().err


@pytest.mark.parametrize("option,value", [("--num-steps", "0"), ("--guidance-scale", "-1"),
                                          ("--num-images", "x"), ("--sampler", "euler")])
def test_generate_rejects_bad_options(option, value):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "a red circle", "-o", "x.png", option, value])


def test_image_row():
    images = np.arange(2 * 2 * 3 * 1, dtype="uint8").reshape(2, 2, 3, 1)
    row = image_row(images, scale=2)
    assert row.shape == (4, 12, 1)
    np.testing.assert_array_equal(row[::2, :6:2], images[0])
    np.testing.assert_array_equal(row[::2, 6::2], images[1])
