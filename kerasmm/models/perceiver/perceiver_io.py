"""Perceiver IO: encode into latents, process them, decode with output queries."""

import keras

from kerasmm.distribute import BuildBeforeTracingMixin
from kerasmm.distribute import MultiWorkerTrainerMixin
from kerasmm.layers.cross_attention import CrossAttention
from kerasmm.layers.self_attention import SelfAttention
from kerasmm.layers.remat import check_remat
from kerasmm.layers.remat import maybe_remat
from kerasmm.layers.latents import LatentArray
from kerasmm.layers.multimodal_adapter import check_adapter
from kerasmm.models.perceiver.perceiver_presets import PERCEIVER_PRESETS
from kerasmm.models.perceiver.perceiver_utils import adapter_features
from kerasmm.models.perceiver.perceiver_utils import check_context_heads
from kerasmm.models.perceiver.perceiver_utils import encoder_config
from kerasmm.models.perceiver.perceiver_utils import set_encoder_arguments
from kerasmm.models.perceiver.perceiver_utils import deserialize_layers
from kerasmm.models.perceiver.perceiver_utils import serialize_layers
from kerasmm.presets import PresetMixin
from kerasmm.utils.checks import check_layer


@keras.saving.register_keras_serializable(package="kerasmm")
class PerceiverIO(MultiWorkerTrainerMixin, PresetMixin, BuildBeforeTracingMixin, keras.Model):
    """Perceiver IO for any input adapter and any decoder.

    1. **Encode**: the adapter turns the inputs into `(B, M, C)` features
       (and a padding mask for text); `num_latents` trainable latents
       cross-attend to them (padded positions are never attended to).
    2. **Process**: `num_blocks` passes through the same
       `num_self_attends_per_block` latent self-attention layers (weights
       shared across blocks, as DeepMind's and Hugging Face's).
    3. **Decode**: the decoder's output queries cross-attend to the latents
       and become the outputs (logits, pixels, a dict per modality, ...).

    The blocks follow Hugging Face's `PerceiverModel` (pre-LayerNorm with
    epsilon 1e-5, exact GELU MLPs, q/k width of the encoder cross-attention
    defaulting to the input width, query residual), so its checkpoints map
    one to one onto this model's weights.

    Args:
        input_adapter: a kerasmm adapter (`ImageAdapter`, `TextAdapter`,
            `MultimodalAdapter`, ...).
        decoder: a kerasmm decoder (`ClassificationDecoder`, `BasicDecoder`,
            `MaskedLMDecoder`, `MultimodalDecoder`).
        num_latents: number of latents N.
        latent_dim: latent width D.
        num_blocks: passes through the shared self-attention block.
        num_self_attends_per_block: self-attention layers in the block.
        num_cross_attention_heads: heads of the encoder cross-attention.
        num_self_attention_heads: heads of the latent self-attention.
        cross_attention_widening_factor: MLP width multiple, cross-attention.
        self_attention_widening_factor: MLP width multiple, self-attention.
        qk_channels: q/k width of encoder attention layers (None: the
            input width for the cross-attention, D for self-attention).
        v_channels: value width (None: `qk_channels`).
        cross_attention_shape_for_attn: `"kv"` or `"q"`: whose width is the
            default q/k width of the encoder cross-attention.
        use_query_residual: residual around the encoder cross-attention.
        dropout: dropout rate inside the attention blocks.
        remat: bool, rematerialise each latent self-attention layer: its
            activations are recomputed in the backward pass instead of being
            stored (`keras.remat`), lowering peak training memory for about
            one extra forward pass of compute; needs `dropout=0`.

    Call arguments:
        inputs: whatever the adapter takes (images, a text dict, a dict of
            modalities).
        subsampled_points: optional output indices for the decoder.
        training: Python bool.

    Example:
    >>> import numpy as np
    >>> from kerasmm.layers import ImageAdapter, ClassificationDecoder
    >>> model = PerceiverIO(
    ...     ImageAdapter((8, 8, 3), num_bands=4), ClassificationDecoder(10),
    ...     num_latents=8, latent_dim=16, num_self_attends_per_block=2,
    ...     num_cross_attention_heads=1, num_self_attention_heads=2)
    >>> tuple(model(np.zeros((2, 8, 8, 3), "float32")).shape)
    (2, 10)

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    family_presets = PERCEIVER_PRESETS

    def __init__(self, input_adapter, decoder, num_latents=256, latent_dim=1280,
                 num_blocks=1, num_self_attends_per_block=26, num_cross_attention_heads=8,
                 num_self_attention_heads=8, cross_attention_widening_factor=1,
                 self_attention_widening_factor=1, qk_channels=None, v_channels=None,
                 cross_attention_shape_for_attn="kv", use_query_residual=True,
                 dropout=0.0, remat=False, **kwargs):
        super().__init__(**kwargs)
        check_adapter("input_adapter", input_adapter)
        check_layer("decoder", decoder)
        set_encoder_arguments(self, locals())
        if getattr(decoder, "tie_embeddings", False) and \
                not hasattr(type(input_adapter), "embedding_matrix"):
            raise ValueError(
                "The decoder ties its logits to the input embeddings "
                "(tie_embeddings=True), which needs a TextAdapter. Received: "
                f"input_adapter={type(input_adapter).__name__}"
            )
        self.input_adapter = input_adapter
        self.decoder = decoder
        self.cross_attention_shape_for_attn = cross_attention_shape_for_attn
        self.use_query_residual = use_query_residual
        self.remat = check_remat(remat, dropout)

        # === Layers ===
        dtype = self.dtype_policy
        self.latents = LatentArray(num_latents, latent_dim, name="latents", dtype=dtype)
        self.cross_attention = CrossAttention(
            num_cross_attention_heads, widening_factor=cross_attention_widening_factor,
            dropout=dropout, qk_channels=qk_channels, v_channels=v_channels,
            use_query_residual=use_query_residual,
            shape_for_attn=cross_attention_shape_for_attn, name="cross_attention",
            dtype=dtype)
        self.self_attention_layers = [
            SelfAttention(num_self_attention_heads,
                          widening_factor=self_attention_widening_factor, dropout=dropout,
                          qk_channels=qk_channels, v_channels=v_channels,
                          name=f"self_attention_{i}", dtype=dtype)
            for i in range(num_self_attends_per_block)]

    def build(self, input_shape):
        if not self.input_adapter.built:
            self.input_adapter.build(input_shape)
        features_shape = self.input_adapter.compute_output_shape(input_shape)["features"]
        if self.cross_attention_shape_for_attn == "kv":
            check_context_heads(self.num_cross_attention_heads, self.qk_channels,
                                features_shape[-1])
        latents_shape = (features_shape[0], self.num_latents, self.latent_dim)
        self.latents.build(features_shape)
        self.cross_attention.build(latents_shape, features_shape)
        for layer in self.self_attention_layers:
            layer.build(latents_shape)
        if not self.decoder.built:
            self.decoder.build(latents_shape, features_shape)
        if getattr(self.decoder, "tie_embeddings", False) and \
                self.decoder.query_dim != self.input_adapter.output_dim:
            raise ValueError(
                "With tie_embeddings=True the decoder's query width must equal the "
                "TextAdapter's embedding_dim. Received: query width (position_dim)="
                f"{self.decoder.query_dim}, embedding_dim={self.input_adapter.output_dim}"
            )

    def encode(self, inputs, training=None):
        """The processed latents `(B, num_latents, latent_dim)`."""
        return self._encode(inputs, training)[0]

    def _encode(self, inputs, training):
        features, padding_mask = adapter_features(self.input_adapter, inputs)
        latents = self.latents(features)
        latents = self.cross_attention(latents, features, context_mask=padding_mask,
                                       training=training)
        for _ in range(self.num_blocks):
            for layer in self.self_attention_layers:
                latents = maybe_remat(layer, self.remat)(latents, training=training)
        return latents, features

    def call(self, inputs, subsampled_points=None, training=None):
        latents, features = self._encode(inputs, training)
        kwargs = {}
        if getattr(self.decoder, "tie_embeddings", False):
            kwargs["embedding_matrix"] = self.input_adapter.embedding_matrix
        return self.decoder(latents, inputs=features, subsampled_points=subsampled_points,
                            training=training, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update({
            **encoder_config(self),
            "cross_attention_shape_for_attn": self.cross_attention_shape_for_attn,
            "use_query_residual": self.use_query_residual,
            "remat": self.remat,
        })
        return serialize_layers(config, input_adapter=self.input_adapter,
                                decoder=self.decoder)

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "input_adapter", "decoder"))
