"""Pictures of retrieval results: text queries and the images they find.

Drawn with Pillow (a kerasmm requirement), so every install writes the
same labelled picture: a title, one row per query with the query's text
on the left and its top images left to right, each image enlarged (nearest
neighbour, at least `cell_size` pixels) with its score under it and, when
`matches` is given, a green frame and check mark for a right image, a red
frame and cross for a wrong one. The result is a `PIL.Image.Image`, which
Jupyter displays as it is.
"""

import math
import os
import textwrap

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

RIGHT = (0, 140, 60)  # Frame and mark of an image that matches its query.
WRONG = (205, 30, 30)
TEXT = (20, 20, 20)
BACKGROUND = (255, 255, 255)
MARGIN = 12  # Around the picture and between its columns.
GAP = 8  # Between rows, and between an image and its score.
FRAME = 4  # Width of the green / red frame.
FONT_SIZE = 14
TITLE_SIZE = 17
QUERY_CHARACTERS = 26  # Where a query's text wraps.


def _font(size):
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled TrueType font.
    except (TypeError, ImportError, OSError):  # Pillow without FreeType.
        return ImageFont.load_default()


def _check_grid(queries, images, indices):
    indices = np.asarray(indices)
    if indices.ndim != 2 or len(indices) != len(queries):
        raise ValueError(
            "indices must have shape (num_queries, k), one row per query. "
            f"Received: indices with shape {indices.shape}, {len(queries)} queries"
        )
    if indices.size and (indices.min() < 0 or indices.max() >= len(images)):
        raise ValueError(
            f"indices must be in [0, {len(images)}), the number of images. "
            f"Received: indices in [{indices.min()}, {indices.max()}]"
        )
    return indices


def to_display(images):
    """Images as uint8 for display: uint8 stays, floats are min-max scaled
    per image (so CLIP-normalised pixels show their colours)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    images = images.astype("float32")
    low = images.min(axis=(-3, -2, -1), keepdims=True)
    high = images.max(axis=(-3, -2, -1), keepdims=True)
    return np.round(255 * (images - low) / np.maximum(high - low, 1e-6)).astype("uint8")


def retrieval_layout(queries, image_shape, k, cell_size=96, title_lines=1):
    """Where `plot_text_to_image` draws each part, in pixels.

    Args:
        queries: list of str, one per row.
        image_shape: `(height, width)` of the searched images.
        k: int, images per row.
        cell_size: int, the least size of an enlarged image's longer side.
        title_lines: int, lines of text above the grid.

    Returns:
        A dict: `"size"` `(width, height)` of the picture, `"scale"` the
        integer enlargement, `"query_boxes"` one `(left, top, right,
        bottom)` per row, `"image_boxes"` `[row][col]` boxes of the
        enlarged images, `"score_origins"` `[row][col]` `(x, y)` of the
        scores, `"title_origin"` `(x, y)`, `"wrapped"` each query's lines.

    Example:

    >>> layout = retrieval_layout(["a red circle"], (32, 32), k=3)
    >>> layout["scale"], layout["image_boxes"][0][0][2] - layout["image_boxes"][0][0][0]
    (3, 96)
    """
    height, width = image_shape[:2]
    scale = max(1, math.ceil(cell_size / max(height, width)))
    font = _font(FONT_SIZE)
    line_height = FONT_SIZE + 4
    wrapped = [textwrap.wrap(q, QUERY_CHARACTERS) or [""] for q in queries]
    label_width = max(font.getbbox(line)[2] for lines in wrapped for line in lines)
    image_width, image_height = width * scale, height * scale
    cell_width = max(image_width + 2 * FRAME, font.getbbox("0.000 x")[2])
    row_height = max(image_height + 2 * FRAME + GAP + line_height,
                     line_height * max(len(lines) for lines in wrapped))
    top = MARGIN + title_lines * (TITLE_SIZE + 6) + GAP
    grid_left = MARGIN + label_width + MARGIN
    query_boxes, image_boxes, score_origins = [], [], []
    for row, lines in enumerate(wrapped):
        row_top = top + row * (row_height + GAP)
        text_top = row_top + FRAME + (image_height - line_height * len(lines)) // 2
        query_boxes.append((MARGIN, max(row_top, text_top), MARGIN + label_width,
                            max(row_top, text_top) + line_height * len(lines)))
        boxes, origins = [], []
        for col in range(k):
            left = grid_left + col * (cell_width + MARGIN) + FRAME
            boxes.append((left, row_top + FRAME, left + image_width,
                          row_top + FRAME + image_height))
            origins.append((left, row_top + 2 * FRAME + image_height + GAP // 2))
        image_boxes.append(boxes)
        score_origins.append(origins)
    size = (grid_left + k * (cell_width + MARGIN),
            top + len(queries) * (row_height + GAP) + MARGIN)
    return {"size": size, "scale": scale, "query_boxes": query_boxes,
            "image_boxes": image_boxes, "score_origins": score_origins,
            "title_origin": (MARGIN, MARGIN), "wrapped": wrapped}


def _draw_mark(draw, x, y, size, right):
    """A check mark (right) or a cross (wrong), `size` pixels square at `(x, y)`."""
    color, width = (RIGHT, 3) if right else (WRONG, 3)
    if right:
        draw.line([(x, y + size // 2), (x + size // 3, y + size), (x + size, y)],
                  fill=color, width=width)
    else:
        draw.line([(x, y), (x + size, y + size)], fill=color, width=width)
        draw.line([(x, y + size), (x + size, y)], fill=color, width=width)


def plot_text_to_image(queries, images, indices, scores=None, matches=None, title=None,
                       cell_size=96):
    """A picture: one row per text query, its top retrieved images left to right.

    Args:
        queries: list of str, one per row, written left of the row.
        images: the searched images `(N, H, W, 3)`, uint8 or float.
        indices: int `(num_queries, k)`, the retrieved image indices, best
            first (e.g. from `kerasmm.tasks.Retriever.search_text`).
        scores: optional float `(num_queries, k)`, written under each image.
        matches: optional bool `(num_queries, k)`: a green frame and a check
            mark for an image that matches its query, a red frame and a
            cross for one that does not.
        title: optional str above the grid (default: what the grid shows).
        cell_size: int, the least size in pixels of an image's longer side;
            images are enlarged by a whole factor, nearest neighbour.

    Returns:
        An RGB `PIL.Image.Image` (Jupyter displays it; `image.save(path)`).

    Example:

    >>> images = np.zeros((4, 8, 8, 3), "uint8")
    >>> picture = plot_text_to_image(["a red circle", "a blue cross"], images,
    ...                              [[0, 1, 2], [3, 2, 1]], scores=np.ones((2, 3)))
    >>> picture.mode, picture.size[0] > 3 * 96
    ('RGB', True)
    """
    indices = _check_grid(queries, images, indices)
    images = to_display(images)
    k = indices.shape[1]
    if title is None:
        title = f"Text-to-image retrieval: each query's top {k} images, best first"
    legend = ("the score under each image; " if scores is not None else "") + (
        "green frame and tick: the image matches the query, red frame and cross: it does not")
    lines = [title] + ([legend] if matches is not None else [])
    layout = retrieval_layout(queries, images.shape[1:3], k, cell_size, len(lines))
    picture = Image.new("RGB", layout["size"], BACKGROUND)
    draw = ImageDraw.Draw(picture)
    font, title_font = _font(FONT_SIZE), _font(TITLE_SIZE)
    x, y = layout["title_origin"]
    for i, line in enumerate(lines):
        draw.text((x, y + i * (TITLE_SIZE + 6)), line, fill=TEXT,
                  font=title_font if i == 0 else font)
    for row in range(len(queries)):
        left, top = layout["query_boxes"][row][:2]
        for i, line in enumerate(layout["wrapped"][row]):
            draw.text((left, top + i * (FONT_SIZE + 4)), line, fill=TEXT, font=font)
        for col in range(k):
            box = layout["image_boxes"][row][col]
            tile = Image.fromarray(images[indices[row, col]])
            picture.paste(tile.resize((box[2] - box[0], box[3] - box[1]), Image.NEAREST),
                          box[:2])
            x, y = layout["score_origins"][row][col]
            if matches is not None:
                right = bool(np.asarray(matches)[row, col])
                frame = [box[0] - FRAME, box[1] - FRAME, box[2] + FRAME - 1,
                         box[3] + FRAME - 1]
                draw.rectangle(frame, outline=RIGHT if right else WRONG, width=FRAME)
                _draw_mark(draw, box[2] - FONT_SIZE + 2, y + 2, FONT_SIZE - 4, right)
            if scores is not None:
                draw.text((x, y), f"{float(np.asarray(scores)[row, col]):.3f}",
                          fill=TEXT, font=font)
    return picture


def save_retrieval_png(path, queries, images, indices, scores=None, matches=None,
                       title=None):
    """Writes `plot_text_to_image`'s picture to `path` (a PNG file, its folder
    made if missing) and returns `path`."""
    picture = plot_text_to_image(queries, images, indices, scores, matches, title)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    picture.save(path, format="PNG")
    return path
