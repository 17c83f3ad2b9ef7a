"""The demo's retrieval picture (`clip_retrievals`)."""

from kerasmm import datasets
from kerasmm import plotting
from kerasmm.recipes import ClipDemoConfig
from kerasmm.recipes import build_demo_clip
from kerasmm.recipes import load_test_split
from kerasmm.recipes import query_matches
from kerasmm.recipes import save_retrievals


def test_query_matches_reads_the_scene():
    test = load_test_split(ClipDemoConfig(num_test=60))
    for index in range(60):
        color, shape = test["colors"][index, 0], test["shapes"][index, 0]
        query = f"a {datasets.COLORS[color]} {datasets.SHAPES[shape]}"
        assert query_matches(query, test, index)
        present = set(zip(test["colors"][index], test["shapes"][index]))
        absent = [(c, s) for c in range(len(datasets.COLORS))
                  for s in range(len(datasets.SHAPES)) if (c, s) not in present][0]
        query = f"a {datasets.COLORS[absent[0]]} {datasets.SHAPES[absent[1]]}"
        assert not query_matches(query, test, index)


def test_save_retrievals_writes_a_png_of_the_config_queries(tmp_path, monkeypatch):
    config = ClipDemoConfig(num_test=12, retrieval_queries=("a red circle", "a blue square"),
                            retrieval_k=3)
    seen = {}
    real = plotting.save_retrieval_png

    def spy(path, queries, images, indices, scores, matches, **kwargs):
        seen.update(queries=queries, shape=indices.shape, matches=matches.shape)
        return real(path, queries, images, indices, scores, matches, **kwargs)

    monkeypatch.setattr(plotting, "save_retrieval_png", spy)
    test = load_test_split(config)
    png = save_retrievals(build_demo_clip(config), test, str(tmp_path / "r.png"), config)
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert seen == {"queries": list(config.retrieval_queries), "shape": (2, 3),
                    "matches": (2, 3)}
