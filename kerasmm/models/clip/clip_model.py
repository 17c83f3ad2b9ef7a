"""CLIP: two towers, L2-normalised embeddings and a learnable temperature."""

import math
import numbers

import keras
from keras import ops

from kerasmm.distribute import MultiWorkerTrainerMixin
from kerasmm.layers.multi_head_attention import check_positive_int
from kerasmm.losses import ContrastiveLossMixin
from kerasmm.models.backbone import PresetMixin
from kerasmm.models.clip.clip_utils import l2_normalize
from kerasmm.models.clip.modified_resnet import ModifiedResNet
from kerasmm.models.clip.text_transformer import TextTransformer
from kerasmm.models.clip.vision_transformer import VisionTransformer

# Towers that end in their own projection: CLIP adds none to them.
_PROJECTED_TOWERS = (VisionTransformer, ModifiedResNet, TextTransformer)
_MAX_LOGIT_SCALE = math.log(100.0)
# ln(1 / 0.07) = 2.6592..., OpenAI's initial temperature 0.07.
LOGIT_SCALE_INIT = math.log(1 / 0.07)


def _check_number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number. Received: {name}={value!r}")


def _output_width(encoder, name):
    """The width of the vectors `encoder` returns; checks they are 2D."""
    if not isinstance(encoder, keras.layers.Layer):
        raise TypeError(
            f"{name} must be a Keras model or layer. Received: {name} of "
            f"type {type(encoder).__name__}"
        )
    if isinstance(encoder, _PROJECTED_TOWERS):
        return encoder.output_dim
    try:
        shape = encoder.output_shape
    except (AttributeError, ValueError, RuntimeError):
        raise ValueError(
            f"Cannot tell the output width of {name}: use a functional Keras "
            "model (e.g. keras.applications.ResNet50(include_top=False, "
            "pooling='avg')) or a kerasmm tower. Received: "
            f"{name}={encoder.name!r} of type {type(encoder).__name__}"
        ) from None
    if isinstance(shape, list) or len(shape) != 2 or shape[-1] is None:
        raise ValueError(
            f"{name} must map its inputs to vectors of shape (batch, width), "
            "e.g. with pooling='avg'. Received: "
            f"{name} output shape {shape}"
        )
    return shape[-1]


def _repeat_scalars(outputs):
    """Gives scalar outputs a batch axis: `(batch,)`, the value repeated."""
    reference = outputs["image_embeddings"][:, 0]
    return {key: ops.full_like(reference, value) if len(value.shape) == 0 else value
            for key, value in outputs.items()}


@keras.saving.register_keras_serializable(package="kerasmm")
class CLIP(ContrastiveLossMixin, MultiWorkerTrainerMixin, PresetMixin, keras.Model):
    """Contrastive image-text model: two towers and a learnable temperature.

    Images go through `vision_encoder`, token ids through `text_encoder`;
    both outputs are L2-normalised (in float32, whatever the compute dtype)
    into a shared `output_dim`-wide space. `compile(loss=
    kerasmm.losses.CLIPLoss())` (or `SigLIPLoss()`) and `fit` on a dataset
    yielding only `{"images", "token_ids"}` train it; the loss gathers
    embeddings across replicas under a distribution strategy.

    Towers: `kerasmm.models.VisionTransformer` / `ModifiedResNet` and
    `TextTransformer` end in their own projection, so their `output_dim`s
    must agree. Any other Keras model mapping images (or token ids) to
    vectors may be a tower, e.g.
    `keras.applications.ResNet50(include_top=False, pooling="avg",
    weights=None)`; when its width differs from `output_dim`, a Dense
    projection without bias (`image_projection` / `text_projection`) is
    added after it.

    Temperature: the weight `logit_scale` holds the log of the inverse
    temperature (init `ln(1 / 0.07)`) and is stored unclamped; the output
    dict returns it raw and `kerasmm.losses.CLIPLoss` uses
    `exp(min(logit_scale, ln 100))`, the clamp OpenAI applies after each
    step. With `logit_bias_init` the model is SigLIP-style: it also learns a
    `logit_bias` (SigLIP: `logit_scale_init=log(10)`,
    `logit_bias_init=-10`) and the scale is not clamped, as in
    `SigLIPLoss`. `logits` follows the same rule as the matching loss.

    Mixed precision: set the dtype policy before building the towers (or
    pass `dtype` to them); `logit_scale`, `logit_bias` and the embeddings
    stay float32.

    Args:
        vision_encoder: Keras model, images -> `(batch, width)`.
        text_encoder: Keras model, token ids (or a `{"token_ids",
            "padding_mask"}` dict) -> `(batch, width)`.
        logit_scale_init: float, initial `logit_scale`.
        logit_bias_init: `None` or float; if set, a learnable `logit_bias`.
        output_dim: int, width of the joint embedding space. Defaults to the
            output width of the text encoder, or of the vision encoder when
            only that one is a kerasmm tower.

    Call arguments:
        inputs: dict with `"images"` `(batch, H, W, C)` float, `"token_ids"`
            `(batch, L)` int and, optionally, `"padding_mask"` `(batch, L)`
            (then the text encoder gets `{"token_ids", "padding_mask"}`).
        training: Python bool.

    Returns:
        dict with `"image_embeddings"` and `"text_embeddings"` (float32
        `(batch, output_dim)`, unit L2 norm), `"logit_scale"` (float32
        scalar, unclamped) and, if built with a bias, `"logit_bias"`.
        `predict` returns the same dict as numpy arrays, with the scalars
        repeated once per example (shape `(num_examples,)`).

    Example:
    >>> clip = kerasmm.models.CLIP(
    ...     kerasmm.models.VisionTransformer(image_size=32, patch_size=8,
    ...         hidden_dim=32, num_layers=2, num_heads=2, output_dim=16),
    ...     kerasmm.models.TextTransformer(vocabulary_size=64, context_length=16,
    ...         hidden_dim=32, num_layers=2, num_heads=2, output_dim=16),
    ... )
    >>> clip.compile(optimizer="adam", loss=kerasmm.losses.CLIPLoss())
    >>> # clip.fit(dataset)  # a dataset of {"images", "token_ids"} batches
    >>> images = keras.random.normal((2, 32, 32, 3))
    >>> token_ids = np.array([[1, 7, 9, 63, 0], [1, 12, 63, 0, 0]])
    >>> outputs = clip({"images": images, "token_ids": token_ids})
    >>> tuple(outputs["image_embeddings"].shape)
    (2, 16)
    >>> tuple(clip.logits(images, token_ids).shape)
    (2, 2)

    Reference:
        Radford et al., "Learning Transferable Visual Models From Natural
        Language Supervision", 2021; Zhai et al., "Sigmoid Loss for Language
        Image Pre-Training", 2023.
    """

    def __init__(self, vision_encoder, text_encoder, logit_scale_init=LOGIT_SCALE_INIT,
                 logit_bias_init=None, output_dim=None, **kwargs):
        super().__init__(**kwargs)
        image_width = _output_width(vision_encoder, "vision_encoder")
        text_width = _output_width(text_encoder, "text_encoder")
        check_positive_int("output_dim", output_dim, allow_none=True)
        _check_number("logit_scale_init", logit_scale_init)
        if logit_bias_init is not None:
            _check_number("logit_bias_init", logit_bias_init)
        self.vision_encoder = vision_encoder
        self.text_encoder = text_encoder
        self.logit_scale_init = float(logit_scale_init)
        self.logit_bias_init = None if logit_bias_init is None else float(logit_bias_init)
        if output_dim is None:
            # The width of a tower that ends in its own projection, else the text's.
            projected = isinstance(vision_encoder, _PROJECTED_TOWERS) and not isinstance(
                text_encoder, _PROJECTED_TOWERS)
            output_dim = image_width if projected else text_width
        self.output_dim = output_dim

        # === Layers ===
        self.image_projection = self._projection(
            "vision_encoder", vision_encoder, image_width, "image_projection")
        self.text_projection = self._projection(
            "text_encoder", text_encoder, text_width, "text_projection")
        # autocast=False: the temperature stays float32 under mixed precision.
        self.logit_scale = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.logit_scale_init),
            name="logit_scale", autocast=False)
        self.logit_bias = None
        if self.logit_bias_init is not None:
            self.logit_bias = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(self.logit_bias_init),
                name="logit_bias", autocast=False)
        self.built = True

    def _projection(self, name, encoder, width, layer_name):
        if width == self.output_dim:
            return None
        if isinstance(encoder, _PROJECTED_TOWERS):
            other = "text_encoder" if name == "vision_encoder" else "vision_encoder"
            raise ValueError(
                f"The output widths of the towers must match: {name} ends in its "
                f"own projection, so set its output_dim to {self.output_dim} "
                f"(the width of {other} / output_dim). Received: {name} "
                f"output_dim={width}, output_dim={self.output_dim}"
            )
        projection = keras.layers.Dense(
            self.output_dim, use_bias=False,
            kernel_initializer=keras.initializers.RandomNormal(stddev=width ** -0.5),
            name=layer_name, dtype=self.dtype_policy)
        projection.build((None, width))
        return projection

    # === Towers ===

    def _features(self, encoder, projection, name, inputs, training):
        x = encoder(inputs, training=training)
        if len(x.shape) != 2:
            raise ValueError(
                f"{name} must return vectors of shape (batch, width). "
                f"Received: {name} output with shape {tuple(x.shape)}"
            )
        if projection is not None:
            x = projection(x)
        return l2_normalize(x)

    def encode_image(self, images, training=False):
        """L2-normalised float32 image embeddings `(batch, output_dim)`."""
        return self._features(self.vision_encoder, self.image_projection,
                              "vision_encoder", images, training)

    def encode_text(self, token_ids, training=False):
        """L2-normalised float32 text embeddings `(batch, output_dim)`.

        `token_ids` is `(batch, L)` int or a dict with `"token_ids"` (and
        optionally `"padding_mask"`).
        """
        return self._features(self.text_encoder, self.text_projection,
                              "text_encoder", token_ids, training)

    # === Logits ===

    def logit_scale_value(self):
        """The multiplier `exp(logit_scale)` the matching loss uses (float32).

        Clamped at 100 (CLIP), unclamped for a model with `logit_bias`
        (SigLIP), as in `CLIPLoss` and `SigLIPLoss`.
        """
        scale = ops.convert_to_tensor(self.logit_scale)
        if self.logit_bias is None:
            scale = ops.minimum(scale, _MAX_LOGIT_SCALE)
        return ops.exp(scale)

    def logits_from_embeddings(self, image_embeddings, text_embeddings):
        """`scale * image_embeddings @ text_embeddings.T (+ logit_bias)`."""
        logits = self.logit_scale_value() * ops.matmul(
            ops.cast(image_embeddings, "float32"),
            ops.transpose(ops.cast(text_embeddings, "float32")))
        if self.logit_bias is not None:
            logits = logits + ops.convert_to_tensor(self.logit_bias)
        return logits

    def logits(self, images, token_ids):
        """Image-to-text logits `(num_images, num_texts)`, float32.

        The transpose gives the text-to-image logits.
        """
        return self.logits_from_embeddings(self.encode_image(images),
                                           self.encode_text(token_ids))

    # === Forward ===

    def call(self, inputs, training=None):
        if not isinstance(inputs, dict) or not {"images", "token_ids"} <= set(inputs):
            received = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(
                "inputs must be a dict with the keys 'images' and 'token_ids' "
                f"(and optionally 'padding_mask'). Received: {received}"
            )
        text = inputs["token_ids"]
        if inputs.get("padding_mask") is not None:
            text = {"token_ids": text, "padding_mask": inputs["padding_mask"]}
        outputs = {
            "image_embeddings": self.encode_image(inputs["images"], training),
            "text_embeddings": self.encode_text(text, training),
            "logit_scale": ops.convert_to_tensor(self.logit_scale),
        }
        if self.logit_bias is not None:
            outputs["logit_bias"] = ops.convert_to_tensor(self.logit_bias)
        return outputs

    def predict_step(self, *args):
        # `predict` concatenates every output along axis 0, which fails on
        # JAX for the scalars `logit_scale` / `logit_bias` (TF stacks one per
        # batch). Repeat them once per example, like the embeddings. The JAX
        # trainer's step also takes and returns the model state.
        if keras.backend.backend() == "jax":
            outputs, state = super().predict_step(*args)
            return _repeat_scalars(outputs), state
        return _repeat_scalars(super().predict_step(*args))

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update({
            "vision_encoder": keras.saving.serialize_keras_object(self.vision_encoder),
            "text_encoder": keras.saving.serialize_keras_object(self.text_encoder),
            "logit_scale_init": self.logit_scale_init,
            "logit_bias_init": self.logit_bias_init,
            "output_dim": self.output_dim,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("vision_encoder", "text_encoder"):
            if isinstance(config[key], dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
