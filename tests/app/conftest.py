"""Fixtures of the `kerasmm search` tests: a generated photo folder, its index, a server."""

import json
import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

from kerasmm.cli import main

NUM_PNGS = 300
PRESET = "shapes_clip_tiny"
ORIENTATION = 0x0112  # The EXIF tag.


def write_photos(root, num_pngs=NUM_PNGS):
    """A photo folder: `num_pngs` shapes PNGs (64x64) over three subfolders,
    three JPEGs carrying EXIF orientations, a WebP, a corrupt JPEG and a
    text file. Returns the generated shapes split (its images are the PNGs')."""
    from kerasmm.datasets import generate_shapes

    data = generate_shapes("test", num_examples=num_pngs, image_size=64)
    for i, image in enumerate(data["images"]):
        folder = os.path.join(root, ("", "trip", "trip/day 2")[i % 3])
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(image).save(os.path.join(folder, f"shape_{i:04d}.png"))
    for orientation in (3, 6, 8):
        write_oriented_jpeg(os.path.join(root, "camera", f"rotated_{orientation}.jpg"),
                            orientation)
    Image.fromarray(data["images"][0]).save(os.path.join(root, "camera", "still.webp"))
    with open(os.path.join(root, "camera", "corrupt.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not really a JPEG")
    with open(os.path.join(root, "notes.txt"), "w") as f:
        f.write("not an image\n")
    return data


def two_colour_image(width=48, height=24):
    """uint8 `(height, width, 3)`: the left half red, the right half blue."""
    pixels = np.zeros((height, width, 3), "uint8")
    pixels[:, :width // 2, 0] = 255
    pixels[:, width // 2:, 2] = 255
    return pixels


def write_oriented_jpeg(path, orientation):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    Image.fromarray(two_colour_image()).save(path, quality=95, exif=exif.tobytes())


def run_cli(capsys, *argv):
    """`(exit status, stdout, stderr)` of `kerasmm search ...` run in this process."""
    capsys.readouterr()
    status = main(["search", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def cli_ranking(capsys, index_dir, *query):
    """The JSON ranking `kerasmm search query INDEX ... --json` prints."""
    status, out, err = run_cli(capsys, "query", index_dir, *query, "--json")
    assert status == 0, err
    return json.loads(out)


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """`(photo folder, shapes data)`, shared by the tests that do not change it."""
    root = str(tmp_path_factory.mktemp("search") / "photos")
    data = write_photos(root)
    return root, data


@pytest.fixture(scope="session")
def engine():
    from kerasmm.app.search_engine import SearchEngine

    return SearchEngine.from_preset(PRESET)


@pytest.fixture(scope="session")
def index_dir(photos, engine, tmp_path_factory):
    """An index of `photos`, built and saved once."""
    directory = str(tmp_path_factory.mktemp("search") / "index")
    index, _ = engine.update_index(photos[0], verbose=0)
    index.save(directory)
    return directory


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(index_dir, engine):
    """The base URL of `search_app` over `index_dir`, served by uvicorn in a thread."""
    import uvicorn

    from kerasmm.app.search_index import SearchIndex
    from kerasmm.app.search_server import search_app

    app = search_app(engine, SearchIndex.load(index_dir))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def small_photos(tmp_path):
    """A folder of 12 shapes PNGs a test may change."""
    root = str(tmp_path / "small")
    write_photos(root, num_pngs=12)
    shutil.rmtree(os.path.join(root, "camera"))
    return root
