"""Pictures of retrieval results: text queries and the images they find.

matplotlib is optional (it is in the `test` extra, not a requirement):
`plot_text_to_image` needs it and says so when it is missing;
`save_retrieval_png` falls back to a plain image grid without labels,
written with TensorFlow, so the demo always leaves a PNG behind.
"""

import os

import numpy as np

MATPLOTLIB_MISSING = (
    "Plotting with labels needs matplotlib, which kerasmm does not require. "
    "Install it with `pip install matplotlib`."
)


def _matplotlib_figure():
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(MATPLOTLIB_MISSING) from error
    return Figure


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


def plot_text_to_image(queries, images, indices, scores=None, matches=None,
                       image_inches=1.1):
    """A grid: one row per text query, its top retrieved images left to right.

    Args:
        queries: list of str, one per row.
        images: the searched images `(N, H, W, 3)`, uint8 or float.
        indices: int `(num_queries, k)`, the retrieved image indices, best
            first (e.g. from `kerasmm.tasks.Retriever.search_text`).
        scores: optional float `(num_queries, k)`, shown under each image.
        matches: optional bool `(num_queries, k)`: a green frame marks an
            image that matches its query, a red one an image that does not.
        image_inches: size of one image cell in inches.

    Returns:
        A `matplotlib.figure.Figure` (displayed by Jupyter; save it with
        `figure.savefig(path)`).
    """
    figure_class = _matplotlib_figure()
    indices = _check_grid(queries, images, indices)
    images = to_display(images)
    rows, k = indices.shape
    label_inches = 0.2 + 0.055 * max(len(q) for q in queries)  # room for the queries
    width = label_inches + image_inches * k + 0.1
    height = image_inches * rows + 0.4
    figure = figure_class(figsize=(width, height))
    axes = figure.subplots(rows, k, squeeze=False)
    for row, query in enumerate(queries):
        for col in range(k):
            axis = axes[row, col]
            axis.imshow(images[indices[row, col]], interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if scores is not None:
                axis.set_xlabel(f"{float(np.asarray(scores)[row, col]):.2f}", fontsize=7)
            if matches is not None:
                color = "tab:green" if np.asarray(matches)[row, col] else "tab:red"
                for spine in axis.spines.values():
                    spine.set_edgecolor(color)
                    spine.set_linewidth(2.5)
        axes[row, 0].set_ylabel(query, rotation=0, ha="right", va="center", fontsize=8)
    figure.subplots_adjust(left=label_inches / width, right=1 - 0.1 / width,
                           top=1 - 0.1 / height, bottom=0.3 / height, wspace=0.08,
                           hspace=0.25)
    return figure


def image_grid(images, indices, pad=2):
    """The retrieved images tiled into one uint8 array, a row per query."""
    images = to_display(images)
    indices = np.asarray(indices)
    rows, k = indices.shape
    height, width = images.shape[1:3]
    grid = np.full((rows * (height + pad) + pad, k * (width + pad) + pad, 3), 255, "uint8")
    for row in range(rows):
        for col in range(k):
            top, left = pad + row * (height + pad), pad + col * (width + pad)
            grid[top:top + height, left:left + width] = images[indices[row, col]]
    return grid


def save_retrieval_png(path, queries, images, indices, scores=None, matches=None):
    """Writes the text-to-image retrieval grid to `path` (a PNG file).

    With matplotlib: `plot_text_to_image`'s labelled figure. Without it:
    the bare image grid (`image_grid`, rows in the order of `queries`),
    written by TensorFlow.

    Returns:
        `(path, labelled)`: the path written and whether it has labels.
    """
    indices = _check_grid(queries, images, indices)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    try:
        figure = plot_text_to_image(queries, images, indices, scores, matches)
    except ImportError:
        import tensorflow as tf

        tf.io.write_file(path, tf.io.encode_png(image_grid(images, indices)))
        return path, False
    figure.savefig(path, dpi=110)
    return path, True
