"""The search web app over HTTP (uvicorn in a thread): ranking, errors, files served."""

import http.client
import io
import json
import os
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import cli_ranking
from PIL import Image


def get(url):
    """`(status, content type, body bytes)` of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def api(server, **params):
    status, kind, body = get(f"{server}/api/search?{urllib.parse.urlencode(params)}")
    assert kind == "application/json"
    return status, json.loads(body)


def raw_get(server, path, headers=None):
    """The status of a GET of `path` sent as is (no client-side `..` removal)."""
    host, port = urllib.parse.urlsplit(server).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("GET", path, headers=headers or {})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("query", ["a red circle", "two blue squares", "a star"])
def test_http_ranking_is_the_command_lines(server, index_dir, capsys, query):
    status, body = api(server, q=query, k=8)
    assert status == 200
    assert body == {"results": cli_ranking(capsys, index_dir, query, "--k", "8")}


def test_image_query_by_indexed_path_is_the_command_lines(server, index_dir, photos,
                                                           capsys):
    status, body = api(server, image="trip/day 2/shape_0005.png", k=6)
    assert status == 200 and body["results"][0]["path"] == "trip/day 2/shape_0005.png"
    path = os.path.join(photos[0], "trip", "day 2", "shape_0005.png")
    assert body == {"results": cli_ranking(capsys, index_dir, "--image", path, "--k", "6")}


@pytest.mark.parametrize("params, status, message", [
    ({"q": "a cat", "k": "0"}, 400, "k must be a positive integer"),
    ({"q": "a cat", "k": "ten"}, 400, "k must be a positive integer"),
    ({"k": "3"}, 400, "give exactly one of q"),
    ({"q": "a cat", "image": "shape_0000.png"}, 400, "give exactly one of q"),
    ({"q": "   "}, 400, "q must be a non-empty text"),
    ({"q": "x" * 1001}, 400, "at most 1000 characters"),
    ({"q": "a cat", "size": "9"}, 400, "unknown parameter"),
    ({"image": "not/indexed.png"}, 404, "image must be the path of an indexed image"),
    ({"image": "../photos/shape_0000.png"}, 404, "indexed image"),
])
def test_bad_parameters_get_4xx_json_with_a_message(server, params, status, message):
    got, body = api(server, **params)
    assert got == status and message in body["error"]


def test_default_k_and_k_above_the_index_size(server, index_dir):
    assert len(api(server, q="a cat")[1]["results"]) == 5
    info = json.loads(get(f"{server}/api/info")[2])
    assert len(api(server, q="a cat", k=100_000)[1]["results"]) == info["images"]


def test_serves_indexed_images_and_their_thumbnails(server):
    status, kind, body = get(f"{server}/files/trip/day%202/shape_0002.png")
    assert (status, kind) == (200, "image/png")
    assert Image.open(io.BytesIO(body)).size == (64, 64)
    status, kind, body = get(f"{server}/thumbs/camera/rotated_6.jpg")
    assert (status, kind) == (200, "image/jpeg")
    assert Image.open(io.BytesIO(body)).size == (24, 48)  # upright
    status, kind, body = get(f"{server}/")
    assert status == 200 and kind.startswith("text/html") and b'id="query"' in body


def test_only_indexed_files_inside_the_folder_are_served(server, photos):
    root, _ = photos
    secret = os.path.join(os.path.dirname(root), "secret.txt")
    with open(secret, "w") as f:
        f.write("not for the web\n")
    os.symlink(secret, os.path.join(root, "link.png"))  # a link out, not indexed
    try:
        for path in ("/files/../secret.txt", "/files/%2e%2e/secret.txt",
                     "/files/..%2fsecret.txt", "/thumbs/../secret.txt",
                     "/files/trip/../../secret.txt", "/files//etc/passwd",
                     f"/files/{secret}", "/files/notes.txt", "/files/link.png",
                     "/files/camera/corrupt.jpg", "/thumbs/camera/corrupt.jpg"):
            assert raw_get(server, path) in (403, 404), path
    finally:
        os.remove(os.path.join(root, "link.png"))


def test_requests_for_another_host_name_are_refused(server):
    port = urllib.parse.urlsplit(server).port
    assert raw_get(server, "/api/info", {"Host": f"localhost:{port}"}) == 200
    # A page on attacker.example whose name was rebound to 127.0.0.1.
    assert raw_get(server, "/api/info", {"Host": f"attacker.example:{port}"}) == 400
    assert raw_get(server, "/files/shape_0000.png", {"Host": "attacker.example"}) == 400
