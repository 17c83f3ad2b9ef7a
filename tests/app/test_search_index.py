"""The search index: listing, reading, encoding, updating and storing a photo folder."""

import json
import os

import numpy as np
import pytest
from conftest import NUM_PNGS
from conftest import two_colour_image
from conftest import write_oriented_jpeg
from PIL import Image

from kerasmm.app.search_engine import SearchEngine
from kerasmm.app.search_engine import model_fingerprint
from kerasmm.app.search_images import list_images
from kerasmm.app.search_images import read_image
from kerasmm.app.search_index import EMBEDDINGS_FILE
from kerasmm.app.search_index import INDEX_FILE
from kerasmm.app.search_index import SearchIndex
from kerasmm.app.search_index import rank


def test_list_images_finds_images_at_any_depth_and_nothing_else(photos, tmp_path):
    root, _ = photos
    paths = list_images(root)
    assert len(paths) == NUM_PNGS + 5  # 3 rotated JPEGs, a WebP, the corrupt JPEG
    assert paths == sorted(paths) and "notes.txt" not in paths
    assert "trip/day 2/shape_0002.png" in paths and "camera/still.webp" in paths
    # Links leading out of the folder and hidden files are left out.
    outside = tmp_path / "outside.png"
    Image.new("RGB", (4, 4)).save(outside)
    folder = tmp_path / "linked"
    folder.mkdir()
    os.symlink(outside, folder / "link.png")
    Image.new("RGB", (4, 4)).save(folder / ".hidden.png")
    Image.new("RGB", (4, 4)).save(folder / "kept.PNG")
    assert list_images(str(folder)) == ["kept.PNG"]


@pytest.mark.parametrize("orientation, top_left, bottom_right", [
    (1, "red", "blue"),  # as stored: left half red
    (3, "blue", "red"),  # rotated 180 degrees
    (6, "red", "blue"),  # rotated 90 degrees clockwise: the left half goes on top
    (8, "blue", "red"),  # rotated 90 degrees counter-clockwise
])
def test_read_image_applies_the_exif_orientation(tmp_path, orientation, top_left,
                                                  bottom_right):
    path = str(tmp_path / "photo.jpg")
    write_oriented_jpeg(path, orientation)
    pixels = read_image(path)
    height, width = two_colour_image().shape[:2]
    assert pixels.shape == ((height, width, 3) if orientation in (1, 3) else
                            (width, height, 3))
    colours = {"red": np.array([255, 0, 0]), "blue": np.array([0, 0, 255])}
    assert np.abs(pixels[1, 1].astype(int) - colours[top_left]).max() < 40
    assert np.abs(pixels[-2, -2].astype(int) - colours[bottom_right]).max() < 40


def test_index_holds_the_models_embeddings_of_the_pixels(photos, index_dir, engine):
    root, data = photos
    index = SearchIndex.load(index_dir)
    assert len(index) == NUM_PNGS + 4  # the corrupt JPEG is not
    assert [item["path"] for item in index.unreadable] == ["camera/corrupt.jpg"]
    assert index.preset == "shapes_clip_tiny" and index.root == root
    assert index.model_hash == engine.model_hash
    # Independently: the generated pixels (PNG is lossless) through the
    # preprocessor and encode_image in one batch.
    pixels = engine.preprocessor({"images": data["images"][:40]})["images"]
    expected = np.asarray(engine.model.encode_image(np.asarray(pixels)))
    rows = [index.rows[f"{('', 'trip/', 'trip/day 2/')[i % 3]}shape_{i:04d}.png"]
            for i in range(40)]
    np.testing.assert_allclose(index.embeddings[rows], expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(index.embeddings, axis=1), 1.0, atol=1e-5)


def test_search_ranks_by_cosine_similarity(index_dir, engine):
    index = SearchIndex.load(index_dir)
    query = engine.encode_text("a green triangle")
    results = index.search(query, k=7)
    scores = index.embeddings.astype("float64") @ query.astype("float64")
    best = np.argsort(-scores, kind="stable")[:7]
    assert [r["path"] for r in results] == [index.paths[i] for i in best]
    np.testing.assert_allclose([r["score"] for r in results], scores[best], atol=1e-5)
    assert len(index.search(query, k=10_000)) == len(index)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        index.search(query, k=0)


def test_reindex_encodes_only_new_and_changed_images(small_photos, engine, tmp_path):
    index, summary = engine.update_index(small_photos, verbose=0)
    assert len(summary["added"]) == 12 and not summary["unchanged"]
    index.save(str(tmp_path / "index"))
    before = SearchIndex.load(str(tmp_path / "index"))

    os.remove(os.path.join(small_photos, "shape_0000.png"))
    changed = os.path.join(small_photos, "trip", "shape_0001.png")
    Image.fromarray(np.full((64, 64, 3), 200, "uint8")).save(changed)
    Image.fromarray(np.zeros((50, 70, 3), "uint8")).save(
        os.path.join(small_photos, "trip", "new.png"))
    calls = []
    encode_files = engine.encode_files
    engine.encode_files = lambda root, paths, verbose: calls.append(paths) or \
        encode_files(root, paths, verbose)
    try:
        after, summary = engine.update_index(small_photos, before, verbose=0)
    finally:
        del engine.encode_files
    assert calls == [["trip/new.png", "trip/shape_0001.png"]]
    assert summary["added"] == ["trip/new.png"]
    assert summary["updated"] == ["trip/shape_0001.png"]
    assert summary["removed"] == ["shape_0000.png"]
    assert len(summary["unchanged"]) == 10 and len(after) == 12
    for path in summary["unchanged"]:  # Reused bit for bit.
        assert np.array_equal(after.embeddings[after.rows[path]],
                              before.embeddings[before.rows[path]])
    np.testing.assert_allclose(after.embeddings[after.rows["trip/shape_0001.png"]],
                               engine.encode_file(changed), atol=1e-5)
    # Nothing changed since: nothing to encode.
    _, summary = engine.update_index(small_photos, after, verbose=0)
    assert len(summary["unchanged"]) == 12 and not summary["added"] + summary["updated"]


def test_index_refuses_another_folder_or_model(small_photos, engine, tmp_path):
    index, _ = engine.update_index(small_photos, verbose=0)
    with pytest.raises(ValueError, match="holds the photos of"):
        engine.update_index(str(tmp_path), index, verbose=0)
    other = SearchIndex(index.root, index.preset, "f" * 64, index.images, index.embeddings)
    with pytest.raises(ValueError, match="other weights"):
        engine.update_index(small_photos, other, verbose=0)
    with pytest.raises(ValueError, match="photos must be an existing folder"):
        engine.update_index(str(tmp_path / "missing"), verbose=0)


def test_load_refuses_an_embeddings_file_of_another_version(small_photos, engine,
                                                             tmp_path):
    index, _ = engine.update_index(small_photos, verbose=0)
    directory = str(tmp_path / "index")
    index.save(directory)
    with open(os.path.join(directory, INDEX_FILE)) as f:
        data = json.load(f)
    assert data["images"][0] == {"path": index.paths[0], **{
        key: index.images[0][key] for key in ("size", "mtime_ns")}}
    np.save(os.path.join(directory, EMBEDDINGS_FILE), index.embeddings * 0.5)
    with pytest.raises(ValueError, match="interrupted update"):
        SearchIndex.load(directory)
    with pytest.raises(ValueError, match="holds no index.json"):
        SearchIndex.load(str(tmp_path))


def test_model_fingerprint_follows_the_weights_not_the_layer_names(engine):
    again = SearchEngine.from_preset("shapes_clip_tiny")  # other layer numbers
    assert again.model_hash == engine.model_hash
    weight = again.model.weights[-1]
    weight.assign(weight.numpy() + 1e-3)
    assert model_fingerprint(again.model) != engine.model_hash


def test_query_by_an_indexed_image_uses_its_stored_embedding(photos, index_dir, engine):
    root, _ = photos
    index = SearchIndex.load(index_dir)
    path = os.path.join(root, "trip", "shape_0001.png")
    stored = engine.query_embedding(image=path, index=index)
    assert np.array_equal(stored, index.embeddings[index.rows["trip/shape_0001.png"]])
    np.testing.assert_allclose(stored, engine.encode_file(path), atol=1e-5)
    assert index.search(stored, k=1) == [{"path": "trip/shape_0001.png",
                                          "score": pytest.approx(1.0, abs=1e-5)}]
    with pytest.raises(ValueError, match="not both and not neither"):
        engine.query_embedding(text="a", image=path)
    with pytest.raises(ValueError, match="non-empty string"):
        engine.query_embedding(text="  ")


@pytest.mark.parametrize("k", [1, 3, 4, 9, 40])
def test_rank_is_a_stable_full_sort_cut_at_k(k):
    rng = np.random.default_rng(k)
    # Many exact ties, also across the cut at k.
    embeddings = rng.integers(-2, 3, size=(40, 4)).astype("float32")
    query = np.array([1, 0.5, 0, -1], "float32")
    order, scores = rank(embeddings, query, k)
    full = embeddings @ query
    expected = np.argsort(-full, kind="stable")[:k]
    assert order.tolist() == expected.tolist()
    np.testing.assert_array_equal(scores, full[expected])


@pytest.mark.slow  # ~15 s: the Hugging Face checkpoint is converted on load.
def test_a_siglip_preset_indexes_with_its_own_preprocessor(small_photos):
    from kerasmm.models import SigLIP
    from kerasmm.models import SigLIPPreprocessor

    fixture = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "fixtures", "hf_siglip")  # a tiny Hugging Face checkpoint
    engine = SearchEngine.from_preset(fixture, batch_size=8)
    assert isinstance(engine.model, SigLIP)
    assert isinstance(engine.preprocessor, SigLIPPreprocessor)
    index, _ = engine.update_index(small_photos, verbose=0)
    assert index.preset == fixture and len(index) == 12
    pixels = np.stack([read_image(os.path.join(small_photos, p)) for p in index.paths])
    expected = engine.model.encode_image(
        np.asarray(engine.preprocessor({"images": pixels})["images"]))
    np.testing.assert_allclose(index.embeddings, np.asarray(expected), atol=1e-5)
    results = index.search(engine.encode_text("a red circle"), k=3)
    assert len(results) == 3 and results[0]["score"] >= results[-1]["score"]
