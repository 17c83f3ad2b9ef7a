"""Trains the DALL-E-style path on the shapes set and scores it (issue 14, item 2).

1. `kerasmm.models.VQVAE` on 32x32x3 single-shape images of the shapes train
   split (`generate_shapes(image_size=32)`, rows with one shape); PSNR of
   `decode(encode(x))` on single-shape validation images.
2. `kerasmm.models.TextToImageTransformer` on the same images' captions
   (shapes tokenizer) and precomputed codes.
3. `generate_images` for every colour x shape prompt "a {colour} {shape}"
   (`--samples` each), read by T3's shapes reader
   (`kerasmm.recipes.shapes_reader`, independent of the generator) with
   `kerasmm.recipes.shapes_scoring.score_samples`: accuracy over all
   prompts, the combinations seen in training and the held-out ones.
4. docs/t2i_vqvae_samples.png: real images over their reconstructions, then
   one row of samples per prompt.

Usage: python tools/train_t2i_vqvae_shapes.py [--vq-epochs 8] [--ar-epochs 8]
"""

import argparse
import json
import os
import time

import keras
import numpy as np
from PIL import Image
from PIL import ImageDraw

from kerasmm.datasets.pipelines import shapes_tokenizer
from kerasmm.datasets.shapes import generate_shapes
from kerasmm.models import TextToImageTransformer
from kerasmm.models import VQVAE
from kerasmm.recipes.shapes_reader import load_shapes_reader
from kerasmm.recipes.shapes_scoring import combo_prompts
from kerasmm.recipes.shapes_scoring import score_samples
from kerasmm.recipes.shapes_scoring import to_uint8

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def single_shape_images(split, num_examples):
    data = generate_shapes(split, num_examples=num_examples, image_size=32)
    keep = data["num_shapes"] == 1
    images = data["images"][keep].astype("float32") / 127.5 - 1.0
    return images, list(data["captions"][keep])


def psnr(images, reconstructions):
    """PSNR in dB for images in [-1, 1] (peak-to-peak 2, as 255 for uint8)."""
    mse = float(np.mean((np.asarray(images) - np.asarray(reconstructions)) ** 2))
    return 10.0 * np.log10(4.0 / mse)


def sample_grid(path, real, reconstructed, prompts, samples, cell=48):
    """Row pairs of real / reconstructed images, then one row per prompt."""
    rows = [("real", real), ("VQ-VAE reconstruction", reconstructed)] + list(zip(prompts, samples))
    columns = max(len(images) for _, images in rows)
    label_width = 150
    canvas = Image.new("RGB", (label_width + columns * cell, len(rows) * cell), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (label, images) in enumerate(rows):
        draw.text((4, r * cell + cell // 2 - 6), label, fill="black")
        for c, image in enumerate(to_uint8(images)):
            tile = Image.fromarray(image).resize((cell - 2, cell - 2), Image.NEAREST)
            canvas.paste(tile, (label_width + c * cell, r * cell + 1))
    canvas.save(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-train", type=int, default=20000)
    parser.add_argument("--vq-epochs", type=int, default=8)
    parser.add_argument("--ar-epochs", type=int, default=8)
    parser.add_argument("--samples", type=int, default=8, help="samples per prompt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "t2i_vqvae_samples.png"))
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    images, captions = single_shape_images("train", args.num_train)
    val_images, _ = single_shape_images("validation", 2000)
    print(f"{len(images)} train / {len(val_images)} validation single-shape images", flush=True)

    start = time.time()
    vqvae = VQVAE(image_shape=(32, 32, 3), num_embeddings=128, embedding_dim=16,
                  hidden_dims=(32, 64), num_residual_blocks=1)
    vqvae.compile(optimizer=keras.optimizers.Adam(2e-3))
    vqvae.fit({"images": images}, batch_size=64, epochs=args.vq_epochs, verbose=2)
    val_codes = np.asarray(vqvae.encode(val_images))
    reconstructions = np.asarray(vqvae.decode(val_codes))
    scores = {"vqvae_psnr_db": round(psnr(val_images, reconstructions), 2),
              "vqvae_codes_used": int(len(np.unique(val_codes))),
              "vqvae_train_s": round(time.time() - start)}
    print(json.dumps(scores), flush=True)

    start = time.time()
    tokenizer = shapes_tokenizer(sequence_length=12)
    token_ids = np.asarray(tokenizer(captions)).astype("int32")
    codes = np.asarray(vqvae.encode(images)).astype("int32")
    model = TextToImageTransformer(vqvae, vocabulary_size=tokenizer.vocabulary_size(),
                                   context_length=12, hidden_dim=128, num_layers=4, num_heads=4)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.01))
    model.fit({"token_ids": token_ids, "image_codes": codes}, batch_size=64,
              epochs=args.ar_epochs, verbose=2)
    scores["ar_train_s"] = round(time.time() - start)

    prompts, colors, shapes = combo_prompts()
    prompt_ids = np.asarray(tokenizer(prompts)).astype("int32")
    start = time.time()
    samples = model.generate_images(np.repeat(prompt_ids, args.samples, axis=0),
                                    seed=args.seed)
    scores["sampling_images_per_s"] = round(len(samples) / (time.time() - start), 1)
    results = score_samples(samples, np.repeat(colors, args.samples),
                            np.repeat(shapes, args.samples), load_shapes_reader())
    scores.update({k: round(v, 4) for k, v in results.items() if k != "per_prompt"})
    print(json.dumps(scores, indent=1), flush=True)

    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    sample_grid(args.output, val_images[:args.samples], reconstructions[:args.samples],
                prompts, samples.reshape(len(prompts), args.samples, 32, 32, 3))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
