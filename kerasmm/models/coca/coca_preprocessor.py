"""CoCa's preprocessor: CLIP's tokenizer and image preprocessing, and detokenization."""

import keras

from kerasmm.models.clip.clip_preprocessor import CLIPPreprocessor
from kerasmm.models.coca.coca_presets import COCA_PRESETS


@keras.saving.register_keras_serializable(package="kerasmm")
class CoCaPreprocessor(CLIPPreprocessor):
    """Turns raw images and strings into CoCa's inputs, and its ids into text.

    open_clip's CoCa reads CLIP's: images (uint8 in `[0, 255]` or floats in
    `[0, 1]`) resized so that the shortest side is `image_size` (bicubic),
    center-cropped and normalised with OpenAI's mean and std (a
    `CLIPImagePreprocessor`); prompts tokenized by CLIP's BPE (a
    `CLIPTokenizer`: `<start_of_text>` 49406, words, `<end_of_text>` 49407,
    padded with 0 to the text tower's context length, 76 for the released
    CoCa, whose text tower appends its CLS token as the 77th position).
    The call is `CLIPPreprocessor`'s; `detokenize` turns `CoCa.generate`'s
    ids into strings as open_clip's `decode` (read up to the first end
    token, so the padding after it too; start tokens dropped, `</w>` as
    spaces; id 0 before the end token is `!`, its BPE token, as open_clip
    decodes it), stripped.

    `CoCaPreprocessor.from_preset(preset)` reads the same preset as
    `CoCa.from_preset(preset)` (which attaches it as `coca.preprocessor`):
    a registered name, a directory written by `save_to_preset`, or an
    open_clip CoCa checkpoint directory with `vocab.json` and `merges.txt`.

    Args:
        tokenizer: a `kerasmm.preprocessing.CLIPTokenizer`, or None (no
            prompts then).
        image_preprocessor: a `kerasmm.preprocessing.CLIPImagePreprocessor`,
            or None (no images then).

    Call arguments:
        inputs: a dict with `"images"` and/or `"prompts"`.

    Returns:
        A dict with `"images"` (float32) and/or `"token_ids"` (int32), for
        each input given.

    Example:
    >>> from kerasmm.preprocessing import CLIPImagePreprocessor
    >>> preprocessor = CoCaPreprocessor(
    ...     tokenizer=kerasmm.datasets.shapes_tokenizer(),  # a CLIPTokenizer
    ...     image_preprocessor=CLIPImagePreprocessor(image_size=32))
    >>> inputs = preprocessor({"images": np.zeros((1, 48, 64, 3), "uint8"),
    ...                        "prompts": ["a red circle"]})
    >>> tuple(inputs["images"].shape)
    (1, 32, 32, 3)
    >>> preprocessor.detokenize(inputs["token_ids"])
    ['a red circle']
    """

    backbone_cls = None  # CoCa's module imports this one: its presets are read directly.
    presets = COCA_PRESETS
    paddings = ("max_length",)  # its text tower appends its CLS token at the end

    def detokenize(self, token_ids):
        """Strings of int `(B, L)` token ids (`CoCa.generate`'s output)."""
        if self.tokenizer is None:
            raise ValueError("This CoCaPreprocessor has no tokenizer: it cannot detokenize")
        return self.tokenizer.detokenize(keras.ops.convert_to_numpy(token_ids))
