"""WebDataset shards: writing, brace patterns, reading, order, corrupt samples."""

import functools
import http.server
import io
import json
import os
import tarfile
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from kerasmm.datasets import SkippedSamples
from kerasmm.datasets import expand_urls
from kerasmm.datasets import webdataset_dataset
from kerasmm.datasets import write_webdataset
from kerasmm.models import CLIPPreprocessor

pytestmark = pytest.mark.tf_only

NUM_SAMPLES = 23


def _images(count, seed=0, size=(6, 7)):
    return np.random.default_rng(seed).integers(0, 256, (count, *size, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """23 random PNG samples in shards of 4 (six shards, the last of 3)."""
    folder = tmp_path_factory.mktemp("shards")
    images = _images(NUM_SAMPLES)
    captions = [f"caption number {i}" for i in range(NUM_SAMPLES)]
    dataset = tf.data.Dataset.from_tensor_slices({"image": images, "caption": captions})
    result = write_webdataset(dataset, str(folder / "train-%06d.tar"), samples_per_shard=4,
                              image_format="png")
    return result, images, captions


def _keys(dataset):
    return [s["key"].numpy().decode() for s in dataset]


def test_expand_urls_ranges_lists_products_and_nesting():
    assert expand_urls("s-{000000..000002}.tar") == [
        "s-000000.tar", "s-000001.tar", "s-000002.tar"]
    assert expand_urls("{8..10}") == ["8", "9", "10"]
    assert expand_urls("{3..1}") == ["3", "2", "1"]
    assert expand_urls("{a,b}/{1..2}.tar") == ["a/1.tar", "a/2.tar", "b/1.tar", "b/2.tar"]
    assert expand_urls("x{a,b{1..2}}y") == ["xay", "xb1y", "xb2y"]
    assert expand_urls("gs://b/{literal}.tar") == ["gs://b/{literal}.tar"]
    assert expand_urls(["p{1,2}", "q"]) == ["p1", "p2", "q"]
    for bad in ("s-{1..2.tar", [], 3):
        with pytest.raises(ValueError, match="urls"):
            expand_urls(bad)


def test_round_trip_every_sample_equal(written):
    result, images, captions = written
    assert result["num_samples"] == NUM_SAMPLES and len(result["paths"]) == 6
    assert result["pattern"].endswith("train-{000000..000005}.tar")
    skipped = SkippedSamples()
    samples = list(webdataset_dataset(result["pattern"], shuffle=False, skipped=skipped))
    assert skipped.count == 0
    assert sorted(_keys(samples)) == [f"{i:09d}" for i in range(NUM_SAMPLES)]
    for sample in samples:
        i = int(sample["key"].numpy())
        assert sample["caption"].numpy().decode() == captions[i]
        np.testing.assert_array_equal(sample["image"].numpy(), images[i])
    with tarfile.open(result["paths"][0]) as tar:
        assert tar.getnames()[:3] == ["000000000.png", "000000000.txt", "000000000.json"]
        metadata = json.load(tar.extractfile("000000000.json"))
    assert metadata["caption"] == captions[0]


def test_writing_twice_gives_the_same_bytes_and_refuses_to_overwrite(written, tmp_path):
    result, images, captions = written
    dataset = tf.data.Dataset.from_tensor_slices({"image": images, "caption": captions})
    again = write_webdataset(dataset, str(tmp_path / "t-%06d.tar"), samples_per_shard=4,
                             image_format="png")
    for a, b in zip(result["paths"], again["paths"]):
        assert open(a, "rb").read() == open(b, "rb").read()
    with pytest.raises(ValueError, match="overwrite=True"):
        write_webdataset(dataset, str(tmp_path / "t-%06d.tar"), image_format="png")
    with pytest.raises(ValueError, match="output_pattern"):
        write_webdataset(dataset, str(tmp_path / "no-number.tar"))


def test_seed_fixes_the_order_and_another_seed_changes_it(written):
    pattern = written[0]["pattern"]

    def order(seed):
        return _keys(webdataset_dataset(pattern, seed=seed, shuffle_buffer_size=8,
                                        num_parallel_calls=3))

    first = order(1)
    assert first == order(1)
    assert order(2) != first
    assert sorted(order(2)) == sorted(first) == sorted(set(first))
    # Each epoch (iteration) reshuffles, reproducibly.
    dataset = webdataset_dataset(pattern, seed=1, shuffle_buffer_size=8)
    epochs = [_keys(dataset), _keys(dataset)]
    assert epochs[0] == first and epochs[1] != first


def test_explicit_workers_read_disjoint_shards_covering_all(written):
    pattern = written[0]["pattern"]
    parts = [_keys(webdataset_dataset(pattern, seed=0, worker_index=i, num_workers=3))
             for i in range(3)]
    assert sum(len(p) for p in parts) == NUM_SAMPLES
    assert sorted(sum(parts, [])) == [f"{i:09d}" for i in range(NUM_SAMPLES)]
    # Shard k (4 samples each) goes to worker k % 3.
    assert {int(k) // 4 % 3 for k in parts[1]} == {1}
    dataset = webdataset_dataset(pattern, worker_index=0, num_workers=3)
    assert (dataset.options().experimental_distribute.auto_shard_policy
            == tf.data.experimental.AutoShardPolicy.OFF)
    with pytest.raises(ValueError, match="num_workers must be at most"):
        webdataset_dataset(pattern, worker_index=0, num_workers=7)
    with pytest.raises(ValueError, match="worker_index must be below"):
        webdataset_dataset(pattern, worker_index=3, num_workers=3)
    with pytest.raises(ValueError, match="not both"):
        webdataset_dataset(pattern, worker_index=0, num_workers=2,
                           input_context=tf.distribute.InputContext(2, 0))


def test_clip_preprocessor_batches_equal_the_samples_preprocessed_alone(written):
    preprocessor = CLIPPreprocessor.from_preset("shapes_clip_tiny")
    pattern = written[0]["pattern"]
    batches = list(webdataset_dataset(pattern, preprocessor=preprocessor, batch_size=8,
                                      seed=3, drop_remainder=True))
    samples = list(webdataset_dataset(pattern, preprocessor=preprocessor, seed=3))
    assert len(batches) == NUM_SAMPLES // 8 and len(samples) == NUM_SAMPLES
    assert batches[0]["images"].shape == (8, 32, 32, 3)
    assert batches[0]["images"].dtype == tf.float32
    assert batches[0]["token_ids"].shape == (8, 16)
    for name in ("images", "token_ids"):
        together = np.concatenate([b[name].numpy() for b in batches])
        alone = np.stack([s[name].numpy() for s in samples[:len(together)]])
        np.testing.assert_allclose(together, alone, atol=1e-6)
    assert len({tuple(s["token_ids"].numpy()) for s in samples}) == NUM_SAMPLES


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _png(seed):
    return tf.io.encode_png(_images(1, seed)[0]).numpy()


def test_corrupt_samples_are_skipped_and_counted(tmp_path):
    jpeg = tf.io.encode_jpeg(_images(1, 5, (32, 32))[0]).numpy()
    members = [
        ("good1.png", _png(1)), ("good1.txt", b"a good one"),
        ("garbage.jpg", b"not an image at all"), ("garbage.txt", b"x"),
        ("cut.jpg", jpeg[:len(jpeg) // 2]), ("cut.txt", b"half a jpeg"),
        ("nocaption.png", _png(2)),
        ("badfield.png", _png(3)), ("badfield.json", b'{"text": "no caption field"}'),
        ("badjson.png", _png(3)), ("badjson.json", b"{not json"),
        ("good2.png", _png(4)), ("good2.json", b'{"caption": ["from json", "other"]}'),
        ("noimage.txt", b"text without an image"),
        ("good3.png", _png(6)), ("good3.txt", b"last complete"),
        ("truncated.png", _png(7) * 40),
    ]
    with tarfile.open(tmp_path / "bad-0.tar", "w") as tar:
        for name, data in members:
            _add(tar, name, data)
    data = (tmp_path / "bad-0.tar").read_bytes()
    cut = data.index(b"truncated.png") + 512 + 100  # 100 bytes into its data
    (tmp_path / "bad-0.tar").write_bytes(data[:cut])
    (tmp_path / "bad-1.tar").write_bytes(b"this is not a tar file" * 100)

    skipped = SkippedSamples(max_warnings=2)
    with pytest.warns(RuntimeWarning, match="Skipped") as warned:
        samples = list(webdataset_dataset(str(tmp_path / "bad-{0,1}.tar"), shuffle=False,
                                          skipped=skipped))
    assert {s["key"].numpy().decode(): s["caption"].numpy().decode() for s in samples} == {
        "good1": "a good one", "good2": "from json", "good3": "last complete"}
    assert skipped.reasons == {
        "undecodable image": 2, "missing caption": 2, "unreadable caption": 1,
        "missing image": 1, "truncated tar member": 1, "unreadable shard": 1}
    assert skipped.count == 8
    assert {(os.path.basename(shard), key, reason)
            for shard, key, reason in skipped.examples} >= {
        ("bad-0.tar", "garbage", "undecodable image"),
        ("bad-0.tar", "cut", "undecodable image"),
        ("bad-0.tar", "truncated", "truncated tar member"),
        ("bad-1.tar", None, "unreadable shard")}
    messages = [str(w.message) for w in warned if "Skipped" in str(w.message)]
    assert len(messages) == 2 and "further skips are only counted" in messages[1]


def test_folder_and_karpathy_sources(tmp_path):
    images = _images(4, seed=9)
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    for i, name in enumerate(["b.png", "a.png", "sub/c.png", "sub/d.png"]):
        (photos / name).write_bytes(tf.io.encode_png(images[i]).numpy())
        if name != "sub/d.png":
            (photos / name).with_suffix(".txt").write_text(f"photo {name}\n")
    with pytest.warns(RuntimeWarning, match="left out"):
        result = write_webdataset(str(photos), str(tmp_path / "f-%02d.tar"),
                                  samples_per_shard=2)
    assert result["num_samples"] == 3 and result["skipped"] == [
        ("sub/d.png", "missing caption")]
    samples = {s["caption"].numpy().decode(): s["image"].numpy()
               for s in webdataset_dataset(result["pattern"], seed=0)}
    assert sorted(samples) == ["photo a.png", "photo b.png", "photo sub/c.png"]
    np.testing.assert_array_equal(samples["photo sub/c.png"], images[2])

    karpathy = {"images": [
        {"filepath": "photos", "filename": "a.png", "split": "train",
         "sentences": [{"raw": "first of a"}, {"raw": "second of a"}]},
        {"filepath": "photos/sub", "filename": "c.png", "split": "test",
         "sentences": [{"raw": "only c"}]}]}
    (tmp_path / "dataset.json").write_text(json.dumps(karpathy))
    result = write_webdataset(str(tmp_path / "dataset.json"), str(tmp_path / "k-%02d.tar"),
                              split="train")
    assert result["num_samples"] == 1 and result["pattern"].endswith("k-00.tar")
    with tarfile.open(result["paths"][0]) as tar:
        metadata = json.load(tar.extractfile("000000000.json"))
    assert metadata["captions"] == ["first of a", "second of a"]
    assert metadata["source"] == os.path.join("photos", "a.png")


def test_bad_arguments_name_themselves(written, tmp_path):
    pattern = written[0]["pattern"]
    with pytest.raises(ValueError, match="do not exist"):
        webdataset_dataset(str(tmp_path / "missing-{0..1}.tar"))
    with pytest.raises(ValueError, match="shuffle_buffer_size"):
        webdataset_dataset(pattern, shuffle_buffer_size=0)
    with pytest.raises(ValueError, match="preprocessor"):
        webdataset_dataset(pattern, preprocessor="clip")
    with pytest.raises(ValueError, match="samples_per_shard"):
        write_webdataset(str(tmp_path), str(tmp_path / "x-%d.tar"), samples_per_shard=0)
    with pytest.raises(ValueError, match="source must be"):
        write_webdataset(str(tmp_path / "nowhere"), str(tmp_path / "x-%d.tar"))


class _SlowHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files after a fixed latency, like a remote object store."""

    def do_GET(self):
        time.sleep(0.5)
        super().do_GET()

    def log_message(self, *args):
        pass


def test_http_shards_are_read_in_parallel(written):
    """Four shards behind a 0.5 s latency: one at a time takes >= 2 s, four at
    once far less (the interleave really reads shards concurrently)."""
    folder = os.path.dirname(written[0]["paths"][0])
    handler = functools.partial(_SlowHandler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/train-{{000000..000003}}.tar"
        seconds, keys = {}, {}
        for name, cycle_length, threads in (("serial", 1, None), ("parallel", 4, 4)):
            dataset = webdataset_dataset(url, seed=0, cycle_length=cycle_length,
                                         num_parallel_calls=threads)
            start = time.perf_counter()
            keys[name] = sorted(_keys(dataset))
            seconds[name] = time.perf_counter() - start
    finally:
        server.shutdown()
        server.server_close()
    assert keys["serial"] == keys["parallel"] == [f"{i:09d}" for i in range(16)]
    assert seconds["serial"] >= 2.0
    # Reading the four one after another costs four latencies; concurrently,
    # at least one whole latency (0.5 s) is saved even on a loaded machine.
    assert seconds["parallel"] < seconds["serial"] - 0.6, seconds
