"""CLIP: two towers, L2-normalised embeddings and a learnable temperature."""

import keras
from keras import ops

from kerasmm.distribute import BuildBeforeTracingMixin
from kerasmm.distribute import MultiWorkerTrainerMixin
from kerasmm.utils.checks import check_images
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.constants import LOGIT_SCALE_INIT
from kerasmm.losses import ContrastiveLossMixin
from kerasmm.losses.contrastive_loss import clip_scale
from kerasmm.models.clip.clip_presets import CLIP_PRESETS
from kerasmm.models.clip.clip_towers import IMAGE_TOWERS
from kerasmm.models.clip.clip_towers import PROJECTED_TOWERS
from kerasmm.models.clip.clip_towers import input_shape
from kerasmm.models.clip.clip_towers import output_width
from kerasmm.models.clip.clip_utils import l2_normalize
from kerasmm.models.clip.text_transformer import TextTransformer
from kerasmm.presets import PresetMixin


def _repeat_scalars(outputs):
    """Gives scalar outputs a batch axis: `(batch,)`, the value repeated."""
    reference = outputs["image_embeddings"][:, 0]
    return {key: ops.full_like(reference, value) if len(value.shape) == 0 else value
            for key, value in outputs.items()}


@keras.saving.register_keras_serializable(package="kerasmm")
class CLIP(ContrastiveLossMixin, MultiWorkerTrainerMixin, PresetMixin, BuildBeforeTracingMixin,
           keras.Model):
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

    A subclassed Keras model may be a tower too: its width is found with a
    symbolic call on the input shape it was built with (unbuilt: images of
    any size with 3 channels, token ids of any length); build it first when
    it needs a fixed input size.

    Temperature: the weight `logit_scale` holds the log of the inverse
    temperature (init `ln(1 / 0.07)`) and is stored unclamped; the output
    dict returns it raw and `kerasmm.losses.CLIPLoss` uses
    `exp(clip(logit_scale, 0, ln 100))` (`kerasmm.losses.contrastive_loss.
    clip_scale`, open_clip's range; OpenAI clamps after each step). With
    `logit_bias_init` the model is SigLIP-style: it also learns a
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
        logit_scale_init: finite float, initial `logit_scale`.
        logit_bias_init: `None` or finite float; if set, a learnable
            `logit_bias`.
        output_dim: int, width of the joint embedding space. Defaults to the
            output width of the text encoder, or of the vision encoder when
            only that one is a kerasmm tower.

    Call arguments:
        inputs: dict with `"images"` `(batch, H, W, C)` float (preprocessed,
            e.g. by `kerasmm.models.CLIPPreprocessor`; integer images are
            refused), `"token_ids"`
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

    family_presets = CLIP_PRESETS

    def __init__(self, vision_encoder, text_encoder, logit_scale_init=LOGIT_SCALE_INIT,
                 logit_bias_init=None, output_dim=None, **kwargs):
        super().__init__(**kwargs)
        image_width = output_width(vision_encoder, "vision_encoder")
        text_width = output_width(text_encoder, "text_encoder")
        check_positive_int("output_dim", output_dim, allow_none=True)
        self.vision_encoder = vision_encoder
        self.text_encoder = text_encoder
        self.logit_scale_init = check_number("logit_scale_init", logit_scale_init)
        self.logit_bias_init = check_number("logit_bias_init", logit_bias_init,
                                            allow_none=True)
        if output_dim is None:
            # The width of a tower that ends in its own projection, else the text's.
            projected = isinstance(vision_encoder, PROJECTED_TOWERS) and not isinstance(
                text_encoder, PROJECTED_TOWERS)
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
        if isinstance(encoder, PROJECTED_TOWERS):
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
        if isinstance(x, dict) and isinstance(encoder, PROJECTED_TOWERS):
            x = x["pooled"]  # A tower built with output_tokens=True.
        if len(x.shape) != 2:
            raise ValueError(
                f"{name} must return vectors of shape (batch, width). "
                f"Received: {name} output with shape {tuple(x.shape)}"
            )
        if projection is not None:
            x = projection(x)
        return l2_normalize(x)

    def _check_images(self, images):
        """Rank-4 float images, of the tower's size and channels if known."""
        encoder = self.vision_encoder
        if isinstance(encoder, IMAGE_TOWERS):
            size = encoder.image_size
            expected, setting = (size, size, 3), f"image_size={size}"
        else:
            shape = input_shape(encoder)
            expected = shape[1:] if shape is not None and len(shape) == 4 else (None,) * 3
            setting = f"the input shape of vision_encoder {encoder.name!r}"
        check_images("images", images.shape, expected, setting, images.dtype)

    def encode_image(self, images, training=False):
        """L2-normalised float32 image embeddings `(batch, output_dim)`.

        `images` are preprocessed float `(batch, H, W, C)`; integer images
        raise a ValueError naming the preprocessor to use.
        """
        if not hasattr(images, "dtype"):
            images = ops.convert_to_tensor(images)
        self._check_images(images)
        return self._features(self.vision_encoder, self.image_projection,
                              "vision_encoder", images, training)

    def encode_text(self, token_ids, training=False):
        """L2-normalised float32 text embeddings `(batch, output_dim)`.

        `token_ids` is `(batch, L)` int or a dict with `"token_ids"` (and
        optionally `"padding_mask"`). Called with concrete ids (not inside a
        traced function) and a `TextTransformer` tower, the columns after
        the batch's last end-of-text token are dropped first: the same
        embeddings for less work (`TextTransformer.trim_padding`).
        """
        if isinstance(self.text_encoder, TextTransformer):
            token_ids = self.text_encoder.trim_padding(token_ids)
        return self._features(self.text_encoder, self.text_projection,
                              "text_encoder", token_ids, training)

    # === Logits ===

    def logit_scale_value(self):
        """The multiplier `exp(logit_scale)` the matching loss uses (float32).

        `logit_scale` clamped to `[0, ln 100]` (CLIP, `clip_scale`, the
        clamp `CLIPLoss` applies), unclamped for a model with `logit_bias`
        (SigLIP), as in `SigLIPLoss`.
        """
        scale = ops.convert_to_tensor(self.logit_scale)
        if self.logit_bias is None:
            return clip_scale(scale)
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
