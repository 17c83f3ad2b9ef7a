"""kerasmm.datasets.load: its arguments, and TFDS kept out of `import kerasmm.datasets`."""

import ast
import os

import pytest

import kerasmm.datasets
from kerasmm.datasets.load import DATASETS
from kerasmm.datasets.load import load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def test_load_is_exported():
    assert kerasmm.datasets.load is load


def test_the_load_module_imports_no_tfds_and_no_builder_at_import():
    path = os.path.join(ROOT, "kerasmm", "datasets", "load.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    top_level = [alias.name if isinstance(node, ast.Import) else node.module
                 for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                 for alias in node.names]
    assert not [name for name in top_level
                if "tensorflow_datasets" in name or "builders" in name], top_level


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "coco"}, "name must be one of"),
    ({"split": "training"}, "split must be one of"),
    ({"caption": "longest"}, "caption must be one of"),
    ({"num_answers": 0}, "num_answers must be a positive integer"),
    ({"num_examples": -1}, "num_examples must be a positive integer"),
    ({"shuffle_files": "yes"}, "shuffle_files must be a bool"),
    ({"manual_dir": 3}, "manual_dir must be None or a path"),
    ({"preprocessor": "clip"}, "preprocessor must be None or a family preprocessor"),
])
def test_bad_arguments_are_named(kwargs, message, tmp_path):
    arguments = {"name": "flickr30k", "split": "test", "data_dir": str(tmp_path), **kwargs}
    with pytest.raises(ValueError, match=message):
        load(**arguments)


def test_every_dataset_names_its_splits():
    assert set(DATASETS) == {"coco_captions", "flickr30k", "visual_genome/regions",
                             "visual_genome/qa", "vqa_v2", "msr_vtt", "clotho"}
    assert all("train" in spec.splits for spec in DATASETS.values())
