"""Finding and reading the photos that `kerasmm search` indexes."""

import io
import os

import numpy as np
from PIL import Image
from PIL import ImageOps

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
# What a broken, truncated or hostile file makes Pillow raise: the file is
# listed as unreadable and skipped, the index goes on.
READ_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def inside(root, path):
    """True if `path`, symbolic links resolved, is `root` or below it."""
    root = os.path.realpath(root)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def list_images(root):
    """The images under `root`, at any depth: sorted relative paths with `/`.

    Files with the extensions of `IMAGE_EXTENSIONS` (any case); hidden files
    and folders (a name starting with ".") and links leading outside `root`
    are left out.

    Example:

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "trip"))
    >>> for name in ("trip/b.JPG", "a.png", "notes.txt", ".hidden.png"):
    ...     open(os.path.join(root, name), "wb").close()
    >>> list_images(root)
    ['a.png', 'trip/b.JPG']
    """
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # os.walk follows no links
        for name in files:
            path = os.path.join(folder, name)
            if (not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)
                    and (not os.path.islink(path) or inside(root, path))):
                found.append(os.path.relpath(path, root).replace(os.sep, "/"))
    return sorted(found)


def open_image(path, min_size=None):
    """A Pillow RGB image of a file, its EXIF orientation applied.

    Args:
        path: the image file.
        min_size: None, or a size in pixels: a JPEG is then decoded at the
            smallest scale (1/2, 1/4, 1/8) whose sides are all at least
            this (much faster for camera photos; the preprocessor resizes
            them down anyway).
    """
    with Image.open(path) as image:
        if min_size is not None:
            image.draft("RGB", (min_size, min_size))
        image = ImageOps.exif_transpose(image)
        return image.convert("RGB")


def read_image(path, min_size=None):
    """uint8 pixels `(H, W, 3)` of an image file, upright (see `open_image`)."""
    return np.asarray(open_image(path, min_size))


def thumbnail_jpeg(path, size=256):
    """JPEG bytes of an image file shrunk to fit in `size` x `size`, upright."""
    image = open_image(path, min_size=size)
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
