"""Image-text retrieval with a CLIP model: index, search, evaluate."""

import numpy as np

from kerasmm.metrics import retrieval_recall
from kerasmm.tasks.task_utils import encode_in_batches
from kerasmm.tasks.task_utils import is_dataset
from kerasmm.tasks.task_utils import iterate_batches
from kerasmm.tasks.task_utils import num_items
from kerasmm.tasks.task_utils import text_batches
from kerasmm.utils.checks import check_positive_int


class Retriever:
    """Searches images by text and texts by image with a CLIP model.

    Index a collection with `index_images` and/or `index_texts` (encoded in
    batches into L2-normalised embeddings, kept as numpy arrays in
    `image_embeddings` / `text_embeddings`), then query it:
    `search_text(query, k)` ranks the indexed images for a text query,
    `search_image(image, k)` ranks the indexed texts for an image query.
    Scores are cosine similarities; ties go to the lower index.
    `rerank` re-orders a search's top-k by an image-text matcher.
    `evaluate` measures Recall@K both ways on a whole split with
    `kerasmm.metrics.retrieval_recall`.

    A plain Python object (it holds data, not a Keras model): nothing to
    save beyond the CLIP model and the embedding arrays.

    Args:
        clip: a `kerasmm.models.CLIP`.
        tokenizer: callable mapping a list of strings to token ids, e.g.
            `kerasmm.preprocessing.CLIPTokenizer`; needed only for texts
            given as strings.
        batch_size: int, images or texts per encoding batch.

    Example:
    >>> tokenizer = kerasmm.datasets.shapes_tokenizer()
    >>> clip = kerasmm.models.CLIP(
    ...     kerasmm.models.VisionTransformer(image_size=32, patch_size=8,
    ...         hidden_dim=16, num_layers=1, num_heads=2, output_dim=8),
    ...     kerasmm.models.TextTransformer(
    ...         vocabulary_size=tokenizer.vocabulary_size(),
    ...         context_length=tokenizer.sequence_length, hidden_dim=16,
    ...         num_layers=1, num_heads=2, output_dim=8))
    >>> images = np.random.default_rng(0).normal(size=(4, 32, 32, 3))
    >>> retriever = kerasmm.tasks.Retriever(clip, tokenizer)
    >>> retriever = retriever.index_images(images)
    >>> indices, scores = retriever.search_text("a red circle", k=2)
    >>> indices.shape, scores.shape
    ((2,), (2,))
    >>> captions = ["a red circle", "a blue square", "a star", "a cross"]
    >>> sorted(retriever.evaluate(images, captions, ks=(1,)))
    ['i2t_recall@1', 't2i_recall@1']

    Reference:
        Radford et al., "Learning Transferable Visual Models From Natural
        Language Supervision", 2021, section 3.2 (retrieval).
    """

    def __init__(self, clip, tokenizer=None, batch_size=32):
        for method in ("encode_image", "encode_text"):
            if not hasattr(clip, method):
                raise TypeError(
                    f"clip must be a kerasmm.models.CLIP (it has no {method}). "
                    f"Received: clip of type {type(clip).__name__}"
                )
        if tokenizer is not None and not callable(tokenizer):
            raise TypeError(
                "tokenizer must be None or callable on a list of strings. "
                f"Received: tokenizer of type {type(tokenizer).__name__}"
            )
        batch_size = check_positive_int("batch_size", batch_size)
        self.clip = clip
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.image_embeddings = None
        self.text_embeddings = None

    # === Encoding ===

    def encode_images(self, images):
        """Embeddings `(N, output_dim)` of an image array or dataset, batched."""
        return encode_in_batches(
            lambda batch: self.clip.encode_image(np.asarray(batch)),
            iterate_batches(images, self.batch_size), self.batch_size,
            self.clip.output_dim, num_items(images))

    def encode_texts(self, texts):
        """Embeddings `(M, output_dim)` of strings or token ids `(M, L)`, batched."""
        return encode_in_batches(
            self.clip.encode_text, text_batches(texts, self.tokenizer, self.batch_size),
            self.batch_size, self.clip.output_dim, num_items(texts))

    def index_images(self, images):
        """Encodes and stores the images to search; returns `self`."""
        self.image_embeddings = self.encode_images(images)
        return self

    def index_texts(self, texts):
        """Encodes and stores the texts to search; returns `self`."""
        self.text_embeddings = self.encode_texts(texts)
        return self

    # === Search ===

    def search_text(self, query, k=5):
        """The `k` indexed images closest to a text query.

        Args:
            query: a string, a list of strings, token ids `(L,)` or
                `(num_queries, L)`.
            k: int, number of results per query.

        Returns:
            `(indices, scores)`: int64 and float32 arrays of shape `(k,)`
            for a single query, `(num_queries, k)` for a batch, best first.
        """
        single = isinstance(query, str) or (
            not isinstance(query, (list, tuple, dict)) and np.ndim(query) == 1)
        if single:
            query = [query] if isinstance(query, str) else np.asarray(query)[None]
        embeddings = self.encode_texts(query)
        return self._search(embeddings, self.image_embeddings, "images", k, single)

    def search_image(self, image, k=5):
        """The `k` indexed texts closest to an image query.

        Args:
            image: one image `(H, W, C)` or a batch `(num_queries, H, W, C)`
                (with a `VideoCLIP`: one clip `(T, H, W, C)` or a batch).
            k: int, number of results per query.

        Returns:
            `(indices, scores)` as in `search_text`.
        """
        # The rank of one query item: 3 for an image, a model's `item_rank` else.
        item_rank = getattr(self.clip, "item_rank", 3)
        single = not is_dataset(image) and np.ndim(image) == item_rank
        if single:
            image = np.asarray(image)[None]
        embeddings = self.encode_images(image)
        return self._search(embeddings, self.text_embeddings, "texts", k, single)

    def _search(self, queries, index, kind, k, single):
        if index is None:
            method = "index_images" if kind == "images" else "index_texts"
            raise ValueError(f"No {kind} indexed yet: call {method} first.")
        if not len(index):
            method = "index_images" if kind == "images" else "index_texts"
            raise ValueError(f"Nothing to search: no {kind} are indexed ({method} "
                             f"got an empty collection). Received: 0 indexed {kind}")
        if isinstance(k, bool) or not isinstance(k, int) or not 0 < k <= len(index):
            raise ValueError(
                f"k must be an int in [1, number of indexed {kind}]. "
                f"Received: k={k!r}, {len(index)} indexed {kind}"
            )
        scores = queries @ index.T
        indices = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(scores, indices, axis=1).astype("float32")
        indices = indices.astype("int64")
        return (indices[0], top[0]) if single else (indices, top)

    def rerank(self, matcher, indices, queries, candidates):
        """Re-orders a search's top-k by an image-text matcher (e.g. an
        `ImageTextMatcher`): CLIP retrieves cheaply, the fusion model scores
        each (query, candidate) pair jointly, as ALBEF / BLIP re-rank.

        Args:
            matcher: a model with `match_probability(inputs)` -> `(B,)` for
                inputs `{"images", "token_ids", "padding_mask"}`.
            indices: int `(k,)` or `(num_queries, k)`, from `search_text`
                or `search_image`.
            queries: the queries in the matcher's inputs: for
                `search_text`, a dict with `"token_ids"` `(num_queries, L)`
                (optional `"padding_mask"`); for `search_image`, images
                `(num_queries, H, W, C)`.
            candidates: the indexed items the same way: images `(N, H, W,
                C)` for `search_text`, a dict of texts `(N, L)` for
                `search_image`.

        Returns:
            `(indices, probabilities)` of `indices`' shape, best first
            (ties keep the search's order).
        """
        if not hasattr(matcher, "match_probability"):
            raise TypeError("matcher must have a match_probability method, e.g. a "
                            "kerasmm.tasks.ImageTextMatcher. Received: matcher of type "
                            f"{type(matcher).__name__}")
        if np.ndim(indices) not in (1, 2):
            raise ValueError("indices must have shape (k,) or (num_queries, k). "
                             f"Received: indices with shape {np.shape(indices)}")
        single = np.ndim(indices) == 1
        indices = np.atleast_2d(np.asarray(indices, "int64"))
        texts, images = (queries, candidates) if isinstance(queries, dict) else (
            candidates, queries)
        num_queries, k = indices.shape
        query_rows = np.repeat(np.arange(num_queries), k)
        if isinstance(queries, dict):
            text_rows, image_rows = query_rows, indices.reshape(-1)
        else:
            text_rows, image_rows = indices.reshape(-1), query_rows
        probabilities = []
        for start in range(0, len(query_rows), self.batch_size):
            rows = slice(start, start + self.batch_size)
            batch = {name: np.asarray(value)[text_rows[rows]] for name, value in
                     texts.items()}
            batch["images"] = np.asarray(images)[image_rows[rows]]
            probabilities.append(np.asarray(matcher.match_probability(batch)))
        probabilities = np.concatenate(probabilities).reshape(num_queries, k)
        order = np.argsort(-probabilities, axis=1, kind="stable")
        indices = np.take_along_axis(indices, order, axis=1)
        probabilities = np.take_along_axis(probabilities, order, axis=1).astype("float32")
        return (indices[0], probabilities[0]) if single else (indices, probabilities)

    # === Evaluation ===

    def evaluate(self, images, captions, text_to_image=None, ks=(1, 5, 10),
                 chunk_size=1024):
        """Recall@K, image->text and text->image, over a whole split.

        Args:
            images: image array `(N, H, W, C)` or a dataset of image batches.
            captions: strings or token ids `(M, L)`.
            text_to_image: int `(M,)`, the image of each caption; `None`
                means caption `i` describes image `i`.
            ks: the K values.
            chunk_size: queries per chunk of the similarity computation.

        Returns:
            dict `{"i2t_recall@1": ..., "t2i_recall@1": ..., ...}`.
        """
        image_embeddings = self.encode_images(images)
        text_embeddings = self.encode_texts(captions)
        if not len(image_embeddings) or not len(text_embeddings):
            raise ValueError(
                "evaluate needs at least one image and one caption: recall over "
                f"nothing is undefined. Received: {len(image_embeddings)} images, "
                f"{len(text_embeddings)} captions")
        return retrieval_recall(image_embeddings, text_embeddings,
                                text_to_image=text_to_image, ks=ks,
                                chunk_size=chunk_size)
