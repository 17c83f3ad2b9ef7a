"""`kerasmm search`: text-to-image and image-to-image search over a photo folder.

    kerasmm search index PHOTOS --index INDEX [--preset NAME|DIR] [--rebuild]
    kerasmm search query INDEX "a dog on the beach" [--k 5] [--json]
    kerasmm search query INDEX --image FILE [--k 5] [--json]
    kerasmm search serve INDEX [--port 8765] [--host 127.0.0.1]

`index` encodes the images under PHOTOS (jpg, jpeg, png, webp, at any
depth) with a contrastive preset and writes the index folder; run again, it
encodes only new and changed images and drops deleted ones. `query` ranks
the indexed images by a text or an example image; `serve` (needs
`pip install "kerasmm[app]"`) serves a search page and a JSON API.

Nothing heavy is imported here: the model and TensorFlow load inside the
handlers.
"""

import argparse
import json
import os
import sys

DEFAULT_PRESET = "shapes_clip_tiny"  # the shipped tiny CLIP: works offline
APP_MODULES = ("PIL", "starlette", "uvicorn")  # the app extra's


def _count(text):
    """argparse type: an int >= 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, received {text!r}")
    return int(text)


def _port(text):
    """argparse type: a TCP port, 0 (any free one) to 65535."""
    if not text.strip().isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port in [0, 65535], received {text!r}")
    return int(text)


def add_parser(commands):
    """Adds `kerasmm search` and its three sub-commands to `commands`."""
    search = commands.add_parser(
        "search", help="search a photo folder by text or by example image",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="\n\n".join(__doc__.split("\n\n")[1:3]))
    actions = search.add_subparsers(dest="action", metavar="action")
    actions.required = True

    index = actions.add_parser(
        "index", help="encode a photo folder into a search index (only what changed)")
    index.add_argument("photos", help="the folder of images (searched at any depth)")
    index.add_argument("--index", required=True,
                       help="the index folder to write (index.json, embeddings.npy)")
    index.add_argument("--preset", default=None,
                       help="a CLIP or SigLIP preset name, directory or hf://org/repo "
                            f"(default: the index's own, else {DEFAULT_PRESET})")
    index.add_argument("--batch-size", type=_count, default=32,
                       help="images per encoding batch (default 32)")
    index.add_argument("--rebuild", action="store_true",
                       help="encode every image again, replacing the index (needed to "
                            "change its preset or photo folder)")
    index.add_argument("--json", action="store_true",
                       help="end stdout with one JSON line: the counts and unreadable files")
    index.set_defaults(handler=run_index)

    query = actions.add_parser("query", help="rank the indexed images for a text or image")
    query.add_argument("index", help="an index folder written by `kerasmm search index`")
    query.add_argument("text", nargs="?", default=None, help="the text query")
    query.add_argument("--image", default=None, help="search by this image file instead")
    query.add_argument("--k", type=_count, default=5, help="number of results (default 5)")
    query.add_argument("--json", action="store_true",
                       help='print only a JSON list of {"path", "score"}, best first')
    query.set_defaults(handler=run_query)

    serve = actions.add_parser(
        "serve", help="a local search page and JSON API (pip install 'kerasmm[app]')")
    serve.add_argument("index", help="an index folder written by `kerasmm search index`")
    serve.add_argument("--port", type=_port, default=8765, help="TCP port (default 8765)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1: this machine only)")
    serve.set_defaults(handler=run_serve)


def _fail(action, error):
    print(f"kerasmm search {action}: error: {error}", file=sys.stderr, flush=True)
    return 2


def _app_import(action, module):
    """`importlib.import_module(module)`; None (and the fix printed) if the
    app extra is not installed."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in APP_MODULES:
            raise
        _fail(action, f"{error}: install the app's dependencies with "
                      "pip install \"kerasmm[app]\"")
        return None


def run_index(args):
    if _app_import("index", "kerasmm.app.search_engine") is None:
        return 2
    from kerasmm.app.search_engine import SearchEngine
    from kerasmm.app.search_index import INDEX_FILE
    from kerasmm.app.search_index import SearchIndex

    try:
        previous = None
        if not args.rebuild and os.path.isfile(os.path.join(args.index, INDEX_FILE)):
            previous = SearchIndex.load(args.index)
        preset = args.preset or (previous.preset if previous else DEFAULT_PRESET)
        engine = SearchEngine.from_preset(preset, batch_size=args.batch_size)
        index, summary = engine.update_index(
            args.photos, previous, verbose=1 if sys.stdout.isatty() else 2)
    except ValueError as error:
        return _fail("index", error)
    index.save(args.index)
    counts = {key: len(value) for key, value in summary.items()}
    print(f"Indexed {len(index)} images of {index.root} into {args.index} (preset "
          f"{index.preset}): {counts['added']} added, {counts['updated']} updated, "
          f"{counts['removed']} removed, {counts['unchanged']} unchanged.", flush=True)
    if summary["unreadable"]:
        print(f"Skipped {counts['unreadable']} unreadable file(s):", flush=True)
        for item in summary["unreadable"]:
            print(f"  {item['path']}: {item['error']}", flush=True)
    if args.json:
        print(json.dumps({**counts, "images": len(index),
                          "unreadable_files": summary["unreadable"]}), flush=True)
    return 0


def _load(index_dir):
    """`(engine, index)` of an index folder: the index and its preset's model."""
    from kerasmm.app.search_engine import SearchEngine
    from kerasmm.app.search_index import SearchIndex

    index = SearchIndex.load(index_dir)
    engine = SearchEngine.from_preset(index.preset)
    engine.check_index(index)
    return engine, index


def run_query(args):
    if _app_import("query", "kerasmm.app.search_engine") is None:
        return 2
    from kerasmm.app.search_images import READ_ERRORS

    if (args.text is None) == (args.image is None):
        return _fail("query", "give a text query or --image FILE (one of them)")
    try:
        engine, index = _load(args.index)
        query = engine.query_embedding(text=args.text, image=args.image, index=index)
        results = index.search(query, args.k)
    except (ValueError, *READ_ERRORS) as error:
        return _fail("query", error)
    if args.json:
        print(json.dumps(results), flush=True)
        return 0
    what = repr(args.text) if args.text is not None else f"images like {args.image}"
    print(f"Top {len(results)} of {len(index)} images in {index.root} for {what}:")
    for rank, result in enumerate(results, 1):
        print(f"{rank:>4}  {result['score']:.4f}  {result['path']}")
    return 0


def run_serve(args):
    server = _app_import("serve", "kerasmm.app.search_server")
    if server is None or _app_import("serve", "uvicorn") is None:
        return 2
    try:
        engine, index = _load(args.index)
    except ValueError as error:
        return _fail("serve", error)
    server.serve(engine, index, host=args.host, port=args.port)
    return 0
