"""Trains the audio-visual QA Perceiver IO and its two ablations; prints held-out accuracies.

    python tools/av_qa_ablations.py [--train 3000] [--test 500] [--epochs 8]

Three models, the same `build_av_qa_perceiver` architecture and training
(`fit`, Adam, cross-entropy on the 15 answers): video + audio + question,
audio + question (no video), video + question (no audio). Accuracies are on
the "test" split of `kerasmm.datasets.av_qa` (unseen clips; colour x shape
pairs held out of training), overall and on the held-out pairs' questions.
Without audio the best possible is about 50% (one of the clip's two
halves); without video, a guess among 4 to 6 answers.
"""

import argparse
import time

import keras
import numpy as np

from kerasmm.datasets.av_qa import ANSWERS
from kerasmm.datasets.av_qa import QUESTION_LENGTH
from kerasmm.datasets.av_qa import QUESTION_VOCABULARY
from kerasmm.datasets.av_qa import av_qa_dataset
from kerasmm.datasets.av_qa import av_qa_features
from kerasmm.datasets.av_qa import generate_av_qa
from kerasmm.models import build_av_qa_fusion
from kerasmm.models import build_av_qa_perceiver

RUNS = {"video + audio": ("audio", "question", "video"),
        "audio only": ("audio", "question"),
        "video only": ("question", "video")}


def train_av_qa(modalities, num_train=3000, epochs=8, num_frames=4, seed=0,
                batch_size=32, learning_rate=3e-3, **model_kwargs):
    """A `build_av_qa_perceiver` model fitted on the "train" split; returns (model, history)."""
    keras.utils.set_random_seed(seed)
    sizes = (len(ANSWERS), len(QUESTION_VOCABULARY), QUESTION_LENGTH)
    if model_kwargs.pop("architecture", "fusion") == "fusion":
        model = build_av_qa_fusion(*sizes, video_shape=(num_frames, 16, 16, 3),
                                   modalities=modalities)
    else:
        model = build_av_qa_perceiver(*sizes, video_shape=(num_frames, 16, 16, 3),
                                      modalities=modalities, **model_kwargs)
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    dataset = av_qa_dataset("train", batch_size, num_train, num_frames, modalities=modalities,
                            seed=seed)
    history = model.fit(dataset, epochs=epochs, verbose=0)
    return model, history


def accuracy(model, data, modalities, mask=None):
    logits = model.predict(av_qa_features(data, modalities), batch_size=64, verbose=0)
    right = np.argmax(logits, axis=-1) == data["answer_ids"]
    return float(right.mean() if mask is None else right[mask].mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--num-frames", type=int, default=4)
    parser.add_argument("--runs", nargs="+", default=list(RUNS))
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--spatial-downsample", type=int, default=16)
    parser.add_argument("--temporal-downsample", type=int, default=1)
    parser.add_argument("--architecture", default="fusion",
                        choices=("fusion", "perceiver_io", "perceiver"))
    args = parser.parse_args(argv)
    test = generate_av_qa("test", args.test, args.num_frames)
    print(f"test: {args.test} questions ({int(test['held_out'].sum())} about held-out "
          "colour x shape pairs)")
    for name in args.runs:
        start = time.time()
        model, history = train_av_qa(RUNS[name], args.train, args.epochs, args.num_frames,
                                     learning_rate=args.learning_rate,
                                     spatial_downsample=args.spatial_downsample,
                                     temporal_downsample=args.temporal_downsample,
                                     architecture=args.architecture)
        print(f"{name:14s} held-out accuracy {accuracy(model, test, RUNS[name]):.3f} "
              f"(held-out pairs {accuracy(model, test, RUNS[name], test['held_out']):.3f}; "
              f"train accuracy {history.history['accuracy'][-1]:.3f}; "
              f"{args.epochs} epochs on {args.train}, {time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
