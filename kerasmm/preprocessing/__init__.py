"""kerasmm.preprocessing: tokenizers and image preprocessing (TensorFlow, tf.data)."""

from kerasmm.preprocessing.clip_tokenizer import CLIPTokenizer  # noqa: F401
