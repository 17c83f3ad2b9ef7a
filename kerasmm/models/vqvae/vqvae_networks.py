"""The VQ-VAE's convolutional encoder and decoder (van den Oord et al., 2017, sec. 4.2)."""

import keras


def _residual_block(x, width, name):
    # ReLU, 3x3 conv, ReLU, 1x1 conv, plus the input (the paper's block).
    h = keras.layers.ReLU(name=f"{name}_relu_0")(x)
    h = keras.layers.Conv2D(width, 3, padding="same", name=f"{name}_conv_0")(h)
    h = keras.layers.ReLU(name=f"{name}_relu_1")(h)
    h = keras.layers.Conv2D(x.shape[-1], 1, name=f"{name}_conv_1")(h)
    return keras.layers.Add(name=f"{name}_add")([x, h])


def build_vqvae_encoder(image_shape, hidden_dims, embedding_dim, num_residual_blocks,
                        name="encoder"):
    """Images `(B, H, W, C)` -> latents `(B, H / 2^n, W / 2^n, embedding_dim)`.

    One stride-2 4x4 convolution (with ReLU) per entry of `hidden_dims`
    (`n = len(hidden_dims)`), a 3x3 convolution, `num_residual_blocks`
    residual blocks, ReLU and a 1x1 projection to `embedding_dim`.
    """
    inputs = keras.Input(image_shape, name="images")
    x = inputs
    for i, width in enumerate(hidden_dims):
        x = keras.layers.Conv2D(width, 4, strides=2, padding="same", activation="relu",
                                name=f"down_{i}")(x)
    x = keras.layers.Conv2D(hidden_dims[-1], 3, padding="same", name="conv")(x)
    for i in range(num_residual_blocks):
        x = _residual_block(x, hidden_dims[-1], f"residual_{i}")
    x = keras.layers.ReLU(name="relu")(x)
    outputs = keras.layers.Conv2D(embedding_dim, 1, name="projection")(x)
    return keras.Model(inputs, outputs, name=name)


def build_vqvae_decoder(latent_shape, hidden_dims, channels, num_residual_blocks,
                        name="decoder"):
    """Latents `(B, h, w, D)` -> images `(B, h * 2^n, w * 2^n, channels)` in [-1, 1].

    The encoder's mirror: a 3x3 convolution, residual blocks, ReLU, then
    one stride-2 4x4 transposed convolution per entry of `hidden_dims`
    (reversed; the last one outputs `channels`) and a tanh.
    """
    inputs = keras.Input(latent_shape, name="latents")
    x = keras.layers.Conv2D(hidden_dims[-1], 3, padding="same", name="conv")(inputs)
    for i in range(num_residual_blocks):
        x = _residual_block(x, hidden_dims[-1], f"residual_{i}")
    x = keras.layers.ReLU(name="relu")(x)
    widths = list(hidden_dims[:-1])[::-1] + [channels]
    for i, width in enumerate(widths):
        last = i == len(widths) - 1
        x = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same",
                                         activation=None if last else "relu",
                                         name=f"up_{i}")(x)
    outputs = keras.layers.Activation("tanh", name="tanh", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)
