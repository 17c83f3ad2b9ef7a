"""ImageCaptioner (and BLIP's other tasks): configs, `.keras` and preset round
trips, `caption` through the preprocessor, one compilation per shape."""

import os

import keras
import numpy as np
import pytest

from kerasmm.models import BLIPBackbone
from kerasmm.models import BLIPPreprocessor
from kerasmm.models import BLIPTextDecoder
from kerasmm.models import BLIPTextEncoder
from kerasmm.models import BLIPTokenizer
from kerasmm.models import BLIPVisionEncoder
from kerasmm.models.siglip import SigLIPImagePreprocessor
from kerasmm.tasks import BLIPQuestionAnswerer
from kerasmm.tasks import ImageCaptioner
from kerasmm.tasks import ImageTextMatcher
from tests.convert.parity import fixture, reference

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "blue", "circle",
              "square", "on", "the", "left", "right"]
TEXT = dict(vocabulary_size=len(VOCABULARY) + 2, hidden_dim=16, num_layers=1, num_heads=2,
            intermediate_dim=24, max_sequence_length=12, cross_attention_dim=16)


def preprocessor():
    return BLIPPreprocessor(tokenizer=BLIPTokenizer(VOCABULARY, sequence_length=8),
                            image_preprocessor=SigLIPImagePreprocessor(image_size=16))


def vision():
    return BLIPVisionEncoder(image_size=16, patch_size=8, hidden_dim=16, num_layers=1,
                             num_heads=2, intermediate_dim=24)


def captioner():
    keras.utils.set_random_seed(0)
    return ImageCaptioner(vision(), BLIPTextDecoder(**TEXT), start_token_id=14,
                          end_token_id=3, pad_token_id=0, preprocessor=preprocessor())


def inputs():
    rng = np.random.default_rng(0)
    return {"images": rng.normal(size=(2, 16, 16, 3)).astype("float32"),
            "token_ids": np.array([[14, 5, 6, 8, 3, 0], [14, 7, 9, 3, 0, 0]], "int32"),
            "padding_mask": np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]], bool)}


def test_keras_file_round_trip(tmp_path):
    model = captioner()
    path = os.path.join(tmp_path, "captioner.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, ImageCaptioner)
    assert restored.get_config()["start_token_id"] == 14
    np.testing.assert_allclose(restored(inputs()), model(inputs()), atol=1e-6)
    assert restored.preprocessor.tokenizer.vocabulary == model.preprocessor.tokenizer.vocabulary


@pytest.mark.slow  # One XLA compilation (~10 s on 2 shared cores).
def test_preset_round_trip_and_caption(tmp_path):
    model = captioner()
    model.save_to_preset(str(tmp_path), preprocessor=model.preprocessor)
    restored = ImageCaptioner.from_preset(str(tmp_path))
    np.testing.assert_allclose(restored(inputs()), model(inputs()), atol=1e-6)
    pictures = np.random.default_rng(1).integers(0, 256, (2, 24, 20, 3), dtype="uint8")
    captions = restored.caption(pictures, max_length=5)
    assert isinstance(captions, list) and len(captions) == 2
    assert all(isinstance(c, str) for c in captions)
    pixels = restored.preprocessor({"images": pictures})["images"]
    ids = restored.generate(pixels, max_length=5)
    assert restored.generate_trace_count == 1  # caption and generate: one compilation.
    assert captions == restored.preprocessor.detokenize(ids)


@pytest.mark.slow  # Two XLA compilations (~15 s on 2 shared cores).
def test_caption_continues_prompts():
    model = captioner()
    pictures = np.random.default_rng(2).integers(0, 256, (3, 16, 16, 3), dtype="uint8")
    captions = model.caption(pictures, max_length=3, prompt=["a red circle", "the left",
                                                             "A blue square"])
    assert captions[0].startswith("a red circle") and captions[1].startswith("the left")
    assert captions[2].startswith("a blue square")
    assert model.generate_trace_count == 2  # Prompt lengths 3 and 2: one function each.
    pixels = model.preprocessor({"images": pictures})["images"]
    ids = model.generate(pixels[::2], max_length=3, prompt_token_ids=[[5, 6, 8], [5, 7, 9]])
    assert model.generate_trace_count == 2  # The same shapes as the first group.
    assert model.preprocessor.detokenize(ids) == [captions[0], captions[2]]
    shared = model.caption(pictures[:2], max_length=3, prompt="the left")
    assert shared[1] == captions[1] and shared[0].startswith("the left")


def test_prompt_errors_name_the_argument():
    model = captioner()
    images = np.zeros((2, 16, 16, 3), "float32")
    with pytest.raises(ValueError, match="prompt_token_ids must be"):
        model.generate(images, prompt_token_ids=np.zeros((3, 2), "int32"))
    with pytest.raises(ValueError, match="prompt_token_ids must be integers"):
        model.generate(images, prompt_token_ids=[5, 99])
    with pytest.raises(ValueError, match="one per image"):
        model.caption(np.zeros((2, 16, 16, 3), "uint8"), prompt=["a red"])
    assert model.generate_trace_count == 0


def test_fit_one_step_changes_the_weights():
    model = captioner()
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = inputs()
    before = [np.array(w) for w in model.trainable_weights]
    model.fit(x, np.roll(x["token_ids"], -1, axis=1), epochs=1, verbose=0)
    changed = [not np.allclose(a, np.array(w)) for a, w in zip(before, model.trainable_weights)]
    assert sum(changed) > 0.9 * len(changed)


def test_from_preset_of_a_transformers_directory_loads_its_preprocessor():
    model = ImageCaptioner.from_preset(fixture("hf_blip_captioning"), load_weights=False)
    assert isinstance(model.preprocessor, BLIPPreprocessor)
    image = model.preprocessor.image_preprocessor.get_config()
    assert (image["image_size"], image["interpolation"]) == (32, "bicubic")
    ref = reference("hf_blip_captioning")
    outputs = model.preprocessor({"prompts": ["a picture of"]})
    np.testing.assert_array_equal(outputs["token_ids"][0, :5], ref["token_ids"][0, :5])


def test_errors_name_the_argument():
    with pytest.raises(TypeError, match="text_decoder"):
        ImageCaptioner(vision(), BLIPTextEncoder(**TEXT), 14, 3, 0)
    with pytest.raises(ValueError, match="cross_attention_dim"):
        ImageCaptioner(vision(), BLIPTextDecoder(**{**TEXT, "cross_attention_dim": 8}),
                       14, 3, 0)
    with pytest.raises(ValueError, match="start_token_id"):
        ImageCaptioner(vision(), BLIPTextDecoder(**TEXT), 99, 3, 0)
    model = ImageCaptioner(vision(), BLIPTextDecoder(**TEXT), 14, 3, 0)
    with pytest.raises(ValueError, match="no preprocessor"):
        model.caption(np.zeros((1, 16, 16, 3), "uint8"))


def test_question_answerer_and_matcher_round_trip(tmp_path):
    keras.utils.set_random_seed(1)
    vqa = BLIPQuestionAnswerer(vision(), BLIPTextEncoder(**TEXT), BLIPTextDecoder(**TEXT),
                               14, 3, 0)
    x = {**inputs(), "answer_token_ids": inputs()["token_ids"][:, :3]}
    matcher = ImageTextMatcher(BLIPBackbone(vision(), BLIPTextEncoder(**TEXT)),
                               embedding_dim=8)
    for model, output in ((vqa, lambda m: m(x)), (matcher, lambda m: m.similarity(x))):
        path = os.path.join(tmp_path, f"{model.name}.keras")
        model.save(path)
        np.testing.assert_allclose(output(keras.saving.load_model(path)), output(model),
                                   atol=1e-6)
    assert vqa(x).shape == (2, 3, TEXT["vocabulary_size"])
    probability = np.asarray(matcher.match_probability(x))
    assert probability.shape == (2,) and np.all((probability > 0) & (probability < 1))
    with pytest.raises(ValueError, match="embedding_dim=None"):
        ImageTextMatcher(matcher.backbone).similarity(x)
