"""VideoCLIP: CLIP with a video tower (an image tower over sampled frames)."""

import keras

from kerasmm.models.clip.clip_model import CLIP
from kerasmm.models.clip.clip_towers import IMAGE_TOWERS
from kerasmm.models.clip.clip_towers import input_shape
from kerasmm.models.video.video_encoder import VideoEncoder
from kerasmm.utils.checks import check_images


def _frame_shape(image_encoder):
    """`((H, W, C), setting)` of the frames `image_encoder` takes, None where unknown."""
    if isinstance(image_encoder, IMAGE_TOWERS):
        size = image_encoder.image_size
        return (size, size, 3), f"image_size={size}"
    shape = input_shape(image_encoder)
    known = shape is not None and len(shape) == 4
    return (tuple(shape[1:]) if known else (None, None, None),
            f"the input shape of the image encoder {image_encoder.name!r}")


def _clone(layer):
    """A copy of a built Keras layer or model with its own, equal weights."""
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    if not copy.built and layer.get_build_config():
        copy.build_from_config(layer.get_build_config())
    copy.set_weights(layer.get_weights())
    return copy


@keras.saving.register_keras_serializable(package="kerasmm")
class VideoCLIP(CLIP):
    """Contrastive video-text model: CLIP with a `VideoEncoder` as its image side.

    Clips `(B, T, H, W, C)` go through `video_encoder` (any CLIP / SigLIP
    image tower applied to `num_frames` uniformly sampled frames, combined
    by a temporal mean or a temporal transformer, CLIP4Clip style), token
    ids through `text_encoder`; both are L2-normalised into one space.
    Everything else is `kerasmm.models.CLIP`'s: the learnable temperature,
    `compile(loss=kerasmm.losses.CLIPLoss())` (or `SigLIPLoss`) and `fit`
    with the loss gathering embeddings across replicas, `accumulation_steps`
    (GradCache), `logits`, `predict`.

    `VideoCLIP.from_clip(clip_or_preset, num_frames, pooling)` builds one
    from a trained CLIP in one line (copies of its towers, projection and
    temperature). With `pooling="mean"` it starts out as the CLIP's
    zero-shot video model (the mean of the frames' image embeddings, before
    normalisation); `"transformer"` adds a freshly initialised temporal
    transformer, which sees frame order (needed to tell "moves left" from
    "moves right"), to be trained with `fit`.

    `encode_video` (also `encode_image`, so `kerasmm.tasks.Retriever`
    indexes clips with `index_images` and searches them with
    `search_text` / `search_image`) returns the video embeddings. The output
    dict holds them as `"video_embeddings"` and as `"image_embeddings"`
    (the key the contrastive losses and `kerasmm.metrics.RecallAtK` read).

    Args:
        video_encoder: a `kerasmm.models.VideoEncoder` built with
            `output_tokens=False`.
        text_encoder: Keras model, token ids -> `(batch, width)`.
        logit_scale_init, logit_bias_init, output_dim: as `CLIP`.

    Call arguments:
        inputs: dict with `"videos"` (or `"images"`, the key of
            `kerasmm.datasets.moving_shapes_dataset`) float
            `(batch, T, H, W, C)`, `"token_ids"` and optionally
            `"padding_mask"`.
        training: Python bool.

    Example:
    >>> frames = kerasmm.models.build_conv_encoder(
    ...     image_size=16, conv_widths=(4, 8), output_dim=8)
    >>> text = kerasmm.models.TextTransformer(vocabulary_size=32,
    ...     context_length=6, hidden_dim=8, num_layers=1, num_heads=2, output_dim=8)
    >>> model = kerasmm.models.VideoCLIP(kerasmm.models.VideoEncoder(
    ...     frames, num_frames=2, pooling="transformer", num_heads=2,
    ...     output_tokens=False), text)
    >>> videos = np.zeros((3, 4, 16, 16, 3), "float32")
    >>> tuple(model.encode_video(videos).shape)
    (3, 8)
    >>> outputs = model({"videos": videos, "token_ids": np.ones((3, 6), "int32")})
    >>> tuple(outputs["image_embeddings"].shape)
    (3, 8)

    Reference:
        Luo et al., "CLIP4Clip: An Empirical Study of CLIP for End to End
        Video Clip Retrieval", 2021.
    """

    # One query clip `(T, H, W, C)`: how `Retriever.search_image` tells it from a batch.
    item_rank = 4

    def __init__(self, video_encoder, text_encoder, **kwargs):
        if not isinstance(video_encoder, VideoEncoder):
            raise TypeError(
                "video_encoder must be a kerasmm.models.VideoEncoder. Received: "
                f"video_encoder of type {type(video_encoder).__name__}"
            )
        if video_encoder.output_tokens:
            raise ValueError(
                "video_encoder must return vectors: build it with output_tokens=False. "
                "Received: video_encoder with output_tokens=True"
            )
        if not video_encoder.built:
            # CLIP reads the tower's width from a call on its build shape.
            frame, _ = _frame_shape(video_encoder.image_encoder)
            video_encoder.build((None, video_encoder.num_frames) + frame)
        super().__init__(video_encoder, text_encoder, **kwargs)

    @property
    def video_encoder(self):
        return self.vision_encoder

    @classmethod
    def from_clip(cls, clip, num_frames=8, pooling="mean", **video_encoder_kwargs):
        """A `VideoCLIP` whose towers are copies of a CLIP's (or SigLIP's).

        Args:
            clip: a `kerasmm.models.CLIP` (or `SigLIP`), or a preset name or
                directory `CLIP.from_preset` loads.
            num_frames: int, frames sampled per clip.
            pooling: `"mean"` or `"transformer"`.
            **video_encoder_kwargs: other `VideoEncoder` arguments
                (`num_layers`, `num_heads`, ...).

        Returns:
            A `VideoCLIP` with the CLIP's image tower (inside a
            `VideoEncoder`), text tower, projections and temperature; the
            CLIP itself is left untouched.
        """
        if isinstance(clip, str):
            clip = CLIP.from_preset(clip)
        if not isinstance(clip, CLIP) or isinstance(clip, VideoCLIP):
            raise TypeError(
                "clip must be a kerasmm.models.CLIP (or SigLIP) or a CLIP preset. "
                f"Received: clip of type {type(clip).__name__}"
            )
        video_encoder = VideoEncoder(
            _clone(clip.vision_encoder), num_frames=num_frames, pooling=pooling,
            output_tokens=False, **video_encoder_kwargs)
        model = cls(video_encoder, _clone(clip.text_encoder),
                    logit_scale_init=clip.logit_scale_init,
                    logit_bias_init=clip.logit_bias_init, output_dim=clip.output_dim)
        for name in ("image_projection", "text_projection", "logit_scale", "logit_bias"):
            source, target = getattr(clip, name), getattr(model, name)
            if isinstance(source, keras.layers.Layer):
                target.set_weights(source.get_weights())
            elif source is not None:
                target.assign(source)
        return model

    def _check_images(self, videos):
        frame, setting = _frame_shape(self.vision_encoder.image_encoder)
        check_images("videos", videos.shape, (None,) + frame, setting, videos.dtype)

    def encode_video(self, videos, training=False):
        """L2-normalised float32 video embeddings `(batch, output_dim)`.

        `videos` are preprocessed float `(batch, T, H, W, C)` clips (each
        frame as the image tower expects, e.g. `CLIPImagePreprocessor`).
        """
        return self.encode_image(videos, training=training)

    def logits(self, videos, token_ids):
        """Video-to-text logits `(num_videos, num_texts)`, float32."""
        return super().logits(videos, token_ids)

    def call(self, inputs, training=None):
        if isinstance(inputs, dict) and "videos" in inputs:
            inputs = {("images" if key == "videos" else key): value
                      for key, value in inputs.items()}
        outputs = super().call(inputs, training=training)
        outputs["video_embeddings"] = outputs["image_embeddings"]
        return outputs

    def get_config(self):
        config = super().get_config()
        config["video_encoder"] = config.pop("vision_encoder")
        return config

    @classmethod
    def from_config(cls, config):
        towers = {key: config[key] for key in ("video_encoder", "text_encoder")}
        towers = {key: keras.saving.deserialize_keras_object(tower)
                  if isinstance(tower, dict) else tower for key, tower in towers.items()}
        return cls(**{**config, **towers})

