"""`VQVAE`: a convolutional image tokenizer with a codebook, trained with `fit`."""

import keras
from keras import ops

from kerasmm.distribute import BuildBeforeTracingMixin
from kerasmm.layers.vector_quantizer import VectorQuantizer
from kerasmm.models.vqvae.vqvae_networks import build_vqvae_decoder
from kerasmm.models.vqvae.vqvae_networks import build_vqvae_encoder
from kerasmm.utils.checks import check_bool
from kerasmm.utils.checks import check_choice
from kerasmm.utils.checks import check_divisible
from kerasmm.utils.checks import check_images
from kerasmm.utils.checks import check_int
from kerasmm.utils.checks import check_int_tuple
from kerasmm.utils.checks import check_positive_int
from kerasmm.utils.tensor_checks import check_token_ids


@keras.saving.register_keras_serializable(package="kerasmm")
class VQVAE(BuildBeforeTracingMixin, keras.Model):
    """Vector-quantised autoencoder: images <-> a grid of integer codes.

    The encoder downsamples by `2 ** len(hidden_dims)` to latents of width
    `embedding_dim`, a `kerasmm.layers.VectorQuantizer` snaps each latent
    to its nearest codebook entry (straight-through gradient), and the
    decoder maps the entries back to an image in [-1, 1] (tanh). The
    training loss is built in: the reconstruction's mean squared error
    plus the quantizer's codebook and `beta`-weighted commitment losses,
    so `compile(optimizer=...)` and `fit({"images": ...})` are enough.

    Args:
        image_shape: `(H, W, C)`, `H` and `W` multiples of
            `2 ** len(hidden_dims)`, `C` in {1, 3}.
        num_embeddings: int, codebook size.
        embedding_dim: int, width of the latents and codebook entries.
        hidden_dims: widths of the stride-2 convolutions, one per halving.
        num_residual_blocks: int >= 0, residual blocks in encoder and decoder.
        beta: the commitment loss weight.
        use_ema: bool, moving-average codebook updates instead of gradients.
        ema_decay: the moving averages' decay.

    Call arguments:
        inputs: float images `(B, H, W, C)` in [-1, 1], or `{"images": ...}`.

    Returns:
        The reconstructions, float32 `(B, H, W, C)` in [-1, 1].

    Example:
    >>> vqvae = VQVAE(image_shape=(8, 8, 1), num_embeddings=16, embedding_dim=4,
    ...               hidden_dims=(8,))
    >>> codes = vqvae.encode(np.zeros((2, 8, 8, 1), "float32"))
    >>> tuple(codes.shape), tuple(vqvae.decode(codes).shape)
    ((2, 4, 4), (2, 8, 8, 1))

    Reference:
        van den Oord, Vinyals, Kavukcuoglu, "Neural Discrete Representation
        Learning", NeurIPS 2017.
    """

    def __init__(self, image_shape=(32, 32, 3), num_embeddings=128, embedding_dim=32,
                 hidden_dims=(32, 64), num_residual_blocks=1, beta=0.25, use_ema=False,
                 ema_decay=0.99, **kwargs):
        # Applied once the layers exist (a frozen model's config says False).
        trainable = kwargs.pop("trainable", True)
        super().__init__(**kwargs)
        image_shape = check_int_tuple("image_shape", image_shape)
        hidden_dims = check_int_tuple("hidden_dims", hidden_dims)
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (height, width, channels). "
                             f"Received: image_shape={image_shape}")
        check_choice("image_shape[-1]", image_shape[-1], (1, 3))
        if not hidden_dims:
            raise ValueError(f"hidden_dims must not be empty. Received: hidden_dims={hidden_dims}")
        for width in hidden_dims:
            check_positive_int("hidden_dims", width)
        factor = 2 ** len(hidden_dims)
        for axis, size in zip(("height", "width"), image_shape[:2]):
            check_positive_int(f"image_shape {axis}", size)
            check_divisible(f"image_shape {axis}", size, "the downsampling factor", factor)
        self.image_shape = image_shape
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.hidden_dims = hidden_dims
        self.num_residual_blocks = check_int("num_residual_blocks", num_residual_blocks,
                                             minimum=0)
        self.beta = beta
        self.use_ema = check_bool("use_ema", use_ema)
        self.ema_decay = ema_decay
        self.downsampling_factor = factor
        self.code_shape = (image_shape[0] // factor, image_shape[1] // factor)

        # === Layers ===
        self.encoder = build_vqvae_encoder(image_shape, hidden_dims, embedding_dim,
                                           num_residual_blocks)
        self.quantizer = VectorQuantizer(num_embeddings, beta=beta, use_ema=use_ema,
                                         ema_decay=ema_decay, name="quantizer")
        self.quantizer.build((None, *self.code_shape, embedding_dim))
        self.decoder = build_vqvae_decoder((*self.code_shape, embedding_dim), hidden_dims,
                                           image_shape[-1], num_residual_blocks)
        self.reconstruction_loss = keras.losses.MeanSquaredError(name="reconstruction_loss")
        self.built = True
        self.trainable = trainable

    def _images(self, inputs):
        images = inputs["images"] if isinstance(inputs, dict) else inputs
        check_images("images", images.shape, self.image_shape,
                     f"image_shape={self.image_shape}", dtype=images.dtype)
        return images

    def call(self, inputs, training=None):
        latents = self.encoder(self._images(inputs), training=training)
        quantized, _ = self.quantizer(latents, training=training)
        return self.decoder(quantized, training=training)

    def encode(self, images):
        """int32 codes `(B, H / f, W / f)` of float images `(B, H, W, C)` in [-1, 1]."""
        images = ops.convert_to_tensor(images)
        return self.quantizer.nearest_codes(self.encoder(self._images(images)))

    def decode(self, codes):
        """float32 images `(B, H, W, C)` in [-1, 1] of int codes `(B, H / f, W / f)`."""
        codes = ops.convert_to_tensor(codes)
        if tuple(codes.shape[1:]) != self.code_shape:
            raise ValueError(f"codes must have shape (batch, {self.code_shape[0]}, "
                             f"{self.code_shape[1]}). Received: codes with shape "
                             f"{tuple(codes.shape)}")
        codes = check_token_ids("codes", codes, self.num_embeddings)
        return self.decoder(self.quantizer.lookup(codes))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # Reconstruction MSE (a Keras loss: scaled for distribution like a
        # compiled one) plus the quantizer's `add_loss` terms.
        images = ops.cast(self._images(x), "float32")
        loss = self.reconstruction_loss(images, ops.cast(y_pred, "float32"), sample_weight)
        for extra in self.losses:
            loss = loss + ops.cast(self._aggregate_additional_loss(extra), "float32")
        return loss

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "image_shape", "num_embeddings", "embedding_dim", "hidden_dims",
            "num_residual_blocks", "beta", "use_ema", "ema_decay")})
        return config
