"""Perceiver IO multimodal adapter: several adapters, one input array."""

import keras
from keras import ops

from kerasmm.layers.adapter_base import BaseAdapter
from kerasmm.layers.label_adapter import LabelAdapter
from kerasmm.layers.position import default_initializer
from kerasmm.layers.text_adapter import TextAdapter
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_same_batch


def check_modalities(name, layers, kind):
    if not isinstance(layers, dict) or not layers or not all(
            isinstance(k, str) and isinstance(v, keras.layers.Layer)
            for k, v in layers.items()):
        raise ValueError(
            f"{name} must be a non-empty dict mapping modality names to {kind} "
            f"layers. Received: {name}={layers!r}"
        )


def check_adapter(name, value):
    """Raises unless `value` is a kerasmm input adapter (or a subclass).

    An adapter returns `{"features": (B, M, C)[, "padding_mask"]}` and knows
    its `output_dim`; any other layer (a `Dense`, a decoder) would fail
    only when first called, far from the mistake.
    """
    if not isinstance(value, (BaseAdapter, TextAdapter, LabelAdapter, MultimodalAdapter)):
        raise ValueError(
            f"{name} must be a kerasmm adapter (ImageAdapter, TextAdapter, "
            "AudioAdapter, VideoAdapter, LabelAdapter, MultimodalAdapter or a "
            f"subclass of kerasmm.layers.adapter_base.BaseAdapter). Received: "
            f"{name} of type {type(value).__name__}"
        )
    return value


def _batch_shapes(inputs, modalities):
    """Each modality's input shape (of a dict's first entry, e.g. a text's
    ids); `inputs` holds tensors or shapes."""
    shapes = []
    for m in modalities:
        x = inputs[m]
        while isinstance(x, dict):
            x = next(iter(x.values()))
        shapes.append(tuple(getattr(x, "shape", x)))
    return shapes


def check_input_keys(inputs, modalities, name="inputs"):
    """ValueError naming missing or unexpected modalities of a dict input."""
    if not isinstance(inputs, dict):
        raise ValueError(
            f"{name} must be a dict keyed by modality {list(modalities)}. "
            f"Received: {name} of type {type(inputs).__name__}"
        )
    missing = [m for m in modalities if m not in inputs]
    if missing:
        raise ValueError(
            f"{name} is missing modality {missing[0]!r} (expected {list(modalities)}). "
            f"Received keys: {sorted(inputs)}"
        )
    extra = [k for k in inputs if k not in modalities]
    if extra:
        raise ValueError(
            f"{name} has unknown modality {extra[0]!r} (expected "
            f"{list(modalities)}). Received keys: {sorted(inputs)}"
        )


@keras.saving.register_keras_serializable(package="kerasmm")
class MultimodalAdapter(keras.layers.Layer):
    """Runs one adapter per modality and concatenates their input arrays.

    Hugging Face's `PerceiverMultimodalPreprocessor`: each modality's
    features `(B, M_m, C_m)` are padded to the common width
    `C = max_m C_m + min_padding_size` with a trainable per-modality padding
    vector (broadcast over positions), then concatenated along positions in
    sorted modality order. `modality_sizes[m]` and `modality_starts[m]` say
    where each modality lies. Padding masks of text-like modalities are
    concatenated too (all True for modalities without one).

    With `mask_probs={"label": 1.0}` every position of that modality is
    replaced by a trainable mask token (in training and at inference, as the
    reference); probabilities strictly between 0 and 1 mask positions at
    random.

    Args:
        adapters: dict modality name -> adapter layer.
        min_padding_size: padding channels added even to the widest modality.
        mask_probs: optional dict modality -> masking probability.
        padding_initializer: initializer of the padding and mask vectors;
            truncated normal with standard deviation 0.02 by default.
        seed: seed of the random masking.

    Call arguments:
        inputs: dict modality name -> that adapter's input.

    Returns:
        `{"features": (B, sum_m M_m, C)}` plus `"padding_mask"` when any
        modality has one.

    Example:
    >>> from kerasmm.layers import AudioAdapter, LabelAdapter
    >>> adapter = MultimodalAdapter({
    ...     "audio": AudioAdapter(samples_per_patch=4, num_bands=2),
    ...     "label": LabelAdapter(num_classes=3)})
    >>> out = adapter({"audio": keras.random.normal((2, 16, 1)),
    ...                "label": keras.ops.zeros((2, 3))})
    >>> tuple(out["features"].shape)  # 4 audio patches + 1 label, width max(9, 3) + 2
    (2, 5, 11)
    >>> adapter.modality_starts
    {'audio': 0, 'label': 4}

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    def __init__(self, adapters, min_padding_size=2, mask_probs=None,
                 padding_initializer=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_modalities("adapters", adapters, "adapter")
        for modality, adapter in adapters.items():
            check_adapter(f"adapters[{modality!r}]", adapter)
        check_positive_int("min_padding_size", min_padding_size)
        mask_probs = dict(mask_probs or {})
        for modality, p in mask_probs.items():
            if modality not in adapters or not 0.0 <= p <= 1.0:
                raise ValueError(
                    "mask_probs must map modalities of adapters to probabilities in "
                    f"[0, 1]. Received: mask_probs={mask_probs}, modalities "
                    f"{sorted(adapters)}"
                )
        self.modalities = sorted(adapters)
        self.adapters = {m: adapters[m] for m in self.modalities}
        self.min_padding_size = min_padding_size
        self.mask_probs = mask_probs
        self.padding_initializer = default_initializer(padding_initializer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.modality_sizes = None
        self.modality_starts = None

    @property
    def output_dim(self):
        """The common width; None until every modality's width is known."""
        dims = [a.output_dim for a in self.adapters.values()]
        if any(d is None for d in dims):
            return None
        return max(dims) + self.min_padding_size

    def build(self, input_shape):
        check_input_keys(input_shape, self.modalities)
        check_same_batch(self.modalities, _batch_shapes(input_shape, self.modalities))
        self.modality_sizes, self.modality_starts, start = {}, {}, 0
        for m in self.modalities:
            adapter = self.adapters[m]
            if not adapter.built:
                adapter.build(input_shape[m])
            size = adapter.compute_output_shape(input_shape[m])["features"][1]
            self.modality_starts[m], self.modality_sizes[m] = start, size
            start += size
        width = self.output_dim
        self.paddings = {}
        self.masks = {}
        for m in self.modalities:
            # A fully masked modality's padding never reaches the output: it is
            # non-trainable (it would get no gradient), yet kept under its name
            # so that checkpoints holding it (Hugging Face's) still load.
            self.paddings[m] = self.add_weight(
                shape=(1, width - self.adapters[m].output_dim),
                initializer=self.padding_initializer, name=f"padding_{m}",
                trainable=self.mask_probs.get(m, 0.0) < 1.0)
        for m in sorted(self.mask_probs):
            self.masks[m] = self.add_weight(
                shape=(1, width), initializer=self.padding_initializer, name=f"mask_{m}")

    def _mask(self, m, x):
        p = self.mask_probs.get(m, 0.0)
        if p == 0.0:
            return x
        token = ops.cast(self.masks[m], x.dtype)[None]
        if p == 1.0:
            return ops.broadcast_to(token, ops.shape(x))
        shape = ops.shape(x)[:2]
        hit = keras.random.uniform(shape, seed=self.seed_generator) < p
        return ops.where(hit[..., None], token, x)

    def call(self, inputs):
        check_input_keys(inputs, self.modalities)
        check_same_batch(self.modalities, _batch_shapes(inputs, self.modalities))
        features, masks, any_mask = [], [], False
        for m in self.modalities:
            out = self.adapters[m](inputs[m])
            x = ops.cast(out["features"], self.compute_dtype)
            shape = ops.shape(x)
            padding = ops.cast(self.paddings[m], self.compute_dtype)[None]
            padding = ops.broadcast_to(padding, (shape[0], shape[1], padding.shape[-1]))
            features.append(self._mask(m, ops.concatenate([x, padding], axis=-1)))
            mask = out.get("padding_mask")
            any_mask = any_mask or mask is not None
            masks.append(ops.ones(shape[:2], "bool") if mask is None else mask)
        outputs = {"features": ops.concatenate(features, axis=1)}
        if any_mask:
            outputs["padding_mask"] = ops.concatenate(masks, axis=1)
        return outputs

    def split(self, x):
        """Splits `(B, sum M_m, ...)` back into a dict of per-modality parts."""
        return {m: x[:, self.modality_starts[m]:self.modality_starts[m] + self.modality_sizes[m]]
                for m in self.modalities}

    def compute_output_shape(self, input_shape):
        check_input_keys(input_shape, self.modalities)
        check_same_batch(self.modalities, _batch_shapes(input_shape, self.modalities))
        total, any_mask = 0, False
        for m in self.modalities:
            out = self.adapters[m].compute_output_shape(input_shape[m])
            batch = out["features"][0]
            total += out["features"][1]
            any_mask = any_mask or "padding_mask" in out
        outputs = {"features": (batch, total, self.output_dim)}
        if any_mask:
            outputs["padding_mask"] = (batch, total)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update({
            "adapters": {m: keras.saving.serialize_keras_object(a)
                         for m, a in self.adapters.items()},
            "min_padding_size": self.min_padding_size,
            "mask_probs": self.mask_probs,
            "padding_initializer": keras.initializers.serialize(self.padding_initializer),
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["adapters"] = {m: keras.saving.deserialize_keras_object(a)
                              for m, a in config["adapters"].items()}
        return cls(**config)
