"""CLAP: contrastive audio-text pretraining, CLIP's model with an audio tower."""

import types

import keras

from kerasmm.losses import CLIPLoss
from kerasmm.losses import SigLIPLoss
from kerasmm.models.ast import AudioSpectrogramTransformer
from kerasmm.models.clap.clap_audio_encoder import CLAPAudioEncoder
from kerasmm.models.clap.clap_audio_encoder import PooledAudioTower
from kerasmm.models.clip.clip_model import CLIP
from kerasmm.utils.constants import LOGIT_SCALE_INIT


@keras.saving.register_keras_serializable(package="kerasmm")
class CLAP(CLIP):
    """Contrastive audio-text model: an audio tower, a text tower, a temperature.

    A `kerasmm.models.CLIP` whose first tower hears: `audio_encoder` maps
    audio (waveforms `(batch, samples)`, or features such as log-mel
    frames, whatever the tower takes) to vectors, `text_encoder` token ids
    to vectors; both are projected (a Dense layer without bias when a
    tower's width differs from `output_dim`) and L2-normalised.
    Everything else is CLIP's: the learnable `logit_scale` (and
    `logit_bias` with `logit_bias_init`), `logits`, `predict`, and `fit`
    through `kerasmm.losses.ContrastiveLossMixin`, so the global-batch loss
    holds under `tf.distribute` strategies and `compile(...,
    accumulation_steps=k)` gives GradCache. `compile()` without a loss
    uses `CLIPLoss()`, or `SigLIPLoss()` for a model with `logit_bias_init`.

    The default audio tower is `kerasmm.models.CLAPAudioEncoder` (log-mel
    features computed in the model, then two CNN streams); any Keras model mapping
    audio to `(batch, width)` vectors may be passed instead (functional, or
    built on its input shape), and a `kerasmm.models.
    AudioSpectrogramTransformer` (e.g. from an AST preset), read at its
    `pooled_output` (`PooledAudioTower`), on features `(batch, max_length,
    num_mel_bins)` from its `ASTPreprocessor`.

    CLIP-generic code reads the audio side under CLIP's names too: the
    output dict holds the audio embeddings as `"audio_embeddings"` and as
    `"image_embeddings"` (the key the contrastive losses and
    `kerasmm.metrics.RecallAtK` read), and `encode_image` is `encode_audio`,
    so `kerasmm.tasks.ZeroShotClassifier` classifies sounds and
    `kerasmm.tasks.Retriever` searches them (`index_images(audio)`,
    `search_text`, `evaluate(audio, captions)`) unchanged.

    Args:
        audio_encoder: Keras model, audio -> `(batch, width)`.
        text_encoder: Keras model, token ids (or a `{"token_ids",
            "padding_mask"}` dict) -> `(batch, width)`, e.g.
            `kerasmm.models.TextTransformer`.
        logit_scale_init: finite float, initial `logit_scale`, `ln(1/0.07)`.
        logit_bias_init: `None` or finite float; if set, a learnable
            `logit_bias` (SigLIP-style, `SigLIPLoss` by default).
        output_dim: int, width of the joint space. Defaults as `CLIP`'s: the
            text tower's width.

    Call arguments:
        inputs: dict with `"audio"` (what the audio tower takes: float
            `(batch, samples)` waveforms for `CLAPAudioEncoder`),
            `"token_ids"` `(batch, L)` int and optionally `"padding_mask"`.
        training: Python bool.

    Returns:
        dict with `"audio_embeddings"` (also as `"image_embeddings"`) and
        `"text_embeddings"` (float32 `(batch, output_dim)`, unit L2 norm),
        `"logit_scale"` and, if built with a bias, `"logit_bias"`.

    Example:
    >>> clap = kerasmm.models.CLAP(
    ...     kerasmm.models.CLAPAudioEncoder(num_mel_bins=16, conv_widths=(8,),
    ...         output_dim=16),
    ...     kerasmm.models.TextTransformer(vocabulary_size=64, context_length=8,
    ...         hidden_dim=16, num_layers=1, num_heads=2, output_dim=8),
    ... )
    >>> clap.compile(optimizer="adam")  # The loss is CLIPLoss().
    >>> audio = np.zeros((2, 1600), "float32")
    >>> token_ids = np.array([[1, 7, 9, 63, 0], [1, 12, 63, 0, 0]])
    >>> outputs = clap({"audio": audio, "token_ids": token_ids})
    >>> tuple(outputs["audio_embeddings"].shape)
    (2, 8)
    >>> tuple(clap.logits(audio, token_ids).shape)
    (2, 2)

    Reference:
        Elizalde et al., "CLAP: Learning Audio Concepts from Natural
        Language Supervision", 2023; Wu et al., "Large-scale Contrastive
        Language-Audio Pretraining with Feature Fusion and Keyword-to-Caption
        Augmentation", 2023.
    """

    family_presets = types.MappingProxyType({})

    def __init__(self, audio_encoder, text_encoder, logit_scale_init=LOGIT_SCALE_INIT,
                 logit_bias_init=None, output_dim=None, **kwargs):
        if isinstance(audio_encoder, AudioSpectrogramTransformer):
            audio_encoder = PooledAudioTower(audio_encoder)
        if isinstance(audio_encoder, CLAPAudioEncoder) and not audio_encoder.built:
            audio_encoder.build((None, None) if audio_encoder.waveform_input
                                else (None, None, audio_encoder.num_mel_bins))
        super().__init__(audio_encoder, text_encoder, logit_scale_init=logit_scale_init,
                         logit_bias_init=logit_bias_init, output_dim=output_dim, **kwargs)

    @property
    def audio_encoder(self):
        """The audio tower (stored as CLIP's `vision_encoder`)."""
        return self.vision_encoder

    def encode_audio(self, audio, training=False):
        """L2-normalised float32 audio embeddings `(batch, output_dim)`."""
        return self._features(self.vision_encoder, self.image_projection,
                              "audio_encoder", audio, training)

    def encode_image(self, audio, training=False):
        """`encode_audio`, under the name CLIP-generic tasks call."""
        return self.encode_audio(audio, training)

    def call(self, inputs, training=None):
        if not isinstance(inputs, dict) or not {"audio", "token_ids"} <= set(inputs):
            received = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(
                "inputs must be a dict with the keys 'audio' and 'token_ids' "
                f"(and optionally 'padding_mask'). Received: {received}")
        text = {key: inputs[key] for key in ("token_ids", "padding_mask")
                if inputs.get(key) is not None}
        audio = self.encode_audio(inputs["audio"], training)
        outputs = {
            "audio_embeddings": audio,
            "image_embeddings": audio,
            "text_embeddings": self.encode_text(
                text if len(text) == 2 else text["token_ids"], training),
            "logit_scale": keras.ops.convert_to_tensor(self.logit_scale),
        }
        if self.logit_bias is not None:
            outputs["logit_bias"] = keras.ops.convert_to_tensor(self.logit_bias)
        return outputs

    def compile(self, optimizer="rmsprop", loss=None, **kwargs):
        """Keras' `compile`; `loss=None` means `CLIPLoss()` (`SigLIPLoss()`
        for a model with a `logit_bias`)."""
        if loss is None:
            loss = CLIPLoss() if self.logit_bias is None else SigLIPLoss()
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["audio_encoder"] = config.pop("vision_encoder")
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("audio_encoder", "text_encoder"):
            if isinstance(config[key], dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
