import socket

import numpy as np
import pytest
import tensorflow_datasets as tfds

import kerasmm.datasets  # noqa: F401 (registers kerasmm_shapes)
from kerasmm.datasets import ShapesConfig, generate_shapes, shapes_dataset
from tests.preprocessing.tiny_vocab import tiny_tokenizer


@pytest.fixture
def no_network(monkeypatch):
    """Records (and refuses) every outgoing connection."""
    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f"network disabled in tests: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


def test_builder_loads_offline(no_network, data_dir):
    builder = tfds.builder("kerasmm_shapes/tiny", data_dir=data_dir)
    builder.download_and_prepare()
    assert no_network == []
    splits = builder.info.splits
    assert [splits[s].num_examples for s in ("train", "validation", "test")] == [256, 64, 64]
    ds = tfds.load("kerasmm_shapes/tiny", split="validation", data_dir=data_dir,
                   shuffle_files=False, download=False)
    examples = sorted(tfds.as_numpy(ds), key=lambda ex: (ex["caption"], ex["image"].tobytes()))
    expected = generate_shapes("validation", 64, image_size=64)
    order = sorted(range(64), key=lambda i: (expected["captions"][i].encode(),
                                             expected["images"][i].tobytes()))
    assert len(examples) == 64
    for ex, i in zip(examples, order):
        assert ex["caption"].decode() == expected["captions"][i]
        assert ex["image"].dtype == np.uint8
        np.testing.assert_array_equal(ex["image"], expected["images"][i])
        for key in ("colors", "shapes", "sizes", "num_shapes", "relation"):
            np.testing.assert_array_equal(ex[key], expected[key][i])
        assert ex["label"] == expected["labels"][i]


def test_custom_config():
    config = ShapesConfig(name="mini", image_size=32, num_train=8, num_validation=4, num_test=4)
    builder = tfds.builder("kerasmm_shapes", config=config, data_dir="/nonexistent")
    assert builder.info.features["image"].shape == (32, 32, 3)


def _sorted_rows(ds):
    batches = list(ds.as_numpy_iterator())
    ids = np.concatenate([b["token_ids"] for b in batches])
    images = np.concatenate([b["images"] for b in batches])
    key = [(tuple(i), tuple(np.round(im.ravel(), 3))) for i, im in zip(ids, images)]
    order = sorted(range(len(ids)), key=key.__getitem__)
    return ids[order], images[order]


@pytest.mark.slow
def test_tfds_pipeline_equals_in_memory_pipeline(no_network, data_dir):
    # Tokenizes inside tf.data, where tracing keras-hub's TF BPE takes
    # seconds: the tokenizer shared with the tokenizer tests traces once.
    # TFDS stores examples in its own order, so whole splits are compared.
    tokenizer = tiny_tokenizer()
    from_tfds = shapes_dataset("test", batch_size=16, use_tfds=True, data_dir=data_dir,
                               tfds_config="tiny", tokenizer=tokenizer)
    in_memory = shapes_dataset("test", batch_size=16, num_examples=64, tokenizer=tokenizer)
    ids_a, images_a = _sorted_rows(from_tfds)
    ids_b, images_b = _sorted_rows(in_memory)
    assert no_network == [] and len(ids_a) == 64
    np.testing.assert_array_equal(ids_a, ids_b)
    np.testing.assert_allclose(images_a, images_b, atol=1e-5)
