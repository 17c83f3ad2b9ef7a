"""Image-text training input from WebDataset tar shards, with `tf.data`."""

import os

import tensorflow as tf

from kerasmm.datasets.webdataset_shards import SkippedSamples
from kerasmm.datasets.webdataset_shards import expand_urls
from kerasmm.datasets.webdataset_shards import read_shard
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_positive_int

_SAMPLE_SIGNATURE = {
    "key": tf.TensorSpec((), tf.string),
    "image": tf.TensorSpec((None, None, 3), tf.uint8),
    "caption": tf.TensorSpec((), tf.string),
}


def _worker_shards(shards, input_context, worker_index, num_workers):
    """The shards this worker reads: every `num_workers`-th from its index."""
    if input_context is not None:
        if worker_index is not None or num_workers is not None:
            raise ValueError("Give input_context or worker_index and num_workers, not both. "
                             f"Received: input_context={input_context}, worker_index="
                             f"{worker_index}, num_workers={num_workers}")
        worker_index = input_context.input_pipeline_id
        num_workers = input_context.num_input_pipelines
    if (worker_index is None) != (num_workers is None):
        raise ValueError("worker_index and num_workers go together. Received: "
                         f"worker_index={worker_index}, num_workers={num_workers}")
    if num_workers is None:
        return shards, False
    num_workers = check_positive_int("num_workers", num_workers)
    worker_index = check_int("worker_index", worker_index, minimum=0)
    if worker_index >= num_workers:
        raise ValueError(f"worker_index must be below num_workers={num_workers}. "
                         f"Received: worker_index={worker_index}")
    if num_workers > len(shards):
        # Sample-level sharding would make every worker read every shard.
        raise ValueError(f"num_workers must be at most the number of shards "
                         f"({len(shards)}): each worker reads its own shards. "
                         f"Received: num_workers={num_workers}")
    return shards[worker_index::num_workers], True


def _check_local(shards):
    missing = [s for s in shards if "://" not in s and not os.path.isfile(s)]
    if missing:
        raise ValueError(f"urls names {len(missing)} shard(s) that do not exist, e.g. "
                         f"{missing[0]!r}")


def webdataset_dataset(
    urls,
    preprocessor=None,
    batch_size=None,
    shuffle=True,
    shuffle_buffer_size=1000,
    seed=None,
    cycle_length=None,
    num_parallel_calls=tf.data.AUTOTUNE,
    caption_key="caption",
    input_context=None,
    worker_index=None,
    num_workers=None,
    drop_remainder=False,
    skipped=None,
):
    """A `tf.data.Dataset` of the image-caption samples of WebDataset shards.

    Each shard (a tar file of `{key}.jpg|jpeg|png|webp` images with their
    `{key}.txt` captions, or the `caption_key` field of `{key}.json`) is
    read by a Python generator; `cycle_length` shards are read at once by a
    parallel `interleave`, each decoding its images with TensorFlow's
    decoders (which release the GIL); `preprocessor` then runs in a
    parallel `map`. Samples with an undecodable image, no image, no
    caption, or cut off by a truncated shard are skipped and counted in
    `skipped`, with a warning for the first few, and never stop the input.

    Order: with a `seed` (or `shuffle=False`) the order is the same on
    every run: the shards are shuffled, interleaved in a fixed order, and
    the samples go through a shuffle buffer, all seeded; each iteration
    (epoch) reshuffles both, again reproducibly. Without a seed, reading
    is faster (interleave need not wait for a slow shard) and unordered.

    Multi-worker training: each worker reads its own shards (every
    `num_workers`-th from `worker_index`), given explicitly or by the
    `tf.distribute.InputContext` of
    `strategy.distribute_datasets_from_function`. The dataset then turns
    `tf.data`'s auto-sharding off, so that no strategy shards it again.
    (Handed unsharded to `strategy.experimental_distribute_dataset`, it is
    sharded by element: every worker reads every shard, and the split is
    only right with a `seed`.)

    Args:
        urls: shard paths or URLs (local, `gs://` and other TensorFlow file
            systems, `http(s)://`), brace patterns such as
            `"shards-{000000..000099}.tar"` (see `expand_urls`), or a list.
        preprocessor: None, or a family preprocessor such as
            `CLIPPreprocessor`: a callable taking `{"images": uint8
            (H, W, 3)}` and `{"prompts": strings}` (or both at once) and
            returning a dict of features. With a `batch_size` it gets
            images one by one and prompts a batch at a time (tokenizers are
            faster on batches); the outputs are merged. A
            `CLIPPreprocessor(padding="longest")` then cuts each batch's
            token ids after its longest caption (less text work in `fit`).
            Without one the elements are `{"key", "image", "caption"}`.
        batch_size: None (unbatched) or int. Batching unpreprocessed images
            needs images of one size.
        shuffle: bool, shuffle the shards and the samples.
        shuffle_buffer_size: int, samples in the shuffle buffer.
        seed: None or int, seed of both shuffles.
        cycle_length: int, shards read at once (default: up to 8, at most
            the worker's shards).
        num_parallel_calls: int or `tf.data.AUTOTUNE`, threads of the
            interleave and the preprocessing map; None reads and
            preprocesses in the consumer's thread (no parallelism).
        caption_key: str, the caption's field in `{key}.json` (a `.txt`
            caption comes first; a list of captions gives its first).
        input_context: a `tf.distribute.InputContext`, or None.
        worker_index: int, this worker's index (with `num_workers`).
        num_workers: int, the number of workers reading the shards.
        drop_remainder: bool, drop the last partial batch.
        skipped: a `SkippedSamples` to count the skipped samples in (one
            is made, and still warns, when None).

    Returns:
        A `tf.data.Dataset`.

    Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> dataset = tf.data.Dataset.from_tensor_slices({
    ...     "image": np.zeros((3, 8, 8, 3), "uint8"), "caption": ["a", "b", "c"]})
    >>> written = kerasmm.datasets.write_webdataset(
    ...     dataset, folder + "/s-%02d.tar", samples_per_shard=2, image_format="png")
    >>> os.path.basename(written["pattern"])
    's-{00..01}.tar'
    >>> samples = webdataset_dataset(written["pattern"], seed=0)
    >>> sorted(s["caption"].numpy().decode() for s in samples)
    ['a', 'b', 'c']
    """
    shards = expand_urls(urls)
    shards, sharded = _worker_shards(shards, input_context, worker_index, num_workers)
    _check_local(shards)
    shuffle = check_bool("shuffle", shuffle)
    shuffle_buffer_size = check_positive_int("shuffle_buffer_size", shuffle_buffer_size)
    seed = check_int("seed", seed, allow_none=True)
    batch_size = check_positive_int("batch_size", batch_size, allow_none=True)
    cycle_length = check_positive_int("cycle_length", cycle_length, allow_none=True)
    drop_remainder = check_bool("drop_remainder", drop_remainder)
    if num_parallel_calls != tf.data.AUTOTUNE:
        num_parallel_calls = check_positive_int("num_parallel_calls", num_parallel_calls,
                                                allow_none=True)
    if not isinstance(caption_key, str):
        raise ValueError(f"caption_key must be a str. Received: caption_key={caption_key!r}")
    if preprocessor is not None and not callable(preprocessor):
        raise ValueError("preprocessor must be None or callable. "
                         f"Received: preprocessor={preprocessor!r}")
    if skipped is not None and not isinstance(skipped, SkippedSamples):
        raise ValueError("skipped must be None or a SkippedSamples. "
                         f"Received: skipped={skipped!r}")
    skipped = SkippedSamples() if skipped is None else skipped
    deterministic = seed is not None or not shuffle

    def samples(url):
        for key, image, caption in read_shard(url.decode("utf-8"), caption_key, skipped):
            yield {"key": key, "image": image, "caption": caption}

    dataset = tf.data.Dataset.from_tensor_slices(shards)
    if shuffle:
        dataset = dataset.shuffle(len(shards), seed=seed, reshuffle_each_iteration=True)
    parallel = {} if num_parallel_calls is None else {
        "num_parallel_calls": num_parallel_calls, "deterministic": deterministic}
    dataset = dataset.interleave(
        lambda url: tf.data.Dataset.from_generator(
            samples, args=(url,), output_signature=_SAMPLE_SIGNATURE),
        cycle_length=cycle_length or min(8, len(shards)), **parallel)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed,
                                  reshuffle_each_iteration=True)
    if preprocessor is None:
        if batch_size is not None:
            dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    elif batch_size is None:
        dataset = dataset.map(
            lambda s: preprocessor({"images": s["image"], "prompts": s["caption"]}),
            **parallel)
    else:
        # Images one by one (their sizes differ), prompts a batch at a time:
        # tokenizers are several times faster on batches.
        dataset = dataset.map(
            lambda s: (preprocessor({"images": s["image"]}), s["caption"]), **parallel)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
        dataset = dataset.map(
            lambda features, captions: {**features, **preprocessor({"prompts": captions})},
            **parallel)
    options = tf.data.Options()
    if sharded:
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF)
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
