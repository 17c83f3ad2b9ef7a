"""The demo recipe (`kerasmm.demo`) at a tiny scale."""

import os

import keras
import numpy as np
import pytest

from kerasmm import datasets
from kerasmm import demo
from kerasmm import losses
from kerasmm.preprocessing import CLIPImagePreprocessor

IMAGE_SIZE = demo.DEMO_MODEL["image_size"]


def _embeddings(x):
    return np.asarray(keras.ops.convert_to_numpy(x), "float64")


@pytest.fixture(scope="module")
def trained():
    """The demo CLIP after 12 steps on 32 examples, and the CLIP loss of its
    first batch before and after (one `fit` serves every test here)."""
    clip = demo.build_demo_clip(**demo.DEMO_MODEL, seed=0)
    dataset = datasets.shapes_dataset("train", batch_size=16, image_size=IMAGE_SIZE,
                                      num_examples=32, shuffle=False)
    batch = {k: np.asarray(v) for k, v in next(iter(dataset)).items()}
    loss = losses.CLIPLoss()
    before = float(loss(None, clip(batch)))
    history, seconds = demo.train_clip(clip, dataset, epochs=6, learning_rate=4e-3,
                                       verbose=0)
    after = float(loss(None, clip(batch)))
    return {"clip": clip, "history": history, "seconds": seconds,
            "before": before, "after": after}


@pytest.fixture(scope="module")
def trained_clip(trained):
    return trained["clip"]


def test_conv_encoder_form_stream_sees_the_brightest_channel():
    encoder = demo.build_conv_encoder(image_size=16, conv_widths=(4, 8), output_dim=6)
    images = np.random.default_rng(0).normal(size=(3, 16, 16, 3)).astype("float32")
    assert tuple(encoder(images).shape) == (3, 6)
    brightness = keras.Model(encoder.input, encoder.get_layer("brightness").output)
    np.testing.assert_array_equal(_embeddings(brightness(images)),
                                  images.max(axis=-1, keepdims=True))


def test_build_demo_clip_towers_and_seed():
    clip = demo.build_demo_clip(**demo.DEMO_MODEL, seed=3)
    assert clip.output_dim == demo.DEMO_MODEL["embedding_dim"]
    assert clip.text_encoder.vocabulary_size == datasets.shapes_tokenizer().vocabulary_size()
    assert clip.text_encoder.context_length == datasets.SHAPES_SEQUENCE_LENGTH
    np.testing.assert_allclose(float(clip.logit_scale.numpy()), np.log(30.0), rtol=1e-6)
    same = demo.build_demo_clip(**demo.DEMO_MODEL, seed=3)
    other = demo.build_demo_clip(**demo.DEMO_MODEL, seed=4)
    for a, b, c in zip(clip.get_weights(), same.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in
               zip(clip.get_weights(), other.get_weights()))


def test_demo_train_dataset_epochs():
    dataset, steps = demo.demo_train_dataset(batch_size=8, steps_per_epoch=5,
                                             image_size=IMAGE_SIZE)
    assert steps is None and int(dataset.cardinality()) == 5
    batch = next(iter(dataset))
    assert tuple(batch["images"].shape) == (8, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert tuple(batch["token_ids"].shape) == (8, datasets.SHAPES_SEQUENCE_LENGTH)
    # More batches than the train split holds: the split repeats.
    _, steps = demo.demo_train_dataset(batch_size=4096, steps_per_epoch=6,
                                       image_size=IMAGE_SIZE)
    assert steps == 6


@pytest.mark.slow
def test_train_clip_lowers_the_loss_of_its_batches(trained):
    assert len(trained["history"].history["loss"]) == 6 and trained["seconds"] > 0
    # 16 pairs: chance is log(16) = 2.77; 12 steps on the same 32 examples
    # must bring the loss well below it.
    before, after = trained["before"], trained["after"]
    assert before > 2.0 and after < before - 1.0, (before, after)


@pytest.mark.slow
def test_evaluate_clip_matches_numpy(trained_clip):
    tokenizer = datasets.shapes_tokenizer()
    results = demo.evaluate_clip(trained_clip, tokenizer, image_size=IMAGE_SIZE,
                                 num_per_class=2, num_test=40)

    # Zero-shot, transcribed from the CLIP paper: average the normalised
    # prompt embeddings of each class, renormalise, take the best class.
    classes, templates = datasets.ZERO_SHOT_CLASSES, datasets.ZERO_SHOT_TEMPLATES
    prompts = [t.format(c) for c in classes for t in templates]
    text = _embeddings(trained_clip.encode_text(np.asarray(tokenizer(prompts))))
    class_embeddings = text.reshape(len(classes), len(templates), -1).mean(axis=1)
    class_embeddings /= np.linalg.norm(class_embeddings, axis=1, keepdims=True)
    images, labels = datasets.shapes_zero_shot_set(2, IMAGE_SIZE)
    predictions = np.argmax(_embeddings(trained_clip.encode_image(images))
                            @ class_embeddings.T, axis=1)
    correct = predictions == labels
    held = np.isin(labels, datasets.HELD_OUT_CLASS_IDS)
    assert results["zero_shot_accuracy"] == pytest.approx(correct.mean())
    assert results["zero_shot_accuracy_seen"] == pytest.approx(correct[~held].mean())
    assert results["zero_shot_accuracy_held_out"] == pytest.approx(correct[held].mean())
    assert set(results["held_out_accuracy"]) == {
        classes[i] for i in datasets.HELD_OUT_CLASS_IDS}

    # Retrieval by brute force: caption i belongs to image i.
    test = datasets.generate_shapes("test", 40, IMAGE_SIZE)
    image_embeddings = _embeddings(trained_clip.encode_image(
        np.asarray(CLIPImagePreprocessor(IMAGE_SIZE)(test["images"]))))
    text_embeddings = _embeddings(trained_clip.encode_text(
        np.asarray(tokenizer([str(c) for c in test["captions"]]))))
    similarity = image_embeddings @ text_embeddings.T
    own = np.diag(similarity)
    i2t_rank = (similarity > own[:, None]).sum(axis=1)
    t2i_rank = (similarity.T > own[:, None]).sum(axis=1)
    for k in (1, 5):
        assert results[f"i2t_recall@{k}"] == pytest.approx(np.mean(i2t_rank < k), abs=1e-6)
        assert results[f"t2i_recall@{k}"] == pytest.approx(np.mean(t2i_rank < k), abs=1e-6)

    table = demo.format_results(results)
    assert f"{results['zero_shot_accuracy']:.3f}" in table
    assert "held out" in table


def test_matches_reads_the_scene():
    test = demo.load_test_split(num_test=60, image_size=IMAGE_SIZE)
    for index in range(60):
        color, shape = test["colors"][index, 0], test["shapes"][index, 0]
        query = f"a {datasets.COLORS[color]} {datasets.SHAPES[shape]}"
        assert demo._matches(query, test, index)
        absent = [(c, s) for c in range(len(datasets.COLORS))
                  for s in range(len(datasets.SHAPES))
                  if (c, s) not in set(zip(test["colors"][index], test["shapes"][index]))][0]
        query = f"a {datasets.COLORS[absent[0]]} {datasets.SHAPES[absent[1]]}"
        assert not demo._matches(query, test, index)


@pytest.mark.slow
def test_save_clip_and_retrievals(trained_clip, tmp_path):
    path = demo.save_clip(trained_clip, str(tmp_path / "out"))
    assert path.endswith(".keras") and os.path.isabs(path)
    loaded = keras.saving.load_model(path)
    images = np.random.default_rng(0).normal(
        size=(4, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")
    token_ids = np.asarray(datasets.shapes_tokenizer()(["a red circle", "a blue cross"]))
    np.testing.assert_allclose(_embeddings(loaded.encode_image(images)),
                               _embeddings(trained_clip.encode_image(images)), atol=1e-6)
    np.testing.assert_allclose(_embeddings(loaded.encode_text(token_ids)),
                               _embeddings(trained_clip.encode_text(token_ids)), atol=1e-6)

    test = demo.load_test_split(num_test=12, image_size=IMAGE_SIZE)
    png, labelled = demo.save_retrievals(trained_clip, test, str(tmp_path / "r.png"),
                                         queries=("a red circle", "a blue square"), k=3)
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert labelled  # matplotlib is in the test extra
