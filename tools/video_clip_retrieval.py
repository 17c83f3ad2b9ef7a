"""Trains `VideoCLIP` on the moving-shapes captions and reports held-out retrieval R@1.

    python tools/video_clip_retrieval.py [--pooling mean transformer] [--train 2000] [--epochs 4]

Each run starts from the shipped `shapes_clip_tiny` preset
(`VideoCLIP.from_clip`), trains with `fit` and `CLIPLoss`, and evaluates
with `kerasmm.tasks.Retriever` on a gallery of "test" clips, one per
distinct caption ("a red circle moves left"; the test split includes the
colour x shape pairs held out of training), so R@1 chance is 1 / gallery
size in both directions. Step 0 is the zero-shot preset.
"""

import argparse
import time

import keras
import numpy as np

from kerasmm.datasets import moving_shapes_dataset
from kerasmm.datasets.moving_shapes import generate_moving_shapes
from kerasmm.datasets.shapes_captions import caption_tokenizer
from kerasmm.losses import CLIPLoss
from kerasmm.models import VideoCLIP
from kerasmm.preprocessing import CLIPImagePreprocessor
from kerasmm.tasks import Retriever


def retrieval_gallery(split="test", num_examples=500, num_frames=8, image_size=32):
    """Preprocessed clips, one per distinct caption, and their captions."""
    data = generate_moving_shapes(split, num_examples, num_frames, image_size)
    _, first = np.unique(data["captions"], return_index=True)
    first = np.sort(first)
    videos = data["videos"][first]
    frames = CLIPImagePreprocessor(image_size=image_size)(
        videos.reshape((-1,) + videos.shape[2:]))
    videos = np.asarray(frames).reshape(videos.shape[:2] + (image_size, image_size, 3))
    return videos, list(data["captions"][first]), data["held_out"][first]


def evaluate(model, videos, captions):
    """R@1 both ways, and how often the top caption of a clip has its direction
    (chance 0.25) and its colour and shape right."""
    retriever = Retriever(model, caption_tokenizer(), batch_size=64)
    scores = retriever.evaluate(videos, captions, ks=(1,))
    top, _ = retriever.index_texts(captions).search_image(videos, k=1)
    best = [captions[i].split() for i in top[:, 0]]
    truth = [c.split() for c in captions]
    scores["direction"] = np.mean([b[-1] == t[-1] for b, t in zip(best, truth)])
    scores["colour_shape"] = np.mean([b[1:3] == t[1:3] for b, t in zip(best, truth)])
    return scores


def describe(scores):
    return (f"v2t R@1 {scores['i2t_recall@1']:.3f} t2v R@1 {scores['t2i_recall@1']:.3f} "
            f"(v2t top-1 direction right {scores['direction']:.2f}, colour+shape right "
            f"{scores['colour_shape']:.2f})")


def train(pooling, num_train, num_frames=8, seed=0, batch_size=64, learning_rate=1e-3):
    keras.utils.set_random_seed(seed)
    model = VideoCLIP.from_clip("shapes_clip_tiny", num_frames=num_frames, pooling=pooling)
    model.compile(keras.optimizers.Adam(learning_rate), loss=CLIPLoss())
    dataset = moving_shapes_dataset("train", batch_size=batch_size, num_frames=num_frames,
                                    image_size=32, num_examples=num_train, seed=seed)
    return model, dataset


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pooling", nargs="+", default=["mean", "transformer"])
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--num-frames", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    args = parser.parse_args(argv)
    videos, captions, held_out = retrieval_gallery(num_frames=args.num_frames)
    print(f"gallery: {len(captions)} test clips with distinct captions "
          f"({int(held_out.sum())} of held-out colour x shape pairs); "
          f"R@1 chance {1 / len(captions):.4f} both ways")
    for pooling in args.pooling:
        model, dataset = train(pooling, args.train, args.num_frames,
                               learning_rate=args.learning_rate)
        before = evaluate(model, videos, captions)
        start = time.time()
        history = model.fit(dataset, epochs=args.epochs, verbose=0)
        after = evaluate(model, videos, captions)
        print(f"{pooling}: before training {describe(before)}")
        print(f"{pooling}: after {args.epochs} epochs on {args.train} clips "
              f"({time.time() - start:.0f} s, loss {history.history['loss'][0]:.3f} -> "
              f"{history.history['loss'][-1]:.3f}): {describe(after)}")


if __name__ == "__main__":
    main()
