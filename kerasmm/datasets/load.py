"""`kerasmm.datasets.load`: real datasets as `tf.data` in the families' conventions.

TFDS is imported here only when `load` runs (never by `import
kerasmm.datasets`); the builders kerasmm adds live in
`kerasmm/datasets/builders/` and are registered on first use.
"""

import collections
import importlib
import os

from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_positive_int

# The answer vocabulary size of most VQA v2 classifiers (Anderson et al. 2018's
# "bottom-up" setup: the answers seen >= 9 times).
DEFAULT_NUM_ANSWERS = 3129

Dataset = collections.namedtuple("Dataset", "tfds_name module kind splits")
DATASETS = {
    "coco_captions": Dataset("coco_captions", None, "image_text",
                             ("train", "validation", "test", "restval")),
    "flickr30k": Dataset("kerasmm_flickr30k", "flickr30k", "image_text",
                         ("train", "validation", "test")),
    "visual_genome/regions": Dataset("kerasmm_visual_genome/regions", "visual_genome",
                                     "regions", ("train",)),
    "visual_genome/qa": Dataset("kerasmm_visual_genome/qa", "visual_genome", "qa",
                                ("train",)),
    "vqa_v2": Dataset("kerasmm_vqa_v2", "vqa_v2", "vqa",
                      ("train", "validation", "test", "test_dev")),
    "msr_vtt": Dataset("kerasmm_msr_vtt", "msr_vtt", "video_text",
                       ("train", "validation", "test", "test_1k")),
    "clotho": Dataset("kerasmm_clotho", "clotho", "audio_text",
                      ("train", "validation", "test")),
}
# TFDS's coco_captions calls Karpathy's validation split "val".
TFDS_SPLIT_NAMES = {("coco_captions", "validation"): "val"}
SPLIT_ALIASES = {"val": "validation", "valid": "validation", "dev": "validation"}
# Which captions an example keeps (see `load`).
CAPTION_CHOICES = ("all", "random", "first")
MODALITIES = {"image_text": "images", "regions": "images", "audio_text": "audio",
              "video_text": "videos"}


def load(name, split, data_dir=None, manual_dir=None, preprocessor=None, caption="all",
         num_answers=DEFAULT_NUM_ANSWERS, num_examples=None, shuffle_files=False, seed=0,
         download=False, with_info=False):
    """A real dataset as a `tf.data.Dataset` of single examples.

    Datasets (see README, "Datasets", for the files each needs):
    `"coco_captions"` (TFDS's own, Karpathy's splits), and the builders
    kerasmm adds, read from the official files the user placed in
    `manual_dir` and prepared into `data_dir` on first use:
    `"flickr30k"`, `"visual_genome/regions"`, `"visual_genome/qa"`,
    `"vqa_v2"`, `"msr_vtt"`, `"clotho"`.

    Examples are, without a preprocessor:
    - image-text (`coco_captions`, `flickr30k`, `visual_genome/regions`):
      `{"images": uint8 (H, W, 3), "captions": string (N,)}`
      (`visual_genome/regions` adds `"boxes"`, float32 `(N, 4)`
      normalised `ymin, xmin, ymax, xmax` of each region phrase);
    - `vqa_v2`: `{"images", "questions": string, "answers": string (10,)
      (none in the test splits),
      "targets": float32 (num_answers,)}`, the soft score
      `min(1, count / 3)` of each vocabulary answer given `count` times
      (the vocabulary: the first `num_answers` answers of
      `info.metadata["answer_counts"]`, with `with_info=True`);
    - `visual_genome/qa`: `{"images", "questions", "answers": string (1,)}`;
    - `msr_vtt`: `{"videos": uint8 (T, H, W, 3), "captions"}`, `T` frames
      sampled uniformly when the dataset was prepared;
    - `clotho`: `{"audio": float32 (samples,) at 44.1 kHz, "captions"}`.

    With `preprocessor` (a family preprocessor such as `CLIPPreprocessor`,
    called on `{modality: x, "prompts": texts}`), examples are the model's
    inputs: `{"images": float, "token_ids": ...}` pairs for `fit` (one per
    caption with `caption="all"`), and `(inputs, targets)` for `vqa_v2`
    (`(inputs, answers)` for `visual_genome/qa`).

    Args:
        name: str, one of `DATASETS`.
        split: str, one of the dataset's `DATASETS[name].splits`: `"train"`,
            `"validation"` (or `"val"`), `"test"`; also `"restval"`
            (`coco_captions`), `"test_dev"` (`vqa_v2`, questions only) and
            `"test_1k"` (`msr_vtt`'s 1k-A retrieval set).
        data_dir: str, TFDS data directory (TFDS' default when None).
        manual_dir: str, folder holding the official files of a kerasmm
            builder; needed until the dataset is prepared in `data_dir`.
        preprocessor: a family preprocessor, or None for raw examples.
        caption: `"all"`, `"random"` (one per example, drawn anew each
            epoch) or `"first"`: the captions an example keeps.
        num_answers: int, size of the VQA answer vocabulary (the most
            frequent `multiple_choice_answer`s of train).
        num_examples: int, read only the first examples of the split.
        shuffle_files: bool, TFDS' shuffling of file order (seeded).
        seed: int, seed of `shuffle_files` and of `caption="random"`.
        download: bool, let TFDS download `coco_captions` (kerasmm's
            builders never download).
        with_info: bool, also return TFDS' `DatasetInfo`.

    Returns:
        A `tf.data.Dataset`, or `(dataset, info)` when `with_info`. Batch
        raw examples with `ragged_batch` (image sizes differ), preprocessed
        ones with `batch`.

    Example (README, "Datasets", shows one with the official files):

    >>> import tempfile
    >>> load("flickr30k", "test", data_dir=tempfile.mkdtemp(), manual_dir="/no/such/dir")
    Traceback (most recent call last):
    ...
    ValueError: manual_dir must be an existing folder holding dataset_flickr30k.json, ...
    """
    spec = DATASETS.get(name)
    if spec is None:
        raise ValueError(f"name must be one of {tuple(DATASETS)}. Received: name={name!r}")
    split = check_choice("split", SPLIT_ALIASES.get(split, split), spec.splits)
    check_choice("caption", caption, CAPTION_CHOICES)
    num_examples = check_positive_int("num_examples", num_examples, allow_none=True)
    num_answers = check_positive_int("num_answers", num_answers)
    seed = check_int("seed", seed)
    for arg, value in (("shuffle_files", shuffle_files), ("download", download),
                       ("with_info", with_info)):
        check_bool(arg, value)
    for arg, value in (("data_dir", data_dir), ("manual_dir", manual_dir)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise ValueError(f"{arg} must be None or a path. Received: {arg}={value!r}")
    data_dir, manual_dir = (None if value is None else os.path.expanduser(os.fspath(value))
                            for value in (data_dir, manual_dir))
    if preprocessor is not None and not callable(preprocessor):
        raise ValueError("preprocessor must be None or a family preprocessor (callable). "
                         f"Received: preprocessor={preprocessor!r}")

    ds, info = _read(name, spec, split, data_dir, manual_dir, num_examples, shuffle_files,
                     seed, download)
    if num_examples is not None:  # Already a slice of the split; TFDS' mocks ignore it.
        ds = ds.take(num_examples)
    ds = _convert(spec.kind, ds, info, preprocessor, caption, num_answers, seed)
    return (ds, info) if with_info else ds


def _read(name, spec, split, data_dir, manual_dir, num_examples, shuffle_files, seed,
          download):
    import tensorflow_datasets as tfds

    download_kwargs = {}
    if spec.module is not None:
        # Importing the builder's module registers it with TFDS.
        importlib.import_module(f"kerasmm.datasets.builders.{spec.module}")
        builder = tfds.builder(spec.tfds_name, data_dir=data_dir)
        if not builder.is_prepared():
            from kerasmm.datasets.builders import manual

            manual.check_manual_files(name, manual_dir, type(builder).MANUAL_FILES)
        download = True  # Prepares from manual_dir; reuses a prepared dataset.
        download_kwargs = {"download_config": tfds.download.DownloadConfig(
            manual_dir=None if manual_dir is None else os.fspath(manual_dir))}
    split = TFDS_SPLIT_NAMES.get((name, split), split)
    selected = split if num_examples is None else f"{split}[:{num_examples}]"
    try:
        return tfds.load(spec.tfds_name, split=selected, data_dir=data_dir,
                         download=download, shuffle_files=shuffle_files, with_info=True,
                         read_config=tfds.ReadConfig(shuffle_seed=seed),
                         download_and_prepare_kwargs=download_kwargs)
    except AssertionError as error:  # TFDS' way of saying the data is not there.
        raise ValueError(
            f"Dataset {name!r} is not prepared in data_dir={data_dir!r}: pass download=True "
            f"(or run `tfds build {spec.tfds_name}`). TFDS said: {error}") from None


def _convert(kind, ds, info, preprocessor, caption, num_answers, seed):
    import tensorflow as tf

    from kerasmm.datasets.builders import conventions

    parallel = tf.data.AUTOTUNE
    if kind == "vqa":
        vocabulary = conventions.answer_vocabulary(info.metadata["answer_counts"],
                                                   num_answers)
        targets = conventions.vqa_targets(vocabulary)
        ds = ds.map(lambda ex: {
            "images": conventions.rgb(ex["image"]), "questions": ex["question"],
            "answers": ex["answers"]["answer"],
            "targets": targets(ex["answers"]["answer"])}, num_parallel_calls=parallel)
        if preprocessor is None:
            return ds
        return conventions.preprocess_questions(ds, preprocessor, "targets")
    if kind == "qa":
        def per_question(ex):
            qas = ex["qas"]
            count = tf.shape(qas["question"])[0]
            images = tf.repeat(conventions.rgb(ex["image"])[None], count, axis=0)
            return tf.data.Dataset.from_tensor_slices({
                "images": images, "questions": qas["question"],
                "answers": qas["answer"][:, None]})

        ds = ds.flat_map(per_question)
        if preprocessor is None:
            return ds
        return conventions.preprocess_questions(ds, preprocessor, "answers")
    modality = MODALITIES[kind]
    ds = ds.map(lambda ex: _raw(kind, ex, conventions), num_parallel_calls=parallel)
    ds = conventions.pick_captions(ds, caption, seed)
    if preprocessor is None:
        return ds
    ds = ds.map(lambda ex: {modality: ex[modality], "captions": ex["captions"]})
    return conventions.preprocess_pairs(ds, preprocessor, modality)


def _raw(kind, ex, conventions):
    if kind == "audio_text":
        return {"audio": ex["audio"], "captions": ex["captions"]}
    if kind == "video_text":
        return {"videos": ex["video"], "captions": ex["captions"]}
    images = conventions.rgb(ex["image"])
    if kind == "regions":
        return {"images": images, "captions": ex["regions"]["phrase"],
                "boxes": ex["regions"]["bbox"]}
    captions = ex["captions"]
    # TFDS's coco_captions holds {"text", "id"} per caption.
    return {"images": images, "captions": captions["text"] if isinstance(captions, dict)
            else captions}
