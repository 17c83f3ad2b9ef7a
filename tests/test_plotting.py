"""kerasmm.plotting: the retrieval picture, drawn with Pillow, checked pixel by pixel."""

import numpy as np
import pytest
from PIL import Image

from kerasmm import plotting

WHITE = plotting.BACKGROUND


def _images(size=8, count=5):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(count, size, size, 3)).astype("uint8")


def _pixel(picture, x, y):
    return tuple(int(v) for v in picture[y, x])


def _ink(region):
    """Pixels of a region that are not the white background."""
    return int(np.any(region != np.array(WHITE, "uint8"), axis=-1).sum())


def test_to_display_scales_floats_per_image():
    images = np.stack([np.full((2, 2, 3), -1.0), np.arange(12.0).reshape(2, 2, 3)])
    shown = plotting.to_display(images)
    assert shown.dtype == np.uint8
    np.testing.assert_array_equal(shown[0], 0)  # flat image: no division by zero
    np.testing.assert_array_equal(shown[1], np.round(255 * np.arange(12.0) / 11).reshape(2, 2, 3))
    uint8 = _images()
    assert plotting.to_display(uint8) is uint8


@pytest.mark.parametrize("size, scale", [(8, 12), (32, 3), (64, 2), (200, 1)])
def test_images_are_enlarged_by_a_whole_factor_to_at_least_96_pixels(size, scale):
    layout = plotting.retrieval_layout(["a query"], (size, size), k=2)
    assert layout["scale"] == scale
    left, top, right, bottom = layout["image_boxes"][0][1]
    assert right - left == bottom - top == size * scale >= 96


def test_saved_png_shows_queries_images_scores_and_marks(tmp_path):
    images, indices = _images(), np.array([[3, 1, 4], [0, 2, 3]])
    queries = ["a red circle", "a blue cross above a yellow circle, a long query"]
    matches = np.array([[True, False, True], [False, False, True]])
    scores = np.array([[0.91, 0.52, 0.4], [0.3, 0.2, 0.1]])
    path = plotting.save_retrieval_png(str(tmp_path / "a" / "r.png"), queries, images,
                                       indices, scores, matches, title="Top 3")
    assert path == str(tmp_path / "a" / "r.png")
    saved = Image.open(path)
    layout = plotting.retrieval_layout(queries, (8, 8), k=3, title_lines=2)
    assert saved.format == "PNG" and saved.mode == "RGB" and saved.size == layout["size"]
    picture = np.asarray(saved)
    assert picture.shape[1] >= 3 * 96 + 200  # three readable images and the query text

    assert _ink(picture[:layout["image_boxes"][0][0][1] - 4]) > 200  # title and legend
    assert len(layout["wrapped"][1]) > 1  # the long query wraps
    for row in range(2):
        left, top, right, bottom = layout["query_boxes"][row]
        assert _ink(picture[top:bottom, left:right]) > 100, row  # the query's text
        for col in range(3):
            left, top, right, bottom = layout["image_boxes"][row][col]
            expected = np.repeat(np.repeat(images[indices[row, col]], 12, 0), 12, 1)
            np.testing.assert_array_equal(picture[top:bottom, left:right], expected)
            color = plotting.RIGHT if matches[row, col] else plotting.WRONG
            for x, y in [(left - 2, top + 40), (right + 1, top + 40), (left + 40, top - 2),
                         (left + 40, bottom + 1)]:
                assert _pixel(picture, x, y) == color, (row, col, x, y)
            x, y = layout["score_origins"][row][col]
            under = picture[y:y + plotting.FONT_SIZE + 4, left:right]
            assert _ink(under[:, :40]) > 20  # the score's digits
            marks = np.all(under == np.array(color, "uint8"), axis=-1).sum()
            other = plotting.WRONG if matches[row, col] else plotting.RIGHT
            assert marks > 10 and not np.all(under == np.array(other, "uint8"), axis=-1).any()


def test_without_matches_or_scores_there_are_no_frames_or_labels():
    images, indices = _images(), np.array([[3, 1]])
    picture = np.asarray(plotting.plot_text_to_image(["x"], images, indices))
    layout = plotting.retrieval_layout(["x"], (8, 8), k=2)
    assert picture.shape[:2] == layout["size"][::-1]
    for left, top, right, bottom in layout["image_boxes"][0]:
        assert _pixel(picture, left - 2, top + 40) == WHITE
        x, y = left, bottom + plotting.FRAME + 2
        assert _ink(picture[y:y + plotting.FONT_SIZE + 4, left:right]) == 0


def test_float_images_are_shown_scaled():
    images = np.linspace(-1, 1, 2 * 8 * 8 * 3).reshape(2, 8, 8, 3).astype("float32")
    picture = np.asarray(plotting.plot_text_to_image(["q"], images, [[1]]))
    left, top, right, bottom = plotting.retrieval_layout(["q"], (8, 8), 1)["image_boxes"][0][0]
    shown = picture[top:bottom:12, left:right:12]
    np.testing.assert_array_equal(shown, plotting.to_display(images)[1])


@pytest.mark.parametrize("indices", [[[0, 1]], [[0, 5], [1, 2]], [[-1, 0], [1, 2]]])
def test_bad_indices(indices):
    with pytest.raises(ValueError, match="indices"):
        plotting.plot_text_to_image(["a", "b"], _images(), indices)
