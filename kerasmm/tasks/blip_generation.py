"""What BLIP's generative tasks share: cached decoding, presets, their preprocessor."""

import keras

from kerasmm.models.blip import BLIP_PRESETS
from kerasmm.models.blip import BLIPPreprocessor
from kerasmm.models.blip import BLIPTextDecoder
from kerasmm.models.blip import BLIPVisionEncoder
from kerasmm.models.generation import GenerationMixin
from kerasmm.presets import PresetMixin
from kerasmm.utils.checks import check_int

TOKEN_ARGUMENTS = ("start_token_id", "end_token_id", "pad_token_id")


def check_instance(name, value, cls, allow_none=False):
    if (value is None and allow_none) or isinstance(value, cls):
        return value
    raise TypeError(f"{name} must be a {cls.__name__}. "
                    f"Received: {name} of type {type(value).__name__}")


class BLIPGenerationMixin(GenerationMixin, PresetMixin):
    """For a `keras.Model` with `vision_encoder`, `text_decoder` (a
    `BLIPTextDecoder`) and token ids: `generate` with the decoder's
    key/value cache, `from_preset` that also loads the preset's
    `BLIPPreprocessor`, and the shared constructor checks and config.

    A class sets `tower_classes` (`{constructor argument: class}`) and
    implements `generation_context(inputs)`: the decoder's `cross_cache`.
    """

    family_presets = BLIP_PRESETS
    tower_classes = {"vision_encoder": BLIPVisionEncoder, "text_decoder": BLIPTextDecoder}
    # The ViT and the cross-attention keys are big matrix products: oneDNN's,
    # outside the XLA loop, take ~20% fewer CPU seconds than XLA's (ViT-B/16
    # at 384 px on CPU; benchmarks/blip_generate.py).
    jit_compile_context = False

    def _set_towers(self, towers, token_ids, preprocessor):
        for name, value in towers.items():
            setattr(self, name, check_instance(name, value, self.tower_classes[name]))
        for name, value in token_ids.items():
            check_int(name, value, minimum=0)
            if value >= self.text_decoder.vocabulary_size:
                raise ValueError(f"{name} must be a token id below the vocabulary size "
                                 f"{self.text_decoder.vocabulary_size}. Received: "
                                 f"{name}={value}")
            setattr(self, name, int(value))
        self.preprocessor = check_instance("preprocessor", preprocessor, BLIPPreprocessor,
                                           allow_none=True)
        self.built = True

    @property
    def vocabulary_size(self):
        return self.text_decoder.vocabulary_size

    def init_cache(self, context, batch_size, max_length):
        return self.text_decoder.init_cache(batch_size, max_length)

    def decode_step(self, token_ids, index, cache, context):
        return self.text_decoder.decode_step(token_ids, index, cache, context)

    def _preprocessor(self):
        if self.preprocessor is None:
            raise ValueError(f"This {type(self).__name__} has no preprocessor: pass "
                             "preprocessor=BLIPPreprocessor(...), or load it with from_preset")
        return self.preprocessor

    def _texts(self, token_ids):
        return self._preprocessor().detokenize(token_ids)

    @classmethod
    def from_preset(cls, preset, load_weights=True, allow_unpinned=False, **overrides):
        """`PresetMixin.from_preset`, and the preset's `BLIPPreprocessor`
        (when the preset has a tokenizer and image settings) as
        `preprocessor`, for `caption` / `answer`."""
        model = super().from_preset(preset, load_weights=load_weights,
                                    allow_unpinned=allow_unpinned, **overrides)
        if model.preprocessor is None and "preprocessor" not in overrides:
            try:
                model.preprocessor = BLIPPreprocessor.from_preset(
                    preset, allow_unpinned=allow_unpinned)
            except ValueError:  # A preset saved without its preprocessor.
                model.preprocessor = None
        return model

    def get_config(self):
        config = super().get_config()
        config.update({name: keras.saving.serialize_keras_object(getattr(self, name))
                       for name in (*self.tower_classes, "preprocessor")})
        config.update({name: getattr(self, name) for name in TOKEN_ARGUMENTS})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in (*cls.tower_classes, "preprocessor"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
