"""kerasmm.plotting: retrieval grids, with and without matplotlib."""

import numpy as np
import pytest
import tensorflow as tf

from kerasmm import plotting


def _images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(5, 6, 7, 3)).astype("uint8")


def test_to_display_scales_floats_per_image():
    images = np.stack([np.full((2, 2, 3), -1.0), np.arange(12.0).reshape(2, 2, 3)])
    shown = plotting.to_display(images)
    assert shown.dtype == np.uint8
    np.testing.assert_array_equal(shown[0], 0)  # flat image: no division by zero
    np.testing.assert_array_equal(shown[1], np.round(255 * np.arange(12.0) / 11).reshape(2, 2, 3))
    uint8 = _images()
    assert plotting.to_display(uint8) is uint8


def test_image_grid_tiles_rows_of_results():
    images = _images()
    indices = np.array([[4, 0, 2], [1, 1, 3]])
    grid = plotting.image_grid(images, indices, pad=2)
    assert grid.shape == (2 * 8 + 2, 3 * 9 + 2, 3)
    for row in range(2):
        for col in range(3):
            top, left = 2 + row * 8, 2 + col * 9
            np.testing.assert_array_equal(grid[top:top + 6, left:left + 7],
                                          images[indices[row, col]])
    assert (grid[0] == 255).all() and (grid[:, 0] == 255).all()


def test_plot_text_to_image_figure():
    figure = plotting.plot_text_to_image(
        ["a red circle", "a blue square"], _images(), [[0, 1], [2, 3]],
        scores=[[0.9, 0.8], [0.7, 0.6]], matches=[[True, False], [False, True]])
    axes = figure.get_axes()
    assert len(axes) == 4
    assert axes[0].get_ylabel() == "a red circle" and axes[2].get_ylabel() == "a blue square"
    assert axes[1].get_xlabel() == "0.80"


@pytest.mark.parametrize("indices", [[[0, 1]], [[0, 5], [1, 2]], [[-1, 0], [1, 2]]])
def test_bad_indices(indices):
    with pytest.raises(ValueError, match="indices"):
        plotting.plot_text_to_image(["a", "b"], _images(), indices)


def test_save_retrieval_png_with_and_without_matplotlib(tmp_path, monkeypatch):
    images, indices = _images(), np.array([[3, 1], [0, 4]])
    path, labelled = plotting.save_retrieval_png(
        str(tmp_path / "a" / "labelled.png"), ["x", "y"], images, indices)
    assert labelled and open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"

    def missing():
        raise ImportError(plotting.MATPLOTLIB_MISSING)

    monkeypatch.setattr(plotting, "_matplotlib_figure", missing)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plotting.plot_text_to_image(["x", "y"], images, indices)
    path, labelled = plotting.save_retrieval_png(
        str(tmp_path / "bare.png"), ["x", "y"], images, indices)
    assert not labelled
    decoded = tf.io.decode_png(tf.io.read_file(path)).numpy()
    np.testing.assert_array_equal(decoded, plotting.image_grid(images, indices))
