"""Prints every measured number of issue 12's VQA demos: the three embedded sets,
each with its fusion ViLT and its text-only and image-only ablations.

    python tools/vqa_numbers.py [--datasets shapes_vqa,chart_qa,sentiment]
                                [--epochs N] [--ablation-epochs N] [--image-size N]
                                [--patch-size N] [--runs fusion,text_only,image_only]
                                [--small]

Each set runs `kerasmm.recipes.vqa_demo.run_vqa_demo` (the recipe of
`kerasmm demo vqa`); `--ablation-epochs` (default: `--epochs`) lets the two
single-modality models train for fewer epochs on a slow machine (say so when
reporting); `--runs` picks among fusion, text_only, image_only. The last line is one JSON object with all the results.
"""

import argparse
import dataclasses
import json
import tempfile

from kerasmm.recipes.vqa_demo import run_vqa_demo
from kerasmm.recipes.vqa_demo_config import VQADemoConfig


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="shapes_vqa,chart_qa,sentiment")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--ablation-epochs", type=int, default=None)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--patch-size", type=int, default=None)
    parser.add_argument("--runs", default="fusion,text_only,image_only")
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    everything = {}
    for dataset in args.datasets.split(","):
        base = (VQADemoConfig.small(dataset=dataset) if args.small
                else VQADemoConfig.for_dataset(dataset))
        sizes = {"image_size": args.image_size, "patch_size": args.patch_size}
        base = dataclasses.replace(base, **{k: v for k, v in sizes.items() if v})
        epochs = args.epochs or base.epochs
        by_group, group_sizes = {}, None
        ablation_epochs = args.ablation_epochs or epochs
        for run in args.runs.split(","):
            config = dataclasses.replace(
                base, dataset=dataset, runs=(run,), output_dir=tempfile.mkdtemp(),
                epochs=epochs if run == "fusion" else ablation_epochs)
            results = run_vqa_demo(config, verbose=2)
            by_group.update(results["by_group"])
            group_sizes = results["group_sizes"]
        everything[dataset] = {"by_group": by_group, "group_sizes": group_sizes,
                               "fusion_epochs": epochs, "ablation_epochs": ablation_epochs}
        print(json.dumps({dataset: everything[dataset]}), flush=True)
    print(json.dumps(everything), flush=True)


if __name__ == "__main__":
    main()
