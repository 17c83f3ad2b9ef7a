"""SigLIP: CLIP's two-tower model with SigLIP's towers, a logit bias and the sigmoid loss."""

import math

import keras

from kerasmm.losses import SigLIPLoss
from kerasmm.models.clip.clip_model import CLIP
from kerasmm.models.clip.clip_utils import l2_normalize
from kerasmm.models.siglip.siglip_presets import SIGLIP_PRESETS
from kerasmm.models.siglip.siglip_text_encoder import SigLIPTextEncoder
from kerasmm.models.siglip.siglip_vision_encoder import SigLIPVisionEncoder
from kerasmm.utils.checks import check_number

# big_vision's `temperature_init=10.0` (stored as its log) and `bias_init=-10.0`.
LOGIT_SCALE_INIT = math.log(10.0)
LOGIT_BIAS_INIT = -10.0


def _check_tower(name, tower, cls):
    if not isinstance(tower, cls):
        raise TypeError(f"{name} must be a kerasmm.models.{cls.__name__} (for other "
                        "towers use kerasmm.models.CLIP with logit_bias_init). "
                        f"Received: {name} of type {type(tower).__name__}")


@keras.saving.register_keras_serializable(package="kerasmm")
class SigLIP(CLIP):
    """SigLIP and SigLIP 2: two towers, a learnable temperature and bias.

    A `kerasmm.models.CLIP` (same call, `encode_image`, `encode_text`,
    `logits`, `predict`, `fit` under a distribution strategy) whose towers
    are `SigLIPVisionEncoder` (ViT pooled by an attention head) and
    `SigLIPTextEncoder` (read at its last token), whose logits are
    `exp(logit_scale) * img @ txt.T + logit_bias` (the scale unclamped, as
    big_vision and Hugging Face's `SiglipModel`), and whose default loss is
    `kerasmm.losses.SigLIPLoss`: `compile()` without a loss uses it.

    `SigLIP.from_preset` loads the registered presets (`SigLIP.presets`),
    Hugging Face `siglip` checkpoint directories (SigLIP, and SigLIP 2 at a
    fixed resolution, which Hugging Face stores as `siglip` too) and
    `hf://org/repo`. The sigmoid of a logit is the probability that an
    image and a text match.

    Args:
        vision_encoder: a `kerasmm.models.SigLIPVisionEncoder`.
        text_encoder: a `kerasmm.models.SigLIPTextEncoder` whose
            `output_dim` is the vision encoder's `hidden_dim`.
        logit_scale_init: finite float, initial `logit_scale` (the log of
            the temperature multiplier): `log(10)`, as big_vision.
        logit_bias_init: finite float, initial `logit_bias`: -10.
        output_dim: None or the towers' common output width (checked).

    Call arguments:
        inputs: dict with `"images"` `(batch, H, W, 3)` float (preprocessed
            by `kerasmm.models.SigLIPPreprocessor`), `"token_ids"`
            `(batch, L)` int and, optionally, `"padding_mask"`.
        training: Python bool.

    Returns:
        dict with `"image_embeddings"` and `"text_embeddings"` (float32
        `(batch, output_dim)`, unit L2 norm), `"logit_scale"` and
        `"logit_bias"` (float32 scalars).

    Example:
    >>> siglip = kerasmm.models.SigLIP(
    ...     kerasmm.models.SigLIPVisionEncoder(image_size=32, patch_size=8,
    ...         hidden_dim=16, num_layers=1, num_heads=2),
    ...     kerasmm.models.SigLIPTextEncoder(vocabulary_size=64, context_length=8,
    ...         hidden_dim=16, num_layers=1, num_heads=2),
    ... )
    >>> siglip.compile(optimizer="adam")  # The loss is SigLIPLoss().
    >>> type(siglip.loss).__name__
    'SigLIPLoss'
    >>> images = keras.random.normal((2, 32, 32, 3))
    >>> token_ids = np.array([[7, 9, 1, 1, 1, 1, 1, 1], [12, 5, 33, 1, 1, 1, 1, 1]])
    >>> outputs = siglip({"images": images, "token_ids": token_ids})
    >>> sorted(outputs)
    ['image_embeddings', 'logit_bias', 'logit_scale', 'text_embeddings']
    >>> probabilities = keras.ops.sigmoid(siglip.logits(images, token_ids))
    >>> tuple(probabilities.shape)
    (2, 2)

    Reference:
        Zhai et al., "Sigmoid Loss for Language Image Pre-Training", 2023;
        Tschannen et al., "SigLIP 2: Multilingual Vision-Language Encoders
        with Improved Semantic Understanding, Localization, and Dense
        Features", 2025.
    """

    family_presets = SIGLIP_PRESETS

    def __init__(self, vision_encoder, text_encoder, logit_scale_init=LOGIT_SCALE_INIT,
                 logit_bias_init=LOGIT_BIAS_INIT, output_dim=None, **kwargs):
        # CLIP's constructor inspects arbitrary towers and adds projections;
        # SigLIP's towers are known, so this sets the same state directly.
        super(CLIP, self).__init__(**kwargs)
        _check_tower("vision_encoder", vision_encoder, SigLIPVisionEncoder)
        _check_tower("text_encoder", text_encoder, SigLIPTextEncoder)
        widths = {vision_encoder.output_dim, text_encoder.output_dim}
        if output_dim is not None:
            widths.add(output_dim)
        if len(widths) != 1:
            raise ValueError(
                "The output widths must match: the vision encoder's hidden_dim, the "
                "text encoder's output_dim (and output_dim, if given). Received: "
                f"vision_encoder hidden_dim={vision_encoder.output_dim}, text_encoder "
                f"output_dim={text_encoder.output_dim}, output_dim={output_dim}")
        self.vision_encoder = vision_encoder
        self.text_encoder = text_encoder
        self.logit_scale_init = check_number("logit_scale_init", logit_scale_init)
        self.logit_bias_init = check_number("logit_bias_init", logit_bias_init)
        self.output_dim = vision_encoder.output_dim
        self.image_projection = None
        self.text_projection = None

        # === Layers === (autocast=False: float32 under mixed precision)
        self.logit_scale = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.logit_scale_init),
            name="logit_scale", autocast=False)
        self.logit_bias = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.logit_bias_init),
            name="logit_bias", autocast=False)
        self.built = True

    def _features(self, encoder, projection, name, inputs, training):
        x = encoder(inputs, training=training)
        if isinstance(x, dict):
            x = x["pooled"]  # A tower built with output_tokens=True.
        return l2_normalize(x)

    def compile(self, optimizer="rmsprop", loss=None, **kwargs):
        """Keras' `compile`, with `kerasmm.losses.SigLIPLoss()` when `loss`
        is None."""
        super().compile(optimizer=optimizer, loss=SigLIPLoss() if loss is None else loss,
                        **kwargs)
