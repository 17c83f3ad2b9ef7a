"""WebDataset shards: their names (brace patterns) and their samples.

A WebDataset shard is a plain tar file whose members are grouped into
samples by key: `{key}.jpg` (or `.jpeg`, `.png`, `.webp`) holds the image
and `{key}.txt` (or the `"caption"` field of `{key}.json`) its caption,
the key being the member's path up to the first dot of its file name.
`write_webdataset` writes such shards; img2dataset and the `webdataset`
library write them too.
"""

import json
import os
import re
import tarfile
import threading
import urllib.request
import warnings

import tensorflow as tf

from kerasmm.utils.checks import check_int

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
CAPTION_EXTENSIONS = ("txt", "json")
_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")


# === Shard names ===


def _closing_brace(text, start):
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return -1


def _split_top_level(text):
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _brace_alternatives(body):
    match = _RANGE.match(body)
    if match:
        first, last = match.groups()
        # Zero-padded like the webdataset library's braceexpand: to the
        # wider bound when either has a leading zero.
        padded = any(len(b.lstrip("-")) > 1 and b.lstrip("-")[0] == "0" for b in (first, last))
        width = max(len(first), len(last)) if padded else 0
        step = 1 if int(last) >= int(first) else -1
        return [str(n).zfill(width) for n in range(int(first), int(last) + step, step)]
    parts = _split_top_level(body)
    return parts if len(parts) > 1 else None


def expand_urls(urls):
    """The shard paths or URLs of brace patterns, in order.

    `"{000000..000009}"` is a zero-padded range, `"{a,b}"` a list; several
    groups give their product (the leftmost varies slowest) and groups may
    nest, as in bash and the webdataset library's `braceexpand`.

    Args:
        urls: a str pattern, or a list of them.

    Example:
    >>> expand_urls("data/shard-{00..02}.tar")
    ['data/shard-00.tar', 'data/shard-01.tar', 'data/shard-02.tar']
    >>> expand_urls(["{a,b}-{1..2}.tar", "c.tar"])
    ['a-1.tar', 'a-2.tar', 'b-1.tar', 'b-2.tar', 'c.tar']
    """
    if isinstance(urls, (str, os.PathLike)):
        urls = [urls]
    if not isinstance(urls, (list, tuple)) or not urls or not all(
            isinstance(u, (str, os.PathLike)) for u in urls):
        raise ValueError("urls must be a str (a path, URL or brace pattern) or a non-empty "
                         f"list of them. Received: urls={urls!r:.200}")
    return [url for pattern in urls for url in _expand(os.fspath(pattern))]


def _expand(pattern):
    start = pattern.find("{")
    while start != -1:
        end = _closing_brace(pattern, start)
        if end == -1:
            raise ValueError(f"urls has an unclosed brace. Received: urls={pattern!r}")
        alternatives = _brace_alternatives(pattern[start + 1:end])
        if alternatives is not None:
            head, tail = pattern[:start], pattern[end + 1:]
            return [head + a + t for alt in alternatives for a in _expand(alt)
                    for t in _expand(tail)]
        start = pattern.find("{", start + 1)  # A literal "{word}": kept as is.
    return [pattern]


# === Skipped samples ===


class SkippedSamples:
    """Counts the samples a `webdataset_dataset` skipped, by reason.

    Pass one as `webdataset_dataset(..., skipped=counter)` and read it
    during or after iteration: `counter.count` (all of them),
    `counter.reasons` (`{reason: count}`) and `counter.examples` (the first
    `(shard, key, reason)` triples). Each of the first `max_warnings` skips
    also issues a `RuntimeWarning`. Reasons: "undecodable image", "missing
    image", "missing caption", "unreadable caption", "truncated tar member"
    and "unreadable shard" (a shard that could not be opened or read: it
    counts once, whatever it held).

    Example:
    >>> skipped = SkippedSamples(max_warnings=0)
    >>> skipped.record("a.tar", "0001", "missing caption")
    >>> skipped.count, skipped.reasons
    (1, {'missing caption': 1})
    """

    def __init__(self, max_warnings=10, max_examples=100):
        self.max_warnings = check_int("max_warnings", max_warnings, minimum=0)
        self.max_examples = check_int("max_examples", max_examples, minimum=0)
        self.reasons = {}
        self.examples = []
        # Shards are read by several tf.data threads at once.
        self._lock = threading.Lock()

    @property
    def count(self):
        return sum(self.reasons.values())

    def record(self, shard, key, reason, detail=None):
        """Counts one skip of `reason`; `detail` (the error) goes in the warning."""
        with self._lock:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1
            count = self.count
            if len(self.examples) < self.max_examples:
                self.examples.append((shard, key, reason))
        if count <= self.max_warnings:
            what = f"sample {key!r} of shard" if key is not None else "shard"
            detail = f" ({detail})" if detail else ""
            more = (" (further skips are only counted)" if count == self.max_warnings
                    else "")
            warnings.warn(f"Skipped {what} {shard!r}: {reason}{detail}{more}",
                          RuntimeWarning, stacklevel=2)

    def __repr__(self):
        return f"SkippedSamples(count={self.count}, reasons={self.reasons})"


# === Reading one shard ===


def _open_shard(url):
    if url.startswith(("http://", "https://")):
        return urllib.request.urlopen(url)  # The user named this URL.
    if "://" in url:  # gs://, s3://, hdfs://: TensorFlow's file systems.
        return tf.io.gfile.GFile(url, "rb")
    return open(url, "rb")


def _split_name(name):
    """`(key, extension)` of a tar member name, as the webdataset library."""
    folder, base = os.path.split(name)
    if "." not in base:
        return None, None
    stem, extension = base.split(".", 1)
    return os.path.join(folder, stem) if folder else stem, extension.lower()


def _caption(files, caption_key):
    """`(caption, None)` of a sample, or `(None, why it has none)`."""
    try:
        if "txt" in files:
            caption = files["txt"].decode("utf-8").strip()
        elif "json" in files:
            caption = json.loads(files["json"].decode("utf-8")).get(caption_key)
            if isinstance(caption, (list, tuple)):
                caption = caption[0] if caption else None
        else:
            return None, "missing caption"
    except (UnicodeDecodeError, ValueError, AttributeError):
        return None, "unreadable caption"
    if not isinstance(caption, str) or not caption.strip():
        return None, "missing caption"
    return caption.strip(), None


def _decode(files):
    """`(uint8 (H, W, 3) array, None)` of a sample's image, or `(None, why not)`."""
    extension = next(e for e in IMAGE_EXTENSIONS if e in files)
    try:
        # TensorFlow's decoders release the GIL: shards decode in parallel.
        image = tf.io.decode_image(files[extension], channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
        return None, "undecodable image"
    return image.numpy(), None


def _samples(url, skipped):
    """`(key, files by extension)` of each sample of a shard, in tar order."""
    key, files = None, {}
    try:
        with _open_shard(url) as stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                member_key, extension = _split_name(member.name)
                if member_key is None:
                    continue
                if member_key != key:
                    if key is not None:
                        yield key, files
                    key, files = member_key, {}
                files[extension] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as error:
        if key is None:
            skipped.record(url, None, "unreadable shard", detail=error)
        else:
            skipped.record(url, key, "truncated tar member", detail=error)
        return
    if key is not None:
        yield key, files


def read_shard(url, caption_key="caption", skipped=None):
    """`(key, image, caption)` of each readable sample of one shard, in order.

    `image` is a decoded uint8 `(H, W, 3)` array. Samples without an image
    or a caption, or whose image does not decode, are skipped and counted in
    `skipped` (a `SkippedSamples`); a truncated shard ends at its last
    complete sample.
    """
    skipped = SkippedSamples() if skipped is None else skipped
    for key, files in _samples(url, skipped):
        image = caption = None
        reason = None if any(e in files for e in IMAGE_EXTENSIONS) else "missing image"
        if reason is None:
            caption, reason = _caption(files, caption_key)
        if reason is None:  # Last: decoding is the costly part.
            image, reason = _decode(files)
        if reason is not None:
            skipped.record(url, key, reason)
            continue
        yield key, image, caption
