"""Index and query times of `kerasmm search` on generated photo folders.

For each size N (1k and 10k images by default) the script writes N shapes
images (`kerasmm.datasets.generate_shapes`, 64x64 PNGs, in 10 subfolders)
into a temporary folder, then times, with the preset's `SearchEngine`
loaded once (its load time printed apart):

- `index`: a first `update_index` (list, read with Pillow, preprocess,
  `encode_image` in batches) and `save`;
- `reindex`: the same again with nothing changed (a `stat` per file);
- `reindex 1%`: after rewriting 1% of the files (only they are encoded);
- `load`: `SearchIndex.load` (JSON + `.npy` + the embeddings' sha256);
- `text query`: `encode_text` + `search` (k=10), median of `--queries`;
- `image query`: by an indexed path (its stored embedding) + `search`;
- `rank`: `search` alone (the matrix-vector product and argsort).

The numbers depend on the machine and its load (printed first).

Usage:
    python benchmarks/search_index.py              # N = 1000, 10000
    python benchmarks/search_index.py --quick      # seconds, smoke test
    python benchmarks/search_index.py --sizes 500 --preset DIR
"""

import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

QUERIES = ("a red circle", "two blue squares", "a small green triangle on the left",
           "a yellow star", "a purple cross above a white diamond")


def write_folder(root, size, seed):
    """`size` 64x64 shapes PNGs under `root`, in 10 subfolders."""
    from PIL import Image

    from kerasmm.datasets import generate_shapes

    images = generate_shapes("train", num_examples=size, image_size=64, seed=seed)["images"]
    for i, image in enumerate(images):
        folder = os.path.join(root, f"album_{i % 10}")
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(image).save(os.path.join(folder, f"photo_{i:05d}.png"))


def format_time(seconds):
    """`_common.format_seconds`, and microseconds below a millisecond."""
    return f"{seconds * 1e6:.0f} us" if seconds < 1e-3 else _common.format_seconds(seconds)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def median_time(fn, items):
    times = []
    for item in items:
        _, seconds = timed(lambda: fn(item))
        times.append(seconds)
    return statistics.median(times)


def run_size(engine, size, num_queries, seed):
    from PIL import Image

    from kerasmm.app.search_index import SearchIndex

    with tempfile.TemporaryDirectory() as work:
        root, index_dir = os.path.join(work, "photos"), os.path.join(work, "index")
        _, generate = timed(lambda: write_folder(root, size, seed))
        (index, summary), first = timed(lambda: engine.update_index(root, verbose=0))
        _, saved = timed(lambda: index.save(index_dir))
        assert len(summary["added"]) == size, summary
        (_, summary), again = timed(lambda: engine.update_index(root, index, verbose=0))
        assert len(summary["unchanged"]) == size, summary
        changed = index.paths[::100]
        for path in changed:  # 1%: new pixels, so new size or time
            Image.new("RGB", (64, 64), (255, 0, 0)).save(os.path.join(root, path))
        (_, summary), partial = timed(lambda: engine.update_index(root, index, verbose=0))
        assert sorted(summary["updated"]) == sorted(changed), summary
        loaded, load = timed(lambda: SearchIndex.load(index_dir))
        disk = sum(os.path.getsize(os.path.join(index_dir, f)) for f in os.listdir(index_dir))

        texts = [QUERIES[i % len(QUERIES)] for i in range(num_queries)]
        engine.encode_text(texts[0])  # the first call traces
        text = median_time(lambda t: loaded.search(engine.encode_text(t), 10), texts)
        paths = [os.path.join(root, p) for p in loaded.paths[1:num_queries + 1]]
        image = median_time(lambda p: loaded.search(
            engine.query_embedding(image=p, index=loaded), 10), paths)
        query = engine.encode_text(texts[0])
        rank = median_time(lambda _: loaded.search(query, 10), range(num_queries))
    return {"size": size, "generate": generate, "index": first + saved, "reindex": again,
            "reindex_1%": partial, "load": load, "text_query": text,
            "image_query": image, "rank": rank, "disk": disk,
            "images_per_s": size / first}


def main():
    parser = _common.base_parser(__doc__.split("\n\n")[0], subprocesses=False)
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="numbers of images (default 1000 10000; 60 with --quick)")
    parser.add_argument("--preset", default="shapes_clip_tiny",
                        help="a CLIP/SigLIP preset name or directory")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--queries", type=int, default=None,
                        help="queries timed per kind (default 20; 5 with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    _common.select_backend(args.backend)
    sizes = args.sizes or ([60] if args.quick else [1000, 10000])
    num_queries = args.queries or (5 if args.quick else 20)

    from kerasmm.app.search_engine import SearchEngine

    print(_common.describe_run(args), flush=True)
    engine, load = timed(lambda: SearchEngine.from_preset(args.preset, args.batch_size))
    print(f"preset {args.preset}: loaded (model + preprocessor + fingerprint) in "
          f"{_common.format_seconds(load)}; batch size {args.batch_size}", flush=True)
    results = [run_size(engine, size, num_queries, args.seed) for size in sizes]
    fmt = format_time
    _common.print_table(
        ["images", "index", "images/s", "reindex", "reindex 1%", "load", "text query",
         "image query", "rank", "on disk", "(write PNGs)"],
        [[r["size"], fmt(r["index"]), f"{r['images_per_s']:.0f}", fmt(r["reindex"]),
          fmt(r["reindex_1%"]), fmt(r["load"]), fmt(r["text_query"]),
          fmt(r["image_query"]), fmt(r["rank"]), f"{r['disk'] / 2 ** 20:.2f} MiB",
          fmt(r["generate"])] for r in results],
        title="kerasmm search: index and query times (query times: median, k=10)")
    if len(results) > 1:
        slope = _common.loglog_slope([r["size"] for r in results],
                                     [r["index"] for r in results])
        print(f"index time log-log slope against images: {slope:.2f}"
              if slope is not None else "", flush=True)


if __name__ == "__main__":
    main()
