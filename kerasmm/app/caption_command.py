"""`kerasmm caption`: caption photos with a pretrained captioner.

    kerasmm caption PHOTO... [--preset NAME|DIR|hf://ORG/REPO] [--max-length N]
                    [--strategy greedy|beam] [--num-beams N] [--min-length N]
                    [--allow-unpinned] [--json]

Loads `kerasmm.tasks.ImageCaptioner.from_preset(PRESET)` (BLIP), or
`kerasmm.models.CoCa.from_preset(PRESET)` for a CoCa preset (weights and
preprocessor), reads each photo (EXIF orientation applied, RGB) and prints
one line per photo: its path, a tab, its caption. With `--json` the last
line of stdout is one JSON object `{"captions": [{"path", "caption"}],
"preset", "strategy"}`. A photo that cannot be read is an error (exit
status 2) before the model loads. TensorFlow is imported inside the
handler.
"""

import json
import os
import sys

from kerasmm.app.arguments import non_negative_int
from kerasmm.app.arguments import positive_int

DEFAULT_PRESET = "blip_captioning_base"
STRATEGIES = ("greedy", "beam")


def add_parser(commands):
    """Adds `kerasmm caption` to `commands` (argparse's sub-parsers action)."""
    parser = commands.add_parser(
        "caption", help="caption photos with a pretrained captioner (BLIP, CoCa)",
        description=__doc__.split("\n\n")[2].replace("\n", " "))
    parser.add_argument("photos", nargs="+", metavar="PHOTO", help="image files")
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help="an ImageCaptioner or CoCa preset name, a preset directory or "
                             f"hf://org/repo (default {DEFAULT_PRESET})")
    parser.add_argument("--max-length", type=positive_int, default=30,
                        help="most tokens per caption (default 30)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="greedy",
                        help="decoding: greedy or beam search (default greedy)")
    parser.add_argument("--num-beams", type=positive_int, default=3,
                        help="beams of --strategy beam (default 3)")
    parser.add_argument("--min-length", type=non_negative_int, default=0,
                        help="fewest new tokens before the end token may come (default 0; "
                             "open_clip's CoCa default: --strategy beam --num-beams 6 "
                             "--min-length 4 --max-length 29)")
    parser.add_argument("--allow-unpinned", action="store_true",
                        help="accept a remote preset not pinned to a commit")
    parser.add_argument("--json", action="store_true",
                        help="end stdout with one JSON line holding the captions")
    parser.set_defaults(handler=run_caption_command)


def read_photos(paths):
    """uint8 `(H, W, 3)` pixels of each file; raises `ValueError` naming a bad one."""
    from kerasmm.app.search_images import READ_ERRORS
    from kerasmm.app.search_images import read_image

    photos = []
    for path in paths:
        if not os.path.isfile(path):
            raise ValueError(f"PHOTO must be an image file. Received: {path!r} (no such file)")
        try:
            photos.append(read_image(path))
        except READ_ERRORS as error:
            raise ValueError(f"PHOTO must be a readable image. Received: {path!r} ({error})")
    return photos


def holds_coca(preset, allow_unpinned=False):
    """Whether `preset` is a CoCa's: a registered CoCa name, or a directory or
    `hf://` repo whose config (read without weights) builds a `CoCa`."""
    from kerasmm.models import CoCa
    from kerasmm.presets.load import load_converted

    if preset in CoCa.presets:
        return True
    if not (os.path.isdir(preset) or preset.startswith("hf://")):
        return False
    try:
        converted, _ = load_converted(preset, load_weights=False,
                                      allow_unpinned=allow_unpinned)
    except ValueError:  # ImageCaptioner.from_preset names the problem.
        return False
    return converted.class_name == "CoCa"


def load_captioner(preset, allow_unpinned=False):
    """`ImageCaptioner.from_preset(preset)` (BLIP), or `CoCa.from_preset(preset)`
    for a CoCa preset, its preprocessor included."""
    from kerasmm.models import CoCa
    from kerasmm.tasks import ImageCaptioner

    captioner = CoCa if holds_coca(preset, allow_unpinned) else ImageCaptioner
    return captioner.from_preset(preset, allow_unpinned=allow_unpinned)


def caption_photos(captioner, photos, **generate_kwargs):
    """Captions of `photos` (a list of uint8 arrays), photos of one size batched together."""
    import numpy as np

    captions = [None] * len(photos)
    by_shape = {}
    for i, photo in enumerate(photos):
        by_shape.setdefault(photo.shape, []).append(i)
    for index in by_shape.values():
        texts = captioner.caption(np.stack([photos[i] for i in index]), **generate_kwargs)
        for i, text in zip(index, texts):
            captions[i] = text
    return captions


def run_caption_command(args):
    """`kerasmm caption`: prints `path<TAB>caption` per photo; returns the exit status."""
    try:
        photos = read_photos(args.photos)
        captioner = load_captioner(args.preset, args.allow_unpinned)
    except ValueError as error:
        print(f"kerasmm caption: error: {error}", file=sys.stderr, flush=True)
        return 2
    kwargs = {"max_length": args.max_length, "strategy": args.strategy,
              "min_length": args.min_length}
    if args.strategy == "beam":
        kwargs["num_beams"] = args.num_beams
    captions = caption_photos(captioner, photos, **kwargs)
    for path, caption in zip(args.photos, captions):
        print(f"{path}\t{caption}", flush=True)
    if args.json:
        print(json.dumps({
            "captions": [{"path": p, "caption": c} for p, c in zip(args.photos, captions)],
            "preset": args.preset, "strategy": args.strategy}), flush=True)
    return 0
