"""Learning proof of the MMBT and CoAttentionTransformer backbones on shapes-VQA.

Trains a `VQAClassifier` over `kerasmm.models.MMBT` (a small CNN's 4x4
feature map as 16 image tokens; `--grid 8` gives 64) or
`kerasmm.models.CoAttentionTransformer` with `fit`, with the recipe of
`kerasmm demo vqa` (`VQADemoConfig`: the same data, AdamW, warmup then
cosine decay) changed as `RECIPES` says (the first demo recipe: 32-pixel
scenes, 8 epochs), and prints the held-out test accuracy per question type
(and per seen / held-out colour x shape combination) plus one JSON line.
`--single-position-fraction 1 --pair-type-weights 0.15,0.15,0.1,0.1,0.5`
trains with the position curriculum (`VQADemoConfig`).

    python tools/train_fusion_vqa.py --backbone mmbt
    python tools/train_fusion_vqa.py --backbone coattention --epochs 4

Too slow for the suite (minutes); its numbers are reported in issue 12.
"""

import argparse
import dataclasses
import json

import keras

from kerasmm.datasets import shapes_vqa
from kerasmm.models import MMBT
from kerasmm.models import CoAttentionTransformer
from kerasmm.recipes.vqa_demo import evaluate_vqa_model
from kerasmm.recipes.vqa_demo import format_vqa_results
from kerasmm.recipes.vqa_demo import question_groups
from kerasmm.recipes.vqa_demo import train_vqa_model
from kerasmm.recipes.vqa_demo import training_data
from kerasmm.recipes.vqa_demo_config import FIRST_VQA_RECIPE
from kerasmm.recipes.vqa_demo_config import VQADemoConfig
from kerasmm.tasks import VQAClassifier

# Each backbone's recipe over `VQADemoConfig()` (command-line values win):
# both keep the first demo recipe (32-pixel scenes in 8-pixel patches,
# 20,000 questions, 8 epochs, no dropout): the defaults of the run that
# reported MMBT 0.811, with its CNN's 4 x 4 map of 64 channels (16 image
# tokens). The 64-pixel ViLT recipe is not measured on them.
RECIPES = {"mmbt": FIRST_VQA_RECIPE, "coattention": FIRST_VQA_RECIPE}
MMBT_CNN = dict(grid=4, cnn_width=64)


def cnn_feature_map(image_size, width, grid=8):
    """Three 3x3 ReLU convolutions, a 2x2 max-pool after each of the first
    two and as many more after the third as bring the map to `grid x grid`
    (`grid * grid` image tokens of `width` channels; `image_size` must be
    `grid` times a power of two, at least 4)."""
    extra = (image_size // (4 * grid)).bit_length() - 1
    if extra < 0 or 4 * grid << extra != image_size:
        raise ValueError(f"image_size must be grid * 4 * 2**k. Received: "
                         f"image_size={image_size}, grid={grid}")
    layers = keras.layers
    return keras.Sequential([
        keras.Input((image_size, image_size, 3)),
        layers.Conv2D(width // 2, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(width, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(width, 3, padding="same", activation="relu"),
    ] + [layers.MaxPooling2D() for _ in range(extra)], name="cnn")


def build_backbone(name, config, tokenizer, grid=8, cnn_width=None):
    text = dict(vocabulary_size=tokenizer.vocabulary_size, hidden_dim=config.hidden_dim,
                num_layers=config.num_layers, num_heads=config.num_heads,
                max_sequence_length=tokenizer.sequence_length,
                intermediate_dim=config.intermediate_dim, dropout=config.dropout)
    if name == "mmbt":
        cnn = cnn_feature_map(config.image_size, cnn_width or config.hidden_dim, grid)
        return MMBT(cnn, **text)
    return CoAttentionTransformer(image_size=config.image_size,
                                  patch_size=config.patch_size, **text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", choices=("mmbt", "coattention"), required=True)
    parser.add_argument("--grid", type=int, default=MMBT_CNN["grid"],
                        help="MMBT: side of the CNN's feature map (grid * grid image tokens)")
    parser.add_argument("--cnn-width", type=int, default=MMBT_CNN["cnn_width"],
                        help="MMBT: channels of the CNN's feature map")
    for name in ("epochs", "steps_per_epoch", "num_train", "num_test", "num_layers",
                 "hidden_dim", "intermediate_dim", "num_heads", "batch_size", "seed",
                 "image_size", "patch_size"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int)
    for name in ("learning_rate", "dropout", "weight_decay", "single_position_fraction"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float)
    parser.add_argument("--pair-type-weights", type=lambda text: tuple(
        float(w) for w in text.split(",")), help="5 comma-separated weights")
    args = parser.parse_args()
    changes = {k: v for k, v in vars(args).items()
               if k not in ("backbone", "grid", "cnn_width") and v is not None}
    config = dataclasses.replace(VQADemoConfig(), **{**RECIPES[args.backbone], **changes})
    tokenizer = shapes_vqa.shapes_vqa_tokenizer()
    train = training_data(config)
    test = shapes_vqa.generate_shapes_vqa("test", config.num_test, config.image_size)
    keras.utils.set_random_seed(config.seed)
    model = VQAClassifier(build_backbone(args.backbone, config, tokenizer, args.grid,
                                         args.cnn_width),
                          num_answers=len(shapes_vqa.SHAPES_VQA_ANSWERS))
    print(f"{args.backbone}: {model.count_params():,} parameters, {config.epochs} epochs x "
          f"{config.steps_per_epoch} steps of {config.batch_size}", flush=True)
    _, seconds = train_vqa_model(model, train, tokenizer, config, verbose=2)
    by_group = evaluate_vqa_model(model, test, tokenizer, config)
    counts = {g: int(m.sum()) for g, m in question_groups(config.dataset, test).items()}
    print(format_vqa_results({args.backbone: by_group}, counts))
    print(json.dumps({"backbone": args.backbone, "accuracy": by_group["all"],
                      "by_group": by_group, "train_seconds": seconds,
                      "backend": keras.backend.backend(),
                      **dataclasses.asdict(config)}))


if __name__ == "__main__":
    main()
