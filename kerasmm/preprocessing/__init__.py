"""kerasmm.preprocessing: tokenizers and image preprocessing.

These layers run in TensorFlow (eagerly or inside `tf.data`) whatever the
Keras backend, and return `tf.Tensor`s that models of every backend accept.
Pixel statistics live in `kerasmm.utils.constants`.
"""

from kerasmm.preprocessing.audio_features import LogMelSpectrogram  # noqa: F401
from kerasmm.preprocessing.audio_kaldi import KaldiFilterBank  # noqa: F401
from kerasmm.preprocessing.audio_ops import crop, pad_or_repeat, resample  # noqa: F401
from kerasmm.preprocessing.byte_tokenizer import ByteTokenizer  # noqa: F401
from kerasmm.preprocessing.clip_image_preprocessor import CLIPImagePreprocessor  # noqa: F401
from kerasmm.preprocessing.clip_tokenizer import CLIPTokenizer  # noqa: F401
from kerasmm.preprocessing.perceiver_image_preprocessor import (  # noqa: F401
    PerceiverImagePreprocessor,
)
