"""`VectorQuantizer`: the codebook bottleneck of a VQ-VAE (van den Oord et al., 2017)."""

import keras
from keras import ops

from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_min_rank
from kerasmm.utils.checks import check_number
from kerasmm.utils.checks import check_positive_int


@keras.saving.register_keras_serializable(package="kerasmm")
class VectorQuantizer(keras.layers.Layer):
    """Replaces each vector by its nearest codebook entry.

    Each input vector `z` (the last axis) becomes the codebook entry `e_k`
    with the smallest squared distance, `k = argmin_j ||z - e_j||^2`. The
    output is `z + stop_gradient(e_k - z)`: its value is `e_k`, its gradient
    with respect to `z` is the identity (the straight-through estimator), so
    the decoder's gradient reaches the encoder unchanged. The layer adds
    (`add_loss`) the VQ-VAE objective's two other terms, means over every
    element of `z`:

        codebook_loss = mean((stop_gradient(z) - e_k)^2)
        commitment_loss = mean((z - stop_gradient(e_k))^2)
        loss = codebook_loss + beta * commitment_loss

    With `use_ema=True` the codebook is not trained by gradient: the
    codebook term is dropped and, in training mode, each entry moves to the
    exponential moving average of the vectors assigned to it (the paper's
    appendix A.1; Laplace smoothing of the counts as in Sonnet's
    `VectorQuantizerEMA`, counts starting at one). The averages are
    non-trainable variables assigned in `call`, like BatchNormalization's
    moving statistics (not yet tested under multi-replica strategies).

    Args:
        num_embeddings: int, codebook size `K`.
        beta: float >= 0, the commitment loss weight (0.25 in the paper).
        use_ema: bool, update the codebook by moving averages.
        ema_decay: float in [0, 1), the moving averages' decay.
        epsilon: float > 0, the count smoothing of the EMA update.

    Call arguments:
        z: float `(..., D)`.
        training: Python bool; EMA updates happen only when True.

    Returns:
        `(quantized, codes)`: float `(..., D)` (straight-through) and int32
        `(...)` codebook indices.

    Example:
    >>> quantizer = VectorQuantizer(num_embeddings=8)
    >>> quantized, codes = quantizer(keras.random.normal((2, 4, 4, 3)))
    >>> tuple(quantized.shape), tuple(codes.shape), len(quantizer.losses)
    ((2, 4, 4, 3), (2, 4, 4), 1)

    Reference:
        van den Oord, Vinyals, Kavukcuoglu, "Neural Discrete Representation
        Learning", NeurIPS 2017.
    """

    def __init__(self, num_embeddings, beta=0.25, use_ema=False, ema_decay=0.99,
                 epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings)
        self.beta = check_number("beta", beta, minimum=0.0)
        self.use_ema = check_bool("use_ema", use_ema)
        self.ema_decay = check_number("ema_decay", ema_decay, minimum=0.0)
        if self.ema_decay >= 1.0:
            raise ValueError(f"ema_decay must be in [0, 1). Received: ema_decay={ema_decay}")
        self.epsilon = check_number("epsilon", epsilon, minimum=0.0, exclusive_minimum=True)

    def build(self, input_shape):
        check_min_rank("z", input_shape, 2)
        self.embedding_dim = int(input_shape[-1])
        shape = (self.num_embeddings, self.embedding_dim)
        limit = 1.0 / self.num_embeddings
        self.codebook = self.add_weight(
            shape=shape, name="codebook", trainable=not self.use_ema, autocast=False,
            initializer=keras.initializers.RandomUniform(-limit, limit))
        if self.use_ema:
            # The averages start as if each entry had been assigned itself
            # once, so entries that no vector picks keep their value (with
            # zero counts they would be divided by `epsilon` and blow up).
            self.ema_cluster_size = self.add_weight(
                shape=(self.num_embeddings,), name="ema_cluster_size", trainable=False,
                initializer="ones", autocast=False)
            self.ema_embedding_sum = self.add_weight(
                shape=shape, name="ema_embedding_sum", trainable=False, autocast=False,
                initializer="zeros")
            self.ema_embedding_sum.assign(self.codebook)

    def nearest_codes(self, z):
        """int32 indices `(...)` of the entries nearest to `z` `(..., D)`."""
        flat = ops.reshape(ops.cast(z, "float32"), (-1, self.embedding_dim))
        codebook = ops.convert_to_tensor(self.codebook)
        distances = (ops.sum(flat**2, axis=1, keepdims=True)
                     - 2.0 * ops.matmul(flat, ops.transpose(codebook))
                     + ops.sum(codebook**2, axis=1)[None, :])
        codes = ops.cast(ops.argmin(distances, axis=1), "int32")
        return ops.reshape(codes, ops.shape(z)[:-1])

    def lookup(self, codes):
        """The codebook entries `(..., D)` of int `codes` `(...)`."""
        return ops.take(ops.convert_to_tensor(self.codebook), ops.cast(codes, "int32"), axis=0)

    def call(self, z, training=None):
        codes = self.nearest_codes(z)
        z32 = ops.cast(z, "float32")
        quantized = self.lookup(codes)
        commitment = ops.mean(ops.square(z32 - ops.stop_gradient(quantized)))
        loss = self.beta * commitment
        if self.use_ema:
            if training:
                self._ema_update(z32, codes)
        else:
            loss = loss + ops.mean(ops.square(ops.stop_gradient(z32) - quantized))
        self.add_loss(loss)
        quantized = z32 + ops.stop_gradient(quantized - z32)
        return ops.cast(quantized, self.compute_dtype), codes

    def _ema_update(self, z, codes):
        flat = ops.reshape(ops.stop_gradient(z), (-1, self.embedding_dim))
        one_hot = ops.one_hot(ops.reshape(codes, (-1,)), self.num_embeddings)
        decay = self.ema_decay
        counts = decay * self.ema_cluster_size + (1.0 - decay) * ops.sum(one_hot, axis=0)
        sums = decay * self.ema_embedding_sum + (1.0 - decay) * ops.matmul(
            ops.transpose(one_hot), flat)
        total = ops.sum(counts)
        smoothed = (counts + self.epsilon) / (total + self.num_embeddings * self.epsilon) * total
        self.ema_cluster_size.assign(counts)
        self.ema_embedding_sum.assign(sums)
        self.codebook.assign(sums / smoothed[:, None])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), tuple(input_shape[:-1])

    def get_config(self):
        config = super().get_config()
        config.update({"num_embeddings": self.num_embeddings, "beta": self.beta,
                       "use_ema": self.use_ema, "ema_decay": self.ema_decay,
                       "epsilon": self.epsilon})
        return config
