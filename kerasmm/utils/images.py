"""Image array helpers (NumPy)."""

import numpy as np


def images_to_uint8(images):
    """Images in `[-1, 1]` as uint8 pictures: `(x + 1) * 127.5`, rounded and clipped.

    >>> images_to_uint8(np.array([-1.0, 0.0, 1.0, 1.5])).tolist()
    [0, 128, 255, 255]
    """
    images = np.asarray(images, dtype="float32")
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype("uint8")
