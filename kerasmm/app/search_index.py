"""`SearchIndex`: a photo folder's image embeddings, kept on disk."""

import hashlib
import json
import os

import numpy as np

FORMAT = "kerasmm-search-index"
VERSION = 1
INDEX_FILE = "index.json"
EMBEDDINGS_FILE = "embeddings.npy"


def file_stamp(path):
    """`{"size", "mtime_ns"}` of a file: a change of either means re-encode it."""
    stat = os.stat(path)
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array, "float32").tobytes()).hexdigest()


def rank(embeddings, query, k):
    """`(indices, scores)` of the `k` rows of `embeddings` closest to `query`
    (dot products, so cosine similarities of unit vectors), best first; ties
    go to the lower row, as in `kerasmm.tasks.Retriever`."""
    # einsum, not BLAS: no threads to wake for a memory-bound product.
    scores = np.einsum("ij,j->i", embeddings, np.asarray(query, "float32"))
    candidates = np.arange(len(scores))
    if k < len(scores):
        # Every row scoring at least the k-th best: ties across the cut keep
        # the lower rows, as a full stable sort would.
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        candidates = np.flatnonzero(scores >= kth)
    order = candidates[np.argsort(-scores[candidates], kind="stable")][:k]
    return order, scores[order]


class SearchIndex:
    """The embeddings of a photo folder's images, with what made them.

    On disk, a folder holding `embeddings.npy` (float32 `(N, dim)`, unit
    rows) and `index.json`: the photo folder's absolute path (`root`), the
    preset and the sha256 of the model's config and weights (`model_hash`)
    that encoded the images, and per row the image's path relative to
    `root` (with `/`), its size and modification time (`images`). The
    images that could not be read when it was built are listed under
    `unreadable` (`{"path", "error"}`).

    Args:
        root: the photo folder.
        preset: the preset name or directory of the model.
        model_hash: hex sha256 of the model (`model_fingerprint`).
        images: list of `{"path", "size", "mtime_ns"}`, one per row.
        embeddings: float32 `(len(images), dim)`.
        unreadable: list of `{"path", "error"}`.

    Example:

    >>> index = SearchIndex("/photos", "shapes_clip_tiny", "0" * 64,
    ...     [{"path": "a.png", "size": 1, "mtime_ns": 0},
    ...      {"path": "b.png", "size": 1, "mtime_ns": 0}],
    ...     np.eye(2, dtype="float32"))
    >>> index.search(np.array([0.6, 0.8]), k=1)
    [{'path': 'b.png', 'score': 0.800000011920929}]
    """

    def __init__(self, root, preset, model_hash, images, embeddings, unreadable=()):
        embeddings = np.asarray(embeddings, "float32")
        if embeddings.ndim != 2 or len(embeddings) != len(images):
            raise ValueError(
                "embeddings must be (number of images, dim), one row per image. "
                f"Received: embeddings of shape {embeddings.shape} for {len(images)} images")
        self.root = os.path.abspath(root)
        self.preset = preset
        self.model_hash = model_hash
        self.images = [dict(image) for image in images]
        self.embeddings = embeddings
        self.unreadable = [dict(item) for item in unreadable]
        self.rows = {image["path"]: row for row, image in enumerate(self.images)}

    @property
    def paths(self):
        """The indexed images' relative paths, in row order."""
        return [image["path"] for image in self.images]

    def __len__(self):
        return len(self.images)

    # === Search ===

    def search(self, query, k=5):
        """The `k` images closest to a query embedding `(dim,)`, best first.

        Returns:
            list of `{"path", "score"}` (score: the cosine similarity as a
            Python float), at most `len(self)` long.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer. Received: k={k!r}")
        query = np.asarray(query, "float32")
        if query.shape != self.embeddings.shape[1:]:
            raise ValueError(
                f"query must be one embedding of shape {self.embeddings.shape[1:]}. "
                f"Received: query of shape {query.shape}")
        order, scores = rank(self.embeddings, query, int(k))
        return [{"path": self.images[i]["path"], "score": float(s)}
                for i, s in zip(order, scores)]

    def stored_embedding(self, path):
        """The stored embedding of an image file if it is indexed and has not
        changed since (the same row a search by it would re-encode), else None."""
        path = os.path.abspath(path)
        relative = os.path.relpath(path, self.root).replace(os.sep, "/")
        row = self.rows.get(relative)
        if row is None or not os.path.isfile(path):
            return None
        image = self.images[row]
        if file_stamp(path) != {"size": image["size"], "mtime_ns": image["mtime_ns"]}:
            return None
        return self.embeddings[row]

    def file_path(self, relative):
        """The absolute path of an indexed image, or None for any other path
        (what the web page may serve: indexed images, nothing else)."""
        if relative not in self.rows:
            return None
        return os.path.join(self.root, *relative.split("/"))

    # === Files ===

    @classmethod
    def load(cls, directory):
        """The index written into `directory` by `save`."""
        json_path = os.path.join(directory, INDEX_FILE)
        if not os.path.isfile(json_path):
            raise ValueError(
                f"index {directory!r} holds no {INDEX_FILE}: build it with "
                f"`kerasmm search index PHOTOS --index {directory}`")
        with open(json_path, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError(
                f"index {directory!r} is not a {FORMAT} version {VERSION}. Received: "
                f"format={data.get('format')!r}, version={data.get('version')!r}")
        embeddings = np.load(os.path.join(directory, EMBEDDINGS_FILE), allow_pickle=False)
        if _sha256(embeddings) != data.get("embeddings_sha256"):
            raise ValueError(
                f"index {directory!r}: {EMBEDDINGS_FILE} is not the one {INDEX_FILE} was "
                "written with (an interrupted update?): run `kerasmm search index` again "
                "with --rebuild")
        return cls(data["root"], data["preset"], data["model_hash"], data["images"],
                   embeddings, data.get("unreadable", ()))

    def save(self, directory):
        """Writes `embeddings.npy`, then `index.json`, into `directory` (made
        if missing). Each file is replaced whole, and the JSON holds the
        sha256 of the embeddings: after a crash between the two, `load`
        refuses the pair instead of mixing two versions."""
        os.makedirs(directory, exist_ok=True)
        data = {"format": FORMAT, "version": VERSION, "root": self.root,
                "preset": self.preset, "model_hash": self.model_hash,
                "embedding_dim": int(self.embeddings.shape[1]),
                "embeddings_sha256": _sha256(self.embeddings),
                "images": self.images, "unreadable": self.unreadable}
        for name, write in ((EMBEDDINGS_FILE, lambda f: np.save(f, self.embeddings)),
                            (INDEX_FILE, lambda f: f.write(
                                json.dumps(data, indent=1).encode("utf-8")))):
            temporary = os.path.join(directory, name + ".tmp")
            with open(temporary, "wb") as f:
                write(f)
            os.replace(temporary, os.path.join(directory, name))
