"""The `kerasmm search serve` web app: a search page and a JSON API over a `SearchIndex`.

    GET /                        the page: a search box and result thumbnails
                                 (click one to search by it)
    GET /api/search?q=TEXT&k=5   {"results": [{"path", "score"}, ...]}, best first
    GET /api/search?image=PATH   the same, for an indexed image (its relative path)
    GET /api/info                {"root", "preset", "images"}
    GET /thumbs/PATH             a JPEG thumbnail of an indexed image
    GET /files/PATH              an indexed image file as it is

Bad parameters get a 4xx JSON `{"error": message}`. Only the indexed images
are served, and only from inside the indexed folder; every other path is a
404. Bound to this machine, it answers only requests addressed to a loopback
name (`Host: 127.0.0.1` or `localhost`), so a web page the browser visits
cannot read the photos through DNS rebinding. Starlette runs these (plain, not async) endpoints in a thread pool;
one lock keeps the model to one query at a time.
"""

import os
import threading

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import FileResponse
from starlette.responses import HTMLResponse
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import Route

from kerasmm.app.search_images import READ_ERRORS
from kerasmm.app.search_images import inside
from kerasmm.app.search_images import thumbnail_jpeg

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static", "search.html")
DEFAULT_K = 5
MAX_QUERY_CHARS = 1000
THUMBNAIL_SIZE = 256
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class HTTPError(Exception):
    """A 4xx answer: its status and message become the JSON response."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def parse_k(text):
    """The `k` parameter as a positive int; an `HTTPError` (400) otherwise."""
    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 1:
        raise HTTPError(400, f"k must be a positive integer. Received: k={text!r}")
    return k


def search_parameters(params):
    """`(text, image, k)` of a `/api/search` query string (a mapping)."""
    unknown = sorted(set(params) - {"q", "image", "k"})
    if unknown:
        raise HTTPError(400, f"unknown parameter(s) {unknown}: use q (text) or image "
                             "(an indexed path), and k")
    text, image = params.get("q"), params.get("image")
    if (text is None) == (image is None):
        raise HTTPError(400, "give exactly one of q (a text query) and image (an indexed "
                             f"image's path). Received: q={text!r}, image={image!r}")
    if text is not None and not text.strip():
        raise HTTPError(400, f"q must be a non-empty text. Received: q={text!r}")
    if text is not None and len(text) > MAX_QUERY_CHARS:
        raise HTTPError(400, f"q must be at most {MAX_QUERY_CHARS} characters. "
                             f"Received: {len(text)} characters")
    return text, image, parse_k(params.get("k", str(DEFAULT_K)))


def search_app(engine, index, allowed_hosts=LOOPBACK_HOSTS):
    """The Starlette app serving `index`, with `engine` (loaded once) for queries.

    Args:
        engine: a `kerasmm.app.search_engine.SearchEngine`, the index's model.
        index: a `kerasmm.app.search_index.SearchIndex`.
        allowed_hosts: the `Host` names it answers (others get a 400);
            `("*",)` for any.
    """
    engine.check_index(index)
    lock = threading.Lock()
    with open(PAGE, encoding="utf-8") as f:
        page = f.read()

    def indexed_file(request):
        relative = request.path_params["path"]
        path = index.file_path(relative)
        if path is None or not inside(index.root, path) or not os.path.isfile(path):
            raise HTTPError(404, f"{relative!r} is not an indexed image")
        return path

    def home(request):
        return HTMLResponse(page)

    def info(request):
        return JSONResponse({"root": index.root, "preset": index.preset,
                             "images": len(index)})

    def search(request):
        text, image, k = search_parameters(request.query_params)
        if image is not None:
            image = index.file_path(image)
            if image is None:
                raise HTTPError(404, "image must be the path of an indexed image. "
                                     f"Received: image={request.query_params['image']!r}")
        try:
            with lock:
                query = engine.query_embedding(text=text, image=image, index=index)
        except READ_ERRORS as error:
            raise HTTPError(404, f"the image can no longer be read: {error}") from None
        return JSONResponse({"results": index.search(query, k)})

    def thumbnail(request):
        try:
            data = thumbnail_jpeg(indexed_file(request), THUMBNAIL_SIZE)
        except READ_ERRORS as error:
            raise HTTPError(404, f"the image can no longer be read: {error}") from None
        return Response(data, media_type="image/jpeg")

    def original(request):
        return FileResponse(indexed_file(request))

    def http_error(request, error):
        return JSONResponse({"error": str(error)}, status_code=error.status)

    return Starlette(
        routes=[Route("/", home), Route("/api/info", info), Route("/api/search", search),
                Route("/thumbs/{path:path}", thumbnail),
                Route("/files/{path:path}", original)],
        exception_handlers={HTTPError: http_error},
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))])


def serve(engine, index, host="127.0.0.1", port=8765):
    """Serves `search_app(engine, index)` with uvicorn until interrupted."""
    import uvicorn

    # Bound to another address, it is reached by names this cannot know.
    app = search_app(engine, index,
                     LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else ("*",))
    print(f"Serving {len(index)} images of {index.root} on http://{host}:{port}/ "
          "(Ctrl+C stops)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
