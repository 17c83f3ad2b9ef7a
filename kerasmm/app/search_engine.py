"""`SearchEngine`: a contrastive model encoding photos and queries for `kerasmm search`."""

import hashlib
import json
import os

import keras
import numpy as np

from kerasmm.app.search_images import READ_ERRORS
from kerasmm.app.search_images import list_images
from kerasmm.app.search_images import read_image
from kerasmm.app.search_index import SearchIndex
from kerasmm.app.search_index import file_stamp
from kerasmm.recipes.evaluation import load_model_and_preprocessor
from kerasmm.recipes.evaluation.encoding import prompt_tokenizer
from kerasmm.tasks.task_utils import encode_in_batches
from kerasmm.tasks.task_utils import to_numpy
from kerasmm.utils.checks import check_positive_int


def _without_names(config):
    """A config with every "name" entry dropped: Keras numbers unnamed layers
    per process ("dense_3"), which must not change a model's fingerprint."""
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k != "name"}
    if isinstance(config, (list, tuple)):
        return [_without_names(v) for v in config]
    return config


def model_fingerprint(model):
    """Hex sha256 of a model's class, config (layer names aside) and weights:
    an index's embeddings are comparable only with the same fingerprint."""
    config = {"class_name": type(model).__name__, "config": _without_names(model.get_config())}
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=repr).encode())
    for weight in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _preset_name(preset):
    """A preset directory as an absolute path (queries may run elsewhere)."""
    return os.path.abspath(preset) if os.path.isdir(preset) else preset


class SearchEngine:
    """Encodes photos and queries with any contrastive preset (CLIP, SigLIP).

    Images go through the family preprocessor and `model.encode_image`,
    texts through its tokenizer and `model.encode_text`; both give unit
    vectors, so a `SearchIndex` ranks by cosine similarity.

    Args:
        model: a contrastive model (`encode_image`, `encode_text`).
        preprocessor: its family preprocessor (`CLIPPreprocessor`,
            `SigLIPPreprocessor`).
        preset: the preset name or directory both came from (recorded in
            the index).
        batch_size: int, images per encoding batch.

    Example:

    >>> engine = SearchEngine.from_preset("shapes_clip_tiny")
    >>> engine.encode_text("a red circle").shape
    (64,)
    """

    def __init__(self, model, preprocessor, preset, batch_size=32):
        self.model = model
        self.preprocessor = preprocessor
        self.preset = preset
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.model_hash = model_fingerprint(model)
        self.tokenize = prompt_tokenizer(preprocessor)
        size = getattr(getattr(preprocessor, "image_preprocessor", None), "image_size", None)
        # JPEGs are decoded at >= twice the model's input size (see `open_image`).
        self.min_size = 2 * int(np.max(size)) if size is not None else None

    @classmethod
    def from_preset(cls, preset, batch_size=32):
        """The engine of a preset name, directory or `hf://org/repo`."""
        preset = _preset_name(preset)
        model, preprocessor = load_model_and_preprocessor(preset)
        return cls(model, preprocessor, preset, batch_size)

    # === Encoding ===

    def preprocess(self, pixels):
        """The model's image batch of a list of uint8 `(H, W, 3)` arrays."""
        if len({image.shape for image in pixels}) == 1:  # One resize for the batch.
            return to_numpy(self.preprocessor({"images": np.stack(pixels)})["images"])
        return np.stack([to_numpy(self.preprocessor({"images": image})["images"])
                         for image in pixels])

    def encode_text(self, text):
        """The unit embedding `(dim,)` of a text query."""
        return to_numpy(self.model.encode_text(self.tokenize([text])))[0]

    def encode_file(self, path):
        """The unit embedding `(dim,)` of an image file (EXIF orientation applied)."""
        pixels = self.preprocess([read_image(path, self.min_size)])
        return to_numpy(self.model.encode_image(pixels))[0]

    def encode_files(self, root, paths, verbose=1):
        """Encodes image files in batches, with a progress bar.

        Args:
            root: the folder `paths` are relative to.
            paths: relative paths of the images.
            verbose: 0 silent, 1 a live bar, 2 one line at the end.

        Returns:
            `(embeddings, encoded, unreadable)`: float32 `(len(encoded),
            dim)`, the paths that were read and encoded, and
            `[{"path", "error"}]` for those that could not be read.
        """
        encoded, unreadable = [], []
        bar = keras.utils.Progbar(len(paths), verbose=verbose, unit_name="image")

        def batches():
            for start in range(0, len(paths), self.batch_size):
                chunk, pixels = paths[start:start + self.batch_size], []
                for path in chunk:
                    try:
                        pixels.append(read_image(os.path.join(root, path), self.min_size))
                    except READ_ERRORS as error:
                        unreadable.append({"path": path,
                                           "error": f"{type(error).__name__}: {error}"})
                        continue
                    encoded.append(path)
                if pixels:
                    yield self.preprocess(pixels)
                bar.add(len(chunk))  # Once encoded (when the next batch is asked for).

        embeddings = encode_in_batches(self.model.encode_image, batches(), self.batch_size,
                                       self.model.output_dim, len(paths))
        return embeddings, encoded, unreadable

    def query_embedding(self, text=None, image=None, index=None):
        """The embedding of a text or an image file query (exactly one).

        An image that `index` holds unchanged takes its stored embedding,
        so searching by an indexed photo ranks as the web page does.
        """
        if (text is None) == (image is None):
            raise ValueError("Give a text query or an image, not both and not neither. "
                             f"Received: text={text!r}, image={image!r}")
        if text is not None:
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"text must be a non-empty string. Received: text={text!r}")
            return self.encode_text(text)
        stored = index.stored_embedding(image) if index is not None else None
        return stored if stored is not None else self.encode_file(image)

    # === Index ===

    def check_index(self, index):
        """Raises unless `index` was built by this engine's model."""
        if index.model_hash != self.model_hash:
            raise ValueError(
                f"the index was built by preset {index.preset!r} with other weights "
                f"(model hash {index.model_hash[:12]}, this model's {self.model_hash[:12]}): "
                "its embeddings cannot be compared with this model's; use the index's "
                "preset, or rebuild the index with --rebuild")

    def update_index(self, root, previous=None, verbose=1):
        """A `SearchIndex` of the images under `root`, reusing `previous`.

        Images that `previous` holds with the same size and modification
        time keep their embeddings; new and changed ones are encoded;
        deleted ones are dropped. Unreadable files are skipped and listed.

        Returns:
            `(index, summary)`, summary a dict of the `added`, `updated`,
            `removed` and `unchanged` relative paths and the `unreadable`
            files (`{"path", "error"}`).
        """
        root = os.path.abspath(root)
        if not os.path.isdir(root):
            raise ValueError(f"photos must be an existing folder. Received: photos={root!r}")
        old_rows = {}
        if previous is not None:
            if os.path.realpath(previous.root) != os.path.realpath(root):
                raise ValueError(
                    f"the index holds the photos of {previous.root!r}, not {root!r}: give "
                    "another --index, or --rebuild to replace it")
            self.check_index(previous)
            old_rows = previous.rows
        stamps = {}
        for path in list_images(root):
            try:
                stamps[path] = file_stamp(os.path.join(root, path))
            except OSError:  # Deleted since it was listed.
                continue
        paths = list(stamps)
        kept = {path: previous.embeddings[old_rows[path]] for path in paths
                if path in old_rows and stamps[path] == {
                    key: previous.images[old_rows[path]][key] for key in stamps[path]}}
        todo = [path for path in paths if path not in kept]
        embeddings, encoded, unreadable = self.encode_files(root, todo, verbose)
        rows = {**kept, **dict(zip(encoded, embeddings))}
        images = [path for path in paths if path in rows]
        dim = embeddings.shape[1]
        index = SearchIndex(
            root, self.preset, self.model_hash,
            [{"path": path, **stamps[path]} for path in images],
            np.stack([rows[path] for path in images]) if images else np.zeros((0, dim)),
            unreadable)
        summary = {"added": [p for p in encoded if p not in old_rows],
                   "updated": [p for p in encoded if p in old_rows],
                   "removed": [p for p in old_rows if p not in rows],
                   "unchanged": sorted(kept), "unreadable": unreadable}
        return index, summary
