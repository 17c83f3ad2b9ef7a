"""VQA v2 (balanced real images), from the files the user downloaded.

Manual files (the official releases, unchanged, unzipped):

- `v2_OpenEnded_mscoco_{train,val}2014_questions.json`:
  `{"questions": [{"image_id", "question", "question_id"}], "info", ...}`;
- `v2_mscoco_{train,val}2014_annotations.json`: `{"annotations":
  [{"question_id", "image_id", "multiple_choice_answer", "answer_type",
  "question_type", "answers": [{"answer", "answer_confidence", "answer_id"}
  x 10]}], ...}`;
- `train2014/`, `val2014/`: COCO 2014's images,
  `COCO_train2014_000000458752.jpg`.

Optional: `v2_OpenEnded_mscoco_{test,test-dev}2015_questions.json` and
`test2015/` give the `test` and `test_dev` splits (no answers: empty
`answers`, zero targets).

One example per question. The answer vocabulary (the train split's
`multiple_choice_answer`s, most frequent first, with their counts) is kept
in the dataset's metadata, `info.metadata["answer_counts"]`.
"""

import collections
import os

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from kerasmm.datasets.builders import conventions
from kerasmm.datasets.builders import manual

SPLITS = {"train": "train2014", "validation": "val2014"}
# Questions without public answers, built when their file is in manual_dir;
# both use the test2015 images.
TEST_SPLITS = {"test": "test2015", "test_dev": "test-dev2015"}
TEST_IMAGES = "test2015"
CONFIDENCES = ("yes", "maybe", "no")
# The annotation fields of a test question.
NO_ANSWERS = {"question_type": "", "answer_type": "", "multiple_choice_answer": "",
              "answers": []}


def questions_file(subtype):
    return f"v2_OpenEnded_mscoco_{subtype}_questions.json"


def annotations_file(subtype):
    return f"v2_mscoco_{subtype}_annotations.json"


def image_file(subtype, image_id):
    """COCO's image path, relative to manual_dir."""
    return os.path.join(subtype, f"COCO_{subtype}_{image_id:012d}.jpg")


def read_test_split(manual_dir, subtype):
    """`[(question, None)]` of a test split (its answers are not public)."""
    questions = manual.read_json(os.path.join(manual_dir, questions_file(subtype)))
    try:
        return [(question, None) for question in questions["questions"]]
    except (KeyError, TypeError) as error:
        raise ValueError(f"{questions_file(subtype)} lacks {error}: not the official VQA "
                         "v2 file") from None


def read_split(manual_dir, subtype):
    """`[(question, annotation)]` of a split, matched by `question_id`."""
    questions = manual.read_json(os.path.join(manual_dir, questions_file(subtype)))
    annotations = manual.read_json(os.path.join(manual_dir, annotations_file(subtype)))
    try:
        by_id = {a["question_id"]: a for a in annotations["annotations"]}
        pairs = [(q, by_id.get(q["question_id"])) for q in questions["questions"]]
    except (KeyError, TypeError) as error:
        raise ValueError(f"{questions_file(subtype)} / {annotations_file(subtype)} lack "
                         f"{error}: not the official VQA v2 files") from None
    unmatched = [q["question_id"] for q, a in pairs if a is None]
    if unmatched:
        raise ValueError(f"{annotations_file(subtype)} has no annotation for "
                         f"{len(unmatched)} question(s) of {questions_file(subtype)}, "
                         f"e.g. question_id={unmatched[0]}")
    return pairs


def answer_counts(pairs):
    """`[[answer, count]]` of the normalised `multiple_choice_answer`s, most
    frequent first (ties by answer)."""
    counts = collections.Counter(
        conventions.normalize_answer(a["multiple_choice_answer"]) for _, a in pairs)
    return [[answer, count] for answer, count in
            sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


class KerasmmVqaV2(manual.ManualBuilder):
    """VQA v2: questions about COCO images with 10 human answers each."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    MANUAL_FILES = tuple(
        name for subtype in SPLITS.values()
        for name in (questions_file(subtype), annotations_file(subtype), subtype + "/"))
    MANUAL_DOWNLOAD_INSTRUCTIONS = manual.manual_instructions(MANUAL_FILES)
    code_path = epath.Path(__file__)  # TFDS 4.9 cannot find it on Python >= 3.9.

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description="VQA v2: open-ended questions about COCO 2014 images.",
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3)),
                "image/id": np.int64,
                "question_id": np.int64,
                "question": tfds.features.Text(),
                "question_type": tfds.features.Text(),
                "answer_type": tfds.features.Text(),
                "multiple_choice_answer": tfds.features.Text(),
                "answers": tfds.features.Sequence({
                    "answer": tfds.features.Text(),
                    "answer_confidence": tfds.features.ClassLabel(names=CONFIDENCES),
                }),
            }),
            metadata=tfds.core.MetadataDict(),
            homepage="https://visualqa.org/",
        )

    def _split_generators(self, dl_manager):
        manual_dir = self.manual_dir(dl_manager)
        splits = {name: read_split(manual_dir, subtype) for name, subtype in SPLITS.items()}
        self.info.metadata["answer_counts"] = answer_counts(splits["train"])
        folders = dict(SPLITS)
        for name, subtype in TEST_SPLITS.items():
            if os.path.isfile(os.path.join(manual_dir, questions_file(subtype))):
                splits[name], folders[name] = read_test_split(manual_dir, subtype), TEST_IMAGES
        return {name: self._generate_examples(manual_dir, folders[name], pairs)
                for name, pairs in splits.items()}

    def _generate_examples(self, manual_dir, image_folder, pairs):
        for question, annotation in pairs:
            annotation = annotation or NO_ANSWERS
            path = os.path.join(manual_dir, image_file(image_folder, question["image_id"]))
            if not os.path.isfile(path):
                raise ValueError(f"Image {path!r} of question_id="
                                 f"{question['question_id']} is missing from manual_dir")
            yield question["question_id"], {
                "image": path,
                "image/id": question["image_id"],
                "question_id": question["question_id"],
                "question": question["question"],
                "question_type": annotation["question_type"],
                "answer_type": annotation["answer_type"],
                "multiple_choice_answer": annotation["multiple_choice_answer"],
                "answers": [{"answer": a["answer"], "answer_confidence": a["answer_confidence"]}
                            for a in annotation["answers"]],
            }
