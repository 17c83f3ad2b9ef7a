"""`kerasmm search index|query|serve` from the command line (run in this process)."""

import json
import os
import shutil

import pytest
from conftest import NUM_PNGS
from conftest import cli_ranking
from conftest import run_cli

from kerasmm.app.search_index import SearchIndex
from kerasmm.cli import build_parser


@pytest.mark.slow  # ~10 s on TensorFlow, ~40 s on JAX: three model loads, index, queries.
def test_index_then_query_from_the_command_line(small_photos, tmp_path, capsys):
    index_dir = str(tmp_path / "index")
    status, out, err = run_cli(capsys, "index", small_photos, "--index", index_dir,
                               "--json")
    assert status == 0, err
    counts = json.loads(out.splitlines()[-1])
    assert counts["added"] == counts["images"] == 12 and counts["unreadable"] == 0
    assert "12 added, 0 updated, 0 removed, 0 unchanged" in out
    assert "image" in out.splitlines()[0]  # the progress bar's line

    results = cli_ranking(capsys, index_dir, "a red circle", "--k", "4")
    assert len(results) == 4 and set(results[0]) == {"path", "score"}
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    # The ranking of the index and model, computed here.
    from kerasmm.app.search_engine import SearchEngine

    index = SearchIndex.load(index_dir)
    engine = SearchEngine.from_preset(index.preset)
    assert results == index.search(engine.encode_text("a red circle"), 4)

    status, out, _ = run_cli(capsys, "query", index_dir, "a red circle", "--k", "2")
    assert status == 0 and out.splitlines()[0].startswith("Top 2 of 12 images")
    assert [line.split(maxsplit=2)[2] for line in out.splitlines()[1:]] == \
        [r["path"] for r in results[:2]]

    # Re-running adds only what changed: here, nothing.
    status, out, _ = run_cli(capsys, "index", small_photos, "--index", index_dir, "--json")
    assert status == 0 and json.loads(out.splitlines()[-1])["unchanged"] == 12


@pytest.mark.slow  # Encodes the few hundred images again through the command.
def test_index_lists_and_skips_the_unreadable_file(photos, index_dir, tmp_path, capsys):
    root, _ = photos
    status, out, err = run_cli(capsys, "index", root, "--index", str(tmp_path / "i"),
                               "--json", "--batch-size", "64")
    assert status == 0, err
    counts = json.loads(out.splitlines()[-1])
    assert counts["images"] == counts["added"] == NUM_PNGS + 4
    assert [f["path"] for f in counts["unreadable_files"]] == ["camera/corrupt.jpg"]
    assert "Skipped 1 unreadable file(s):\n  camera/corrupt.jpg: " in out
    # The same embeddings as the index built with the engine (batch size 32).
    ours, theirs = SearchIndex.load(str(tmp_path / "i")), SearchIndex.load(index_dir)
    assert ours.paths == theirs.paths
    assert abs(ours.embeddings - theirs.embeddings).max() < 1e-5


def test_query_by_example_image(photos, index_dir, tmp_path, capsys):
    root, _ = photos
    original = os.path.join(root, "camera", "rotated_6.jpg")
    results = cli_ranking(capsys, index_dir, "--image", original, "--k", "3")
    assert results[0]["path"] == "camera/rotated_6.jpg"
    assert results[0]["score"] == pytest.approx(1.0, abs=1e-5)
    # A copy outside the folder is read and encoded afresh: the same image.
    copy = str(tmp_path / "copy.jpg")
    shutil.copyfile(original, copy)
    again = cli_ranking(capsys, index_dir, "--image", copy, "--k", "3")
    assert [r["path"] for r in again] == [r["path"] for r in results]
    assert again[0]["score"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("argv, message", [
    (("query", "{index}"), "give a text query or --image FILE"),
    (("query", "{index}", "a cat", "--image", "x.png"), "give a text query or --image"),
    (("query", "{index}", "--image", "{missing}"), "No such file"),
    (("query", "{missing}", "a cat"), "holds no index.json"),
    (("index", "{missing}", "--index", "{missing}"), "photos must be an existing folder"),
])
def test_bad_queries_exit_2_with_a_message(argv, message, index_dir, tmp_path, capsys):
    argv = [a.format(index=index_dir, missing=str(tmp_path / "missing")) for a in argv]
    status, _, err = run_cli(capsys, *argv)
    assert status == 2 and message in err and err.startswith("kerasmm search")


@pytest.mark.parametrize("argv", [
    ("query", "i", "a cat", "--k", "0"),
    ("query", "i", "a cat", "--k", "two"),
    ("serve", "i", "--port", "70000"),
    ("index", "photos"),  # --index is required
])
def test_bad_arguments_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["search", *argv])
    assert exit_info.value.code == 2


def test_serve_binds_to_this_machine_by_default():
    args = build_parser().parse_args(["search", "serve", "index"])
    assert (args.host, args.port) == ("127.0.0.1", 8765)


def test_serve_loads_the_model_once_and_serves_the_index(index_dir, monkeypatch, capsys):
    import uvicorn
    from starlette.applications import Starlette

    from kerasmm.app import search_engine

    served, loads = [], []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append((app, kwargs)))
    from_preset = search_engine.SearchEngine.from_preset.__func__
    monkeypatch.setattr(search_engine.SearchEngine, "from_preset", classmethod(
        lambda cls, *args, **kwargs: loads.append(args) or from_preset(cls, *args, **kwargs)))
    status, out, err = run_cli(capsys, "serve", index_dir, "--port", "8799")
    assert status == 0, err
    assert loads == [("shapes_clip_tiny",)]
    (app, kwargs), = served
    assert isinstance(app, Starlette)
    assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1", 8799)
    assert "on http://127.0.0.1:8799/" in out


def test_serve_without_the_app_extra_says_how_to_install_it(index_dir, monkeypatch,
                                                            capsys):
    import sys

    monkeypatch.delitem(sys.modules, "kerasmm.app.search_server", raising=False)
    for name in [m for m in sys.modules if m.split(".")[0] == "starlette"] + ["starlette"]:
        monkeypatch.setitem(sys.modules, name, None)
    status, _, err = run_cli(capsys, "serve", index_dir)
    assert status == 2 and 'pip install "kerasmm[app]"' in err and "starlette" in err
