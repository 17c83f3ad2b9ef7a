"""Writing WebDataset tar shards from image-caption folders, Karpathy JSON
files and `tf.data` datasets."""

import io
import json
import os
import re
import tarfile
import warnings

import numpy as np

from kerasmm.datasets.webdataset_shards import IMAGE_EXTENSIONS
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_positive_int

_SHARD_NUMBER = re.compile(r"%0?\d*d")
_JPEG_QUALITY = 95


def _image_files(folder):
    """`(relative path, caption file)` of each image of `folder`, sorted."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            stem, extension = os.path.splitext(name)
            if extension[1:].lower() in IMAGE_EXTENSIONS:
                found.append((os.path.relpath(os.path.join(root, name), folder),
                              os.path.join(root, stem + ".txt")))
    return found


def _folder_samples(folder, skipped):
    """Image files with a same-stem `.txt` caption; the others are skipped."""
    for path, caption_path in _image_files(folder):
        if not os.path.isfile(caption_path):
            skipped.append((path, "missing caption"))
            continue
        with open(caption_path, encoding="utf-8") as f:
            caption = f.read().strip()
        if not caption:
            skipped.append((path, "missing caption"))
            continue
        with open(os.path.join(folder, path), "rb") as f:
            yield _extension(path), f.read(), [caption], path


def _karpathy_samples(path, split, image_root, skipped):
    """The images of a Karpathy-format JSON (all splits, or `split`)."""
    with open(path, encoding="utf-8") as f:
        try:
            entries = json.load(f)["images"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"source {path!r} is not a Karpathy-format JSON file "
                             "(a dict with an 'images' list)") from None
    root = image_root or os.path.dirname(os.path.abspath(path))
    for entry in entries:
        if split is not None and entry.get("split") != split:
            continue
        try:
            relative = os.path.join(entry.get("filepath", ""), entry["filename"])
            captions = [s["raw"].strip() for s in entry["sentences"]]
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"source {path!r}: an image entry lacks {error} (each needs "
                             "'filename' and 'sentences': [{'raw': ...}])") from None
        image_path = os.path.join(root, relative)
        if not os.path.isfile(image_path) or not any(captions):
            skipped.append((relative, "missing image" if any(captions)
                            else "missing caption"))
            continue
        with open(image_path, "rb") as f:
            yield _extension(relative), f.read(), [c for c in captions if c], relative


def _dataset_samples(dataset, image_format):
    """Encoded images of a dataset of `{"image": uint8, "caption": str or
    strings}` (or `kerasmm.datasets.load`'s `"images"` and `"captions"`)."""
    import tensorflow as tf

    spec = getattr(dataset, "element_spec", None)
    keys = [next((k for k in names if isinstance(spec, dict) and k in spec), None)
            for names in (("image", "images"), ("caption", "captions"))]
    if None in keys:
        raise ValueError("source must be a dataset of dicts with 'image' and 'caption' "
                         f"(or 'images' and 'captions'). Received: element_spec={spec}")
    encode = (tf.io.encode_png if image_format == "png" else
              lambda image: tf.io.encode_jpeg(image, quality=_JPEG_QUALITY))
    for element in dataset:
        image = element[keys[0]]
        if image.dtype != tf.uint8 or image.shape.rank != 3 or image.shape[-1] not in (1, 3):
            raise ValueError("source's images must be uint8 (H, W, 1 or 3). Received: "
                             f"image of dtype {image.dtype.name} and shape {image.shape}")
        captions = np.reshape(element[keys[1]].numpy(), (-1,))
        yield (image_format, encode(image).numpy(),
               [c.decode("utf-8") for c in captions], None)


def _extension(path):
    extension = os.path.splitext(path)[1][1:].lower()
    return "jpg" if extension == "jpeg" else extension


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o444
    info.mtime = 0  # Same inputs, same bytes.
    tar.addfile(info, io.BytesIO(data))


def _check_pattern(output_pattern, overwrite):
    if not isinstance(output_pattern, str) or len(_SHARD_NUMBER.findall(output_pattern)) != 1:
        raise ValueError("output_pattern must be a path with one printf-style shard number "
                         "such as 'shards/train-%06d.tar'. "
                         f"Received: output_pattern={output_pattern!r}")
    first = output_pattern % 0
    if os.path.exists(first) and not overwrite:
        raise ValueError(f"output_pattern's first shard {first!r} exists: pass "
                         "overwrite=True (--overwrite) to replace it. "
                         f"Received: output_pattern={output_pattern!r}")
    os.makedirs(os.path.dirname(os.path.abspath(first)), exist_ok=True)


def brace_pattern(output_pattern, num_shards):
    """The brace pattern `webdataset_dataset` reads the written shards by.

    Example:
    >>> brace_pattern("shards/train-%06d.tar", 3)
    'shards/train-{000000..000002}.tar'
    """
    match = _SHARD_NUMBER.search(output_pattern)
    first, last = match.group() % 0, match.group() % (num_shards - 1)
    numbers = first if num_shards == 1 else f"{{{first}..{last}}}"
    return output_pattern[:match.start()] + numbers + output_pattern[match.end():]


def write_webdataset(source, output_pattern, samples_per_shard=1000, split=None,
                     image_root=None, image_format="jpg", overwrite=False):
    """Writes image-caption samples into WebDataset tar shards.

    Sample `i` (counted from 0 over all shards) gets the key `"%09d" % i`
    and three members: `{key}.{jpg,png,webp}` (the image file's bytes as
    they are, or a dataset's image encoded as `image_format`), `{key}.txt`
    (its caption) and `{key}.json` (`{"caption", "captions", "source"}`:
    the first caption, all of them, and the image file it came from).
    The shards are the same bytes whenever the source is.

    Args:
        source: a folder of images (jpg, jpeg, png, webp, searched
            recursively) each with a same-stem `.txt` caption beside it; a
            Karpathy-format JSON file (`dataset_coco.json`,
            `dataset_flickr30k.json`); or a `tf.data.Dataset` (a TFDS
            dataset) of `{"image": uint8 (H, W, 3), "caption": str or
            strings}`, or of `{"images", "captions"}` as
            `kerasmm.datasets.load` returns them.
        output_pattern: str, shard paths with one printf-style number,
            e.g. `"shards/train-%06d.tar"`. Folders are made.
        samples_per_shard: int, samples per shard (the last may hold
            fewer).
        split: a Karpathy JSON's split to write ("train", "restval", ...);
            None writes all of its images.
        image_root: the folder a Karpathy JSON's `filepath/filename` are
            under (default: the JSON's folder).
        image_format: "jpg" (quality 95) or "png" (lossless), how a
            dataset's images are encoded; files are copied as they are.
        overwrite: bool, replace existing shards.

    Returns:
        A dict: `"paths"` (the shards written), `"pattern"` (their brace
        pattern, for `webdataset_dataset`), `"num_samples"`, and
        `"skipped"` (`(image, reason)` of each image left out: without a
        caption, or missing from a Karpathy JSON's `image_root`).
    """
    samples_per_shard = check_positive_int("samples_per_shard", samples_per_shard)
    image_format = check_choice("image_format", image_format, ("jpg", "png"))
    overwrite = check_bool("overwrite", overwrite)
    skipped = []
    if isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
        samples = _folder_samples(os.fspath(source), skipped)
    elif isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        samples = _karpathy_samples(os.fspath(source), split, image_root, skipped)
    elif hasattr(source, "element_spec"):
        samples = _dataset_samples(source, image_format)
    else:
        raise ValueError("source must be an image-caption folder, a Karpathy-format JSON "
                         f"file or a tf.data.Dataset. Received: source={source!r:.200}")
    _check_pattern(output_pattern, overwrite)
    paths, tar, count = [], None, 0
    try:
        for count, (extension, data, captions, origin) in enumerate(samples):
            if count % samples_per_shard == 0:
                if tar is not None:
                    tar.close()
                paths.append(output_pattern % len(paths))
                tar = tarfile.open(paths[-1], "w", format=tarfile.USTAR_FORMAT)
            key = f"{count:09d}"
            metadata = {"caption": captions[0], "captions": captions, "source": origin}
            _add(tar, f"{key}.{extension}", data)
            _add(tar, f"{key}.txt", captions[0].encode("utf-8"))
            _add(tar, f"{key}.json", json.dumps(metadata, ensure_ascii=False).encode("utf-8"))
    finally:
        if tar is not None:
            tar.close()
    if not paths:
        raise ValueError(f"source has no image with a caption to write. Received: "
                         f"source={source!r:.200} (skipped: {skipped[:3]})")
    if skipped:
        warnings.warn(f"{len(skipped)} image(s) of the source were left out, e.g. "
                      f"{skipped[0][0]!r}: {skipped[0][1]}", RuntimeWarning)
    return {"paths": paths, "pattern": brace_pattern(output_pattern, len(paths)),
            "num_samples": count + 1, "skipped": skipped}
