"""Perceiver IO audio adapter: raw waveform patches plus 1-D positions."""

import keras
from keras import ops

from kerasmm.layers.adapter_base import BaseAdapter
from kerasmm.utils.checks import check_divisible
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.checks import check_rank


@keras.saving.register_keras_serializable(package="kerasmm")
class AudioAdapter(BaseAdapter):
    """Waveforms `(B, S, C)` to patches `(B, S / p, p * C)` plus positions.

    Hugging Face's `PerceiverAudioPreprocessor` (`prep_type="patches"`): the
    waveform is cut into non-overlapping patches of `samples_per_patch`
    samples, then position features over the patch index (1-D Fourier by
    default) are concatenated or added. For mono audio this is exactly
    Hugging Face's reshape; with C channels a patch holds `p` samples of every
    channel, sample-major.

    Args:
        samples_per_patch: samples per patch p; must divide the length.
        position_encoding: `"fourier"`, `"learned"` or None.
        num_bands: Fourier bands.
        max_resolution: Fourier resolution, a 1-tuple; defaults to the number
            of patches (DeepMind's multimodal model uses the number of
            samples: pass `max_resolution=(S,)` to match it).
        concat_pos, sine_only, position_dim, project_pos_dim,
        concat_or_add_pos: see `BaseAdapter`.

    Call arguments:
        audio: float `(B, S, C)`.

    Returns:
        `{"features": (B, S / p, output_dim)}`; `output_dim` is known once
        the adapter is built (it depends on C).

    Example:
    >>> adapter = AudioAdapter(samples_per_patch=16, num_bands=8)
    >>> tuple(adapter(keras.random.normal((2, 128, 1)))["features"].shape)
    (2, 8, 33)

    Reference:
        Jaegle et al., "Perceiver IO: A General Architecture for Structured
        Inputs & Outputs", 2021.
    """

    def __init__(self, samples_per_patch=96, position_encoding="fourier", num_bands=64,
                 max_resolution=None, concat_pos=True, sine_only=False,
                 position_dim=None, project_pos_dim=None, concat_or_add_pos="concat",
                 **kwargs):
        super().__init__(position_encoding=position_encoding, num_bands=num_bands,
                         max_resolution=max_resolution, concat_pos=concat_pos,
                         sine_only=sine_only, position_dim=position_dim,
                         project_pos_dim=project_pos_dim,
                         concat_or_add_pos=concat_or_add_pos, **kwargs)
        check_positive_int("samples_per_patch", samples_per_patch)
        self.samples_per_patch = samples_per_patch

    def _check_audio(self, shape):
        check_rank("audio", shape, 3)
        if shape[1] is None or shape[2] is None:
            raise ValueError(
                "audio must have a known length and channel count. Received: "
                f"audio with shape {tuple(shape)}"
            )
        check_divisible("audio length", shape[1], "samples_per_patch",
                        self.samples_per_patch)

    def build(self, input_shape):
        self._check_audio(input_shape)
        self._build_positions((input_shape[1] // self.samples_per_patch,),
                              self.samples_per_patch * input_shape[2])

    def call(self, audio):
        self._check_audio(audio.shape)
        num_patches = audio.shape[1] // self.samples_per_patch
        x = ops.reshape(audio, (-1, num_patches, self.samples_per_patch * audio.shape[2]))
        return {"features": self._with_positions(x)}

    def compute_output_shape(self, input_shape):
        self._check_audio(input_shape)
        num_patches = input_shape[1] // self.samples_per_patch
        width = self._feature_width((num_patches,), self.samples_per_patch * input_shape[2])
        return {"features": (input_shape[0], num_patches, width)}

    def get_config(self):
        config = super().get_config()
        config["samples_per_patch"] = self.samples_per_patch
        return config
