"""`kerasmm generate`: draw images from a text prompt with a text-to-image preset.

    kerasmm generate PROMPT -o OUT.png [--preset NAME|DIR] [--num-steps N]
                     [--guidance-scale G] [--seed N] [--num-images N]
                     [--sampler ddim|ddpm] [--scale N] [--json]

Loads `kerasmm.models.TextToImageDiffusion.from_preset(PRESET)` (weights
and prompt preprocessor; the default, shapes_diffusion_tiny, ships with
kerasmm and works offline), samples `--num-images` images of PROMPT and
writes them side by side into one PNG, each enlarged `--scale` times
(nearest neighbour). shapes_diffusion_tiny learned single shapes: other
prompts (two shapes, positions) are outside its training. TensorFlow is
imported inside the handler.
"""

import argparse
import json
import os
import sys

from kerasmm.app.arguments import non_negative_int, positive_int
from kerasmm.utils.constants import DIFFUSION_SAMPLERS

DEFAULT_PRESET = "shapes_diffusion_tiny"
SAMPLERS = DIFFUSION_SAMPLERS


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # Also refuses nan.
        raise argparse.ArgumentTypeError(f"must be a number >= 0, received {text!r}")
    return value


def add_parser(commands):
    """Adds `kerasmm generate` to `commands` (argparse's sub-parsers action)."""
    parser = commands.add_parser(
        "generate", help="draw images from a text prompt (text-to-image diffusion)",
        description=__doc__.split("\n\n")[2].replace("\n", " "))
    parser.add_argument("prompt", metavar="PROMPT", help='the text, e.g. "a red circle"')
    parser.add_argument("-o", "--output", required=True, metavar="OUT.png",
                        help="the PNG to write (its folder must exist)")
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help="a TextToImageDiffusion preset name or preset directory "
                             f"(default {DEFAULT_PRESET})")
    parser.add_argument("--num-steps", type=positive_int, default=50,
                        help="denoising steps (default 50)")
    parser.add_argument("--guidance-scale", type=_non_negative_float, default=3.0,
                        help="classifier-free guidance scale; 1 is unguided (default 3)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="the sampling seed (default 0)")
    parser.add_argument("--num-images", type=positive_int, default=1,
                        help="images drawn, side by side in the PNG (default 1)")
    parser.add_argument("--sampler", choices=SAMPLERS, default="ddim",
                        help="DDIM (deterministic) or DDPM ancestral (default ddim)")
    parser.add_argument("--scale", type=positive_int, default=1,
                        help="enlarge each pixel N times in the PNG (default 1)")
    parser.add_argument("--json", action="store_true",
                        help="end stdout with one JSON line describing the output")
    parser.set_defaults(handler=run_generate_command)


def image_row(images, scale=1):
    """uint8 `(B, H, W, C)` images side by side, enlarged `scale` times: `(H*s, B*W*s, C)`."""
    import numpy as np

    images = np.asarray(images)
    row = np.concatenate(list(images), axis=1)
    return np.repeat(np.repeat(row, scale, axis=0), scale, axis=1)


def write_png(path, image):
    """Writes a uint8 `(H, W, 1 or 3)` image as PNG."""
    from PIL import Image

    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path, format="PNG")


def generate_images(preset, prompt, num_images=1, **generate_kwargs):
    """uint8 `(num_images, H, W, C)` images of `prompt` from a `TextToImageDiffusion` preset."""
    from kerasmm.models import TextToImageDiffusion
    from kerasmm.models import TextToImagePreprocessor
    from kerasmm.recipes.shapes_scoring import to_uint8

    model = TextToImageDiffusion.from_preset(preset)
    token_ids = TextToImagePreprocessor.from_preset(preset)([prompt] * num_images)
    return to_uint8(model.generate(token_ids, **generate_kwargs))


def run_generate_command(args):
    """`kerasmm generate`: writes the PNG; returns the exit status."""
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        print(f"kerasmm generate: error: -o must be in an existing folder. "
              f"Received: {args.output!r}", file=sys.stderr, flush=True)
        return 2
    try:
        images = generate_images(args.preset, args.prompt, args.num_images,
                                 num_steps=args.num_steps, guidance_scale=args.guidance_scale,
                                 sampler=args.sampler, seed=args.seed)
    except ValueError as error:
        print(f"kerasmm generate: error: {error}", file=sys.stderr, flush=True)
        return 2
    row = image_row(images, args.scale)
    write_png(args.output, row)
    print(f"{args.num_images} image(s) of {args.prompt!r} written to {args.output} "
          f"({row.shape[1]}x{row.shape[0]})", flush=True)
    if args.json:
        print(json.dumps({"output": args.output, "prompt": args.prompt, "preset": args.preset,
                          "num_images": args.num_images, "width": row.shape[1],
                          "height": row.shape[0], "seed": args.seed}), flush=True)
    return 0
