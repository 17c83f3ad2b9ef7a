"""Learning proof of the MMBT and CoAttentionTransformer backbones on shapes-VQA.

Trains a `VQAClassifier` over `kerasmm.models.MMBT` (a small CNN's 8x8
feature map as 64 image tokens) or `kerasmm.models.CoAttentionTransformer`
with `fit`, with the recipe of `kerasmm demo vqa` (`VQADemoConfig`: AdamW,
warmup then cosine decay, the same data and image size), and prints the
held-out test accuracy per question type (and per seen / held-out colour x
shape combination) plus one JSON line.

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
from kerasmm.recipes.vqa_demo_config import VQADemoConfig
from kerasmm.tasks import VQAClassifier


def cnn_feature_map(image_size, width):
    """Three 3x3 ReLU convolutions, 2x2 max-pools after the first two (and
    after the third for 64-pixel images): an 8x8 feature map of `width`
    channels for 32 or 64-pixel images."""
    layers = keras.layers
    return keras.Sequential([
        keras.Input((image_size, image_size, 3)),
        layers.Conv2D(width // 2, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(width, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(width, 3, padding="same", activation="relu"),
    ] + [layers.MaxPooling2D()] * (image_size // 32), name="cnn")


def build_backbone(name, config, tokenizer):
    text = dict(vocabulary_size=tokenizer.vocabulary_size, hidden_dim=config.hidden_dim,
                num_layers=config.num_layers, num_heads=config.num_heads,
                max_sequence_length=tokenizer.sequence_length,
                intermediate_dim=config.intermediate_dim)
    if name == "mmbt":
        return MMBT(cnn_feature_map(config.image_size, config.hidden_dim), **text)
    return CoAttentionTransformer(image_size=config.image_size,
                                  patch_size=config.patch_size, **text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", choices=("mmbt", "coattention"), required=True)
    for name in ("epochs", "steps_per_epoch", "num_train", "num_test", "num_layers",
                 "hidden_dim", "batch_size", "seed", "image_size", "patch_size"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int)
    parser.add_argument("--learning-rate", type=float)
    args = parser.parse_args()
    changes = {k: v for k, v in vars(args).items() if k != "backbone" and v is not None}
    config = dataclasses.replace(VQADemoConfig(), **changes)
    tokenizer = shapes_vqa.shapes_vqa_tokenizer()
    train = shapes_vqa.generate_shapes_vqa("train", config.num_train, config.image_size)
    test = shapes_vqa.generate_shapes_vqa("test", config.num_test, config.image_size)
    keras.utils.set_random_seed(config.seed)
    model = VQAClassifier(build_backbone(args.backbone, config, tokenizer),
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
