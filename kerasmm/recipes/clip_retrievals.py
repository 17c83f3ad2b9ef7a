"""The CLIP demo's picture: text queries and the test images they find."""

import numpy as np

from kerasmm import datasets
from kerasmm import plotting
from kerasmm.tasks import Retriever


def query_matches(query, data, index):
    """Whether test scene `index` of `data` holds every "colour shape" of `query`.

    Args:
        query: str, e.g. `"a blue cross above a yellow circle"`.
        data: `load_test_split(config)` (its `colors` and `shapes` arrays).
        index: int, a scene of `data`.
    """
    words = query.split()
    wanted = [(datasets.COLORS.index(w), datasets.SHAPES.index(words[i + 1]))
              for i, w in enumerate(words[:-1])
              if w in datasets.COLORS and words[i + 1] in datasets.SHAPES]
    present = set(zip(data["colors"][index].tolist(), data["shapes"][index].tolist()))
    return all(pair in present for pair in wanted)


def save_retrievals(clip, test_data, path, config, tokenizer=None):
    """Searches the test images for each of `config.retrieval_queries`; saves the grid.

    Each query shows its `config.retrieval_k` best images, marked by
    whether the scene really holds what the query names (`query_matches`).

    Returns:
        The path written (`kerasmm.plotting.save_retrieval_png`).
    """
    queries = list(config.retrieval_queries)
    retriever = Retriever(clip, tokenizer or datasets.shapes_tokenizer(),
                          batch_size=config.eval_batch_size)
    retriever.index_images(test_data["inputs"])
    k = min(config.retrieval_k, len(test_data["inputs"]))
    indices, scores = retriever.search_text(queries, k=k)
    matches = np.array([[query_matches(q, test_data, i) for i in row]
                        for q, row in zip(queries, indices)])
    return plotting.save_retrieval_png(
        path, queries, test_data["images"], indices, scores, matches,
        title=f"The demo CLIP's top {k} test images for each query, best first")
