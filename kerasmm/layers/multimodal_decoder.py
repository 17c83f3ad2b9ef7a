"""Perceiver IO multimodal decoder: per-modality queries, one cross-attention."""

import keras
from keras import ops

from kerasmm.layers.decoder_base import BaseDecoder
from kerasmm.utils.checks import check_positive_int
from kerasmm.layers.multimodal_adapter import check_modalities
from kerasmm.layers.position import default_initializer


@keras.saving.register_keras_serializable(package="kerasmm")
class MultimodalDecoder(BaseDecoder):
    """Decodes several modalities at once, as DeepMind's multimodal autoencoder.

    Hugging Face's `PerceiverMultimodalDecoder` + `PerceiverMultimodalPostprocessor`:
    each modality's decoder only supplies its queries (flattened to
    `(B, n_m, c_m)`), padded to the common width `max_m c_m +
    min_padding_size` with a trainable per-modality vector and concatenated
    in sorted modality order. One cross-attention decodes them all, a Dense
    maps to `output_num_channels`, the result is split back per modality,
    and each modality's decoder finishes its own part (its final projection,
    e.g. to pixels, audio samples or class logits). The sub-decoders' own
    cross-attentions are never built.

    Args:
        decoders: dict modality name -> decoder (`BasicDecoder`,
            `ClassificationDecoder`, ...).
        output_num_channels: width of the shared output before each
            modality's projection.
        min_padding_size: padding channels added even to the widest queries.
        padding_initializer: initializer of the padding vectors; truncated
            normal with standard deviation 0.02 by default.
        num_heads, qk_channels, v_channels, widening_factor,
        use_query_residual, dropout: the shared cross-attention (see
        `BaseDecoder`).

    Call arguments:
        latents: `(B, N, D)`.
        inputs: unused.
        subsampled_points: optional dict modality -> int `(n_m,)` indices
            (or None) to decode only part of a modality.

    Returns:
        dict modality -> that decoder's outputs.

    Example:
    >>> from kerasmm.layers import BasicDecoder, ClassificationDecoder
    >>> decoder = MultimodalDecoder({
    ...     "image": BasicDecoder(3, output_index_dims=(4, 4),
    ...                           position_encoding="fourier", num_bands=2),
    ...     "label": ClassificationDecoder(num_classes=5, query_dim=8)},
    ...     output_num_channels=16)
    >>> out = decoder(keras.random.normal((2, 8, 32)))
    >>> tuple(out["image"].shape), tuple(out["label"].shape)
    ((2, 4, 4, 3), (2, 5))

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    def __init__(self, decoders, output_num_channels=512, min_padding_size=2,
                 padding_initializer=None, num_heads=1, qk_channels=None, v_channels=None,
                 widening_factor=1, use_query_residual=False, dropout=0.0, **kwargs):
        super().__init__(num_heads=num_heads, qk_channels=qk_channels,
                         v_channels=v_channels, widening_factor=widening_factor,
                         use_query_residual=use_query_residual, dropout=dropout, **kwargs)
        check_modalities("decoders", decoders, "decoder")
        for m, d in decoders.items():
            if not isinstance(d, BaseDecoder) or isinstance(d, MultimodalDecoder):
                raise ValueError(
                    "decoders must map modality names to kerasmm single-modality "
                    f"decoders. Received: decoders[{m!r}]={d!r}"
                )
        check_positive_int("output_num_channels", output_num_channels)
        check_positive_int("min_padding_size", min_padding_size)
        self.modalities = sorted(decoders)
        self.decoders = {m: decoders[m] for m in self.modalities}
        self.output_num_channels = output_num_channels
        self.min_padding_size = min_padding_size
        self.padding_initializer = default_initializer(padding_initializer)

    def build_queries(self, latent_dim, input_dim=None):
        for decoder in self.decoders.values():
            if not decoder.built:  # a built one is shared with another decoder
                with keras.name_scope(decoder.name):
                    decoder.build_queries(latent_dim)
        self.query_dim = max(d.query_dim for d in self.decoders.values()) + self.min_padding_size
        self.paddings = {
            m: self.add_weight(shape=(1, self.query_dim - d.query_dim),
                               initializer=self.padding_initializer, name=f"padding_{m}")
            for m, d in self.decoders.items()}

    def _subsampled(self, subsampled_points, m):
        return None if subsampled_points is None else subsampled_points.get(m)

    def _padded_queries(self, latents, subsampled_points):
        parts = {}
        for m, decoder in self.decoders.items():
            q = decoder.queries(latents, None, self._subsampled(subsampled_points, m))
            q = ops.cast(q, self.compute_dtype)
            shape = ops.shape(q)
            padding = ops.cast(self.paddings[m], self.compute_dtype)[None]
            padding = ops.broadcast_to(padding, (shape[0], shape[1], padding.shape[-1]))
            parts[m] = ops.concatenate([q, padding], axis=-1)
        return parts

    def queries(self, latents, inputs=None, subsampled_points=None):
        """Concatenated padded queries `(B, sum n_m, query_dim)`."""
        return ops.concatenate(list(self._padded_queries(latents, subsampled_points).values()),
                               axis=1)

    def build_postprocess(self, width):
        self.final_projection = keras.layers.Dense(
            self.output_num_channels, name="final_projection", dtype=self.dtype_policy)
        self.final_projection.build((None, None, width))
        for decoder in self.decoders.values():
            if not decoder.built:
                with keras.name_scope(decoder.name):
                    decoder.build_postprocess(self.output_num_channels)
                decoder.built = True  # its queries and outputs are all it needs here

    def postprocess(self, x, subsampled_points=None, sizes=None):
        x = self.final_projection(x)
        outputs, start = {}, 0
        for m, decoder in self.decoders.items():
            part = x[:, start:start + sizes[m]]
            start += sizes[m]
            outputs[m] = ops.cast(
                decoder.postprocess(part, self._subsampled(subsampled_points, m)),
                self.compute_dtype)
        return outputs

    def call(self, latents, inputs=None, subsampled_points=None, training=None):
        parts = self._padded_queries(latents, subsampled_points)
        query = ops.concatenate(list(parts.values()), axis=1)
        x = self.cross_attention(query, latents, training=training)
        sizes = {m: q.shape[1] for m, q in parts.items()}
        return self.postprocess(x, subsampled_points, sizes)

    def compute_output_shape(self, latents_shape):
        return {m: d.compute_output_shape(latents_shape) for m, d in self.decoders.items()}

    def get_config(self):
        config = super().get_config()
        config.update({
            "decoders": {m: keras.saving.serialize_keras_object(d)
                         for m, d in self.decoders.items()},
            "output_num_channels": self.output_num_channels,
            "min_padding_size": self.min_padding_size,
            "padding_initializer": keras.initializers.serialize(self.padding_initializer),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["decoders"] = {m: keras.saving.deserialize_keras_object(d)
                              for m, d in config["decoders"].items()}
        return cls(**config)
