"""The original Perceiver: repeated cross-attention + latent transformer."""

import keras
from keras import ops

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
from kerasmm.utils.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasmm")
class Perceiver(MultiWorkerTrainerMixin, PresetMixin, BuildBeforeTracingMixin, keras.Model):
    """Perceiver classifier: the latents re-read the inputs in every block.

    Each of `num_blocks` blocks is a cross-attention from the latents to the
    adapter's features (padding mask respected) followed by a latent
    transformer of `num_self_attends_per_block` self-attention layers. With
    `weight_sharing=True` (the paper's setting) all latent transformers share
    one set of weights, and all cross-attentions but the first share another,
    so the parameter count does not grow with `num_blocks` beyond 2.
    Classification: the latents are averaged, layer-normalised and projected
    to `num_classes` logits (the normalisation closes the pre-LN residual
    stream, as most implementations do).

    Args:
        input_adapter: a kerasmm adapter, e.g. `ImageAdapter` with Fourier
            features (the paper's image model).
        num_latents: number of latents N.
        latent_dim: latent width D.
        num_classes: number of logits.
        num_blocks: cross-attend + latent transformer repeats.
        num_self_attends_per_block: layers in each latent transformer.
        num_cross_attention_heads: heads of the cross-attentions (1 in the
            paper).
        num_self_attention_heads: heads of the latent self-attention.
        cross_attention_widening_factor: MLP width multiple, cross-attention.
        self_attention_widening_factor: MLP width multiple, self-attention.
        qk_channels: q/k width (None: the input width for cross-attention,
            D for self-attention).
        v_channels: value width (None: `qk_channels`).
        weight_sharing: share weights across repeats as described above.
        dropout: dropout rate inside the attention blocks.
        remat: bool, rematerialise each latent self-attention layer: its
            activations are recomputed in the backward pass instead of being
            stored (`keras.remat`), lowering peak training memory for about
            one extra forward pass of compute; needs `dropout=0`.

    Call arguments:
        inputs: whatever the adapter takes.
        training: Python bool.

    Example:
    >>> import numpy as np
    >>> from kerasmm.layers import ImageAdapter
    >>> model = Perceiver(ImageAdapter((8, 8, 3), num_bands=4), num_latents=8,
    ...                   latent_dim=16, num_classes=10, num_blocks=3,
    ...                   num_self_attends_per_block=1, num_self_attention_heads=2)
    >>> tuple(model(np.zeros((2, 8, 8, 3), "float32")).shape)
    (2, 10)

    Reference:
        Jaegle et al., "Perceiver: General Perception with Iterative
        Attention", ICML 2021.
    """

    family_presets = PERCEIVER_PRESETS

    def __init__(self, input_adapter, num_latents=512, latent_dim=1024, num_classes=1000,
                 num_blocks=8, num_self_attends_per_block=6, num_cross_attention_heads=1,
                 num_self_attention_heads=8, cross_attention_widening_factor=1,
                 self_attention_widening_factor=1, qk_channels=None, v_channels=None,
                 weight_sharing=True, dropout=0.0, remat=False, **kwargs):
        super().__init__(**kwargs)
        check_adapter("input_adapter", input_adapter)
        check_positive_int("num_classes", num_classes)
        set_encoder_arguments(self, locals())
        self.input_adapter = input_adapter
        self.num_classes = num_classes
        self.weight_sharing = bool(weight_sharing)
        self.remat = check_remat(remat, dropout)

        # === Layers ===
        dtype = self.dtype_policy
        num_cross = min(num_blocks, 2) if self.weight_sharing else num_blocks
        num_transformers = 1 if self.weight_sharing else num_blocks
        self.latents = LatentArray(num_latents, latent_dim, name="latents", dtype=dtype)
        self.cross_attentions = [
            CrossAttention(num_cross_attention_heads,
                           widening_factor=cross_attention_widening_factor, dropout=dropout,
                           qk_channels=qk_channels, v_channels=v_channels,
                           name=f"cross_attention_{b}", dtype=dtype)
            for b in range(num_cross)]
        self.latent_transformers = [
            [SelfAttention(num_self_attention_heads,
                           widening_factor=self_attention_widening_factor, dropout=dropout,
                           qk_channels=qk_channels, v_channels=v_channels,
                           name=f"self_attention_{b}_{i}", dtype=dtype)
             for i in range(num_self_attends_per_block)]
            for b in range(num_transformers)]
        self.final_norm = keras.layers.LayerNormalization(
            epsilon=1e-5, name="final_norm", dtype=dtype)
        self.classifier = keras.layers.Dense(num_classes, name="classifier", dtype=dtype)

    def _block_layers(self, b):
        """The cross-attention and latent transformer of block `b`."""
        cross = self.cross_attentions[min(b, len(self.cross_attentions) - 1)]
        return cross, self.latent_transformers[min(b, len(self.latent_transformers) - 1)]

    def build(self, input_shape):
        if not self.input_adapter.built:
            self.input_adapter.build(input_shape)
        features_shape = self.input_adapter.compute_output_shape(input_shape)["features"]
        check_context_heads(self.num_cross_attention_heads, self.qk_channels,
                            features_shape[-1])
        latents_shape = (features_shape[0], self.num_latents, self.latent_dim)
        self.latents.build(features_shape)
        for layer in self.cross_attentions:
            layer.build(latents_shape, features_shape)
        for transformer in self.latent_transformers:
            for layer in transformer:
                layer.build(latents_shape)
        self.final_norm.build((None, self.latent_dim))
        self.classifier.build((None, self.latent_dim))

    def call(self, inputs, training=None):
        features, padding_mask = adapter_features(self.input_adapter, inputs)
        latents = self.latents(features)
        for b in range(self.num_blocks):
            cross, transformer = self._block_layers(b)
            latents = cross(latents, features, context_mask=padding_mask, training=training)
            for layer in transformer:
                latents = maybe_remat(layer, self.remat)(latents, training=training)
        return self.classifier(self.final_norm(ops.mean(latents, axis=1)))

    def get_config(self):
        config = super().get_config()
        config.update({
            **encoder_config(self),
            "num_classes": self.num_classes,
            "weight_sharing": self.weight_sharing,
            "remat": self.remat,
        })
        return serialize_layers(config, input_adapter=self.input_adapter)

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_layers(config, "input_adapter"))
