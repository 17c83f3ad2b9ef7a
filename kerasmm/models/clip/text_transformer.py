"""CLIP's causal text transformer (OpenAI `clip/model.py: CLIP.encode_text`)."""

import keras
import numpy as np
from keras import ops

from kerasmm.layers import LearnedPositionEmbedding
from kerasmm.layers import SelfAttention
from kerasmm.layers.remat import check_remat
from kerasmm.layers.remat import maybe_remat
from kerasmm.models.clip.clip_utils import check_tower_args
from kerasmm.models.clip.clip_utils import check_transformer_args
from kerasmm.models.clip.clip_utils import layer_norm
from kerasmm.models.clip.clip_utils import normal
from kerasmm.models.clip.clip_utils import transformer_config
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.tensor_checks import check_token_ids
from kerasmm.utils.tensor_checks import concrete_values


@keras.saving.register_keras_serializable(package="kerasmm")
class TextTransformer(keras.Model):
    """CLIP's text tower: a causal transformer read at the end-of-text token.

    Mirrors OpenAI's `CLIP.encode_text`: token embedding plus learned
    positions, `num_layers` causal pre-LN blocks
    (`kerasmm.layers.SelfAttention`; OpenAI: MLP 4x as wide, `quick_gelu`),
    `ln_final`, the features at the end-of-text (EOT) token of each row and
    a projection (OpenAI: without bias) to `output_dim`. The output is *not*
    L2-normalised; `kerasmm.models.CLIP` normalises it.

    Pooled path: by default only the EOT token is read, so the last block
    computes that one token alone. With `output_tokens=True` every block
    runs on the whole sequence and the call also returns every token's
    features, as open_clip's `output_tokens`.

    Where the EOT token is: by default, as OpenAI, at the largest id of each
    row (CLIP's `<|endoftext|>` is the last id of its vocabulary); ties go to
    the first position, so padding with the EOT id (Hugging Face's
    convention) also works. With `eot_token_id`, at the first position
    holding that id, and at the last position for a row that has none (a
    text truncated without its EOT token; open_clip and Hugging Face read
    position 0 there).

    Padding: because attention is causal and the features are read at the
    EOT token, tokens after the EOT token cannot change the output, whatever
    their value. A `padding_mask` may still be passed (keras-hub's
    convention); padded positions are then never attended to, which gives
    the same result for right-padded rows.

    The model is built on construction, so its weights exist before the
    first call. Weights and their OpenAI names: `token_embedding`
    (`token_embedding`), `position_embedding.embeddings`
    (`positional_embedding`), `blocks[i]` (`transformer.resblocks.i`, named
    as in `VisionTransformer`), `ln_final`, `projection.kernel`
    (`text_projection`) and, with `use_projection_bias`, `projection.bias`
    (open_clip's `text_cfg.proj_bias`, where `text_projection` is an
    `nn.Linear`).

    Args:
        vocabulary_size: int, number of token ids.
        context_length: int, longest token sequence (rows of the position
            table).
        hidden_dim: int, width of the transformer.
        num_layers: int, number of transformer blocks.
        num_heads: int, attention heads; must divide `hidden_dim`.
        output_dim: int, width of the output features.
        activation: MLP activation, `"quick_gelu"` for OpenAI checkpoints.
        eot_token_id: `None` (EOT at the largest id of each row) or the id
            of the end-of-text token.
        layer_norm_epsilon: float > 0, epsilon of every LayerNorm.
        remat: bool, rematerialise each transformer block: its activations
            are recomputed in the backward pass instead of being stored
            (`keras.remat`), which lowers peak training memory for about one
            extra forward pass of compute. Outputs and gradients are
            unchanged.
        intermediate_dim: int, hidden width of each block's MLP; None is
            `4 * hidden_dim` (OpenAI).
        use_projection_bias: bool, give the output projection a bias.
        output_tokens: bool, also return the token sequence (see Returns).

    Call arguments:
        inputs: int `token_ids` of shape `(batch, length)` with
            `length <= context_length`, or a dict with `"token_ids"` and an
            optional bool `"padding_mask"` of the same shape.
        training: Python bool.

    Returns:
        `(batch, output_dim)` text features; with `output_tokens=True` a dict
        `{"pooled": (batch, output_dim), "tokens": (batch, length,
        hidden_dim)}`: the pooled features and every position's features
        after `ln_final` (what `token_features` returns), as open_clip
        returns them.

    Example:
    >>> encoder = TextTransformer(vocabulary_size=64, context_length=16,
    ...                           hidden_dim=16, num_layers=2, num_heads=2,
    ...                           output_dim=8)
    >>> token_ids = keras.ops.convert_to_tensor([[1, 5, 63, 0], [1, 63, 0, 0]])
    >>> tuple(encoder(token_ids).shape)
    (2, 8)

    Reference:
        Radford et al., "Learning Transferable Visual Models From Natural
        Language Supervision", 2021; github.com/openai/CLIP `clip/model.py`.
    """

    def __init__(self, vocabulary_size=49408, context_length=77, hidden_dim=512,
                 num_layers=12, num_heads=8, output_dim=512,
                 activation="quick_gelu", eot_token_id=None,
                 layer_norm_epsilon=1e-5, remat=False, intermediate_dim=None,
                 use_projection_bias=False, output_tokens=False, **kwargs):
        super().__init__(**kwargs)
        check_tower_args(num_heads, "hidden_dim", hidden_dim, activation,
                         vocabulary_size=vocabulary_size,
                         context_length=context_length, num_layers=num_layers,
                         output_dim=output_dim)
        layer_norm_epsilon, use_projection_bias, output_tokens = check_transformer_args(
            layer_norm_epsilon, intermediate_dim, use_projection_bias, output_tokens)
        if eot_token_id is not None:
            if (isinstance(eot_token_id, bool) or not isinstance(eot_token_id, int)
                    or not 0 <= eot_token_id < vocabulary_size):
                raise ValueError(
                    "eot_token_id must be None or an int in [0, "
                    f"vocabulary_size). Received: eot_token_id={eot_token_id!r}, "
                    f"vocabulary_size={vocabulary_size}"
                )
        self.vocabulary_size = vocabulary_size
        self.context_length = context_length
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.output_dim = output_dim
        self.activation = activation
        self.eot_token_id = eot_token_id
        self.layer_norm_epsilon = layer_norm_epsilon
        self.remat = check_remat(remat)
        self.intermediate_dim = intermediate_dim
        self.use_projection_bias = use_projection_bias
        self.output_tokens = output_tokens
        dtype = self.dtype_policy

        # === Layers === (initialisers as OpenAI's `initialize_parameters`)
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, hidden_dim, embeddings_initializer=normal(0.02),
            name="token_embedding", dtype=dtype)
        self.position_embedding = LearnedPositionEmbedding(
            context_length, initializer=normal(0.01), name="position_embedding",
            dtype=dtype)
        self.blocks = [
            SelfAttention(num_heads, widening_factor=4, causal=True,
                          activation=activation,
                          layer_norm_epsilon=layer_norm_epsilon,
                          intermediate_dim=intermediate_dim,
                          name=f"block_{i}", dtype=dtype)
            for i in range(num_layers)
        ]
        self.ln_final = layer_norm(layer_norm_epsilon, "ln_final", dtype)
        self.projection = keras.layers.Dense(
            output_dim, use_bias=use_projection_bias,
            kernel_initializer=normal(hidden_dim ** -0.5),
            name="projection", dtype=dtype)
        self.build((None, context_length))

    def build(self, input_shape):
        if self.built:
            return
        sequence_shape = (None, self.context_length, self.hidden_dim)
        self.token_embedding.build((None, self.context_length))
        self.position_embedding.build(sequence_shape)
        for block in self.blocks:
            block.build(sequence_shape)
        self.ln_final.build(sequence_shape)
        self.projection.build((None, self.hidden_dim))

    # === Inputs ===

    def _unpack(self, inputs):
        padding_mask = None
        if isinstance(inputs, dict):
            if "token_ids" not in inputs:
                raise ValueError(
                    "inputs must be token ids or a dict with the key "
                    f"'token_ids'. Received: inputs keys={sorted(inputs)}"
                )
            token_ids, padding_mask = inputs["token_ids"], inputs.get("padding_mask")
        else:
            token_ids = inputs
        shape = self._check_token_ids(token_ids.shape)
        if padding_mask is not None and tuple(padding_mask.shape) != shape:
            raise ValueError(
                "padding_mask must have the shape of token_ids. Received: "
                f"padding_mask with shape {tuple(padding_mask.shape)}, "
                f"token_ids with shape {shape}"
            )
        token_ids = check_token_ids("token_ids", token_ids, self.vocabulary_size)
        return ops.cast(token_ids, "int32"), padding_mask

    def _check_token_ids(self, shape):
        shape = tuple(shape)
        if len(shape) != 2:
            raise ValueError(
                "token_ids must have shape (batch, length). Received: "
                f"token_ids with shape {shape}"
            )
        if shape[1] is not None and shape[1] > self.context_length:
            raise ValueError(
                "token_ids must not be longer than context_length. Received: "
                f"token_ids with length {shape[1]} (shape {shape}), "
                f"context_length={self.context_length}"
            )
        return shape

    # === Forward ===

    def token_features(self, inputs, training=None):
        """Per-token features after `ln_final`, `(batch, length, hidden_dim)`.

        What the EOT pooling reads from, and the `"tokens"` of
        `output_tokens=True`.
        """
        return self._tokens(*self._unpack(inputs), training)

    def _tokens(self, token_ids, padding_mask, training):
        x = self._embed(token_ids)
        for block in self.blocks:
            x = maybe_remat(block, self.remat)(x, mask=padding_mask, training=training)
        return self.ln_final(x)

    def _embed(self, token_ids):
        x = self.token_embedding(token_ids)
        return x + self.position_embedding(x)

    def trim_padding(self, inputs, multiple=8):
        """`inputs` without the columns after the batch's last end-of-text token.

        The pooled features read each row at its EOT token and attention is
        causal, so the columns after every row's EOT token cannot change
        them: dropping those columns gives the same features for less work
        (CLIP pads to 77 tokens; prompts such as "a photo of a dog." take
        about 8). `kerasmm.models.CLIP.encode_text` does this. The length
        kept is rounded up to a multiple of `multiple` (at most the input's
        length), so a stream of batches sees a few shapes only.

        Returns `inputs` unchanged when the ids are not concrete values (a
        traced or symbolic call), with `output_tokens=True` (every position
        is returned) or when nothing would be dropped. Inputs a call would
        refuse (too long, ids out of range) raise the same errors here.
        """
        check_positive_int("multiple", multiple)
        if self.output_tokens:
            return inputs
        ids = concrete_values(inputs.get("token_ids") if isinstance(inputs, dict) else inputs)
        if ids is None:
            return inputs
        as_array = (lambda x: np.asarray(x) if isinstance(x, (list, tuple)) else x)
        arrays = ({key: as_array(value) for key, value in inputs.items()}
                  if isinstance(inputs, dict) else as_array(inputs))
        self._unpack(arrays)  # the whole input checked, as a call checks it
        if ids.shape[0] == 0:
            return inputs
        keep = int(np.max(keras.ops.convert_to_numpy(self.eot_positions(ids)))) + 1
        keep = min(-(-keep // multiple) * multiple, ids.shape[1])
        if keep == ids.shape[1]:
            return inputs
        if isinstance(arrays, dict):
            return {key: value[:, :keep] if key in ("token_ids", "padding_mask") else value
                    for key, value in arrays.items()}
        return arrays[:, :keep]

    def eot_positions(self, token_ids):
        """Index of the end-of-text token of each row, int32 `(batch,)`."""
        token_ids = ops.cast(token_ids, "int32")
        length = ops.shape(token_ids)[1]
        positions = ops.arange(length, dtype="int32")[None, :]
        if self.eot_token_id is None:
            target = ops.max(token_ids, axis=1, keepdims=True)
        else:
            target = self.eot_token_id
        # The first match (argmax's tie rule differs between backends).
        first = ops.min(ops.where(ops.equal(token_ids, target), positions, length),
                        axis=1)
        return ops.minimum(first, length - 1)

    def call(self, inputs, training=None):
        token_ids, padding_mask = self._unpack(inputs)
        if self.output_tokens:
            tokens = self._tokens(token_ids, padding_mask, training)
            rows = self.eot_positions(token_ids)[:, None, None]
            pooled = ops.take_along_axis(tokens, rows, axis=1)[:, 0, :]
            return {"pooled": self.projection(pooled), "tokens": tokens}
        x = self._embed(token_ids)
        for block in self.blocks[:-1]:
            x = maybe_remat(block, self.remat)(x, mask=padding_mask, training=training)
        # Only the end-of-text token is read: the last block computes it alone
        # (equal to `token_features` there; `test_text_transformer` checks).
        x = maybe_remat(self.blocks[-1], self.remat)(
            x, mask=padding_mask, training=training,
            query_index=self.eot_positions(token_ids))
        return self.projection(self.ln_final(x[:, 0, :]))

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict):
            input_shape = input_shape["token_ids"]
        shape = self._check_token_ids(input_shape)
        if self.output_tokens:
            return {"pooled": (shape[0], self.output_dim),
                    "tokens": (shape[0], shape[1], self.hidden_dim)}
        return (shape[0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary_size": self.vocabulary_size,
            "context_length": self.context_length,
            "eot_token_id": self.eot_token_id,
            **transformer_config(self),
        })
        return config
