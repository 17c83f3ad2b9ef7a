"""The functional networks of `TextToImageDiffusion`: a text-conditioned U-Net and a text encoder.

Both are built on construction (weights exist at once) and every layer is
named, so weight paths do not depend on what was built before.
"""

import keras
from keras import ops

from kerasmm.layers import LearnedPositionEmbedding
from kerasmm.layers import SelfAttention
from kerasmm.models.diffusion.diffusion_blocks import ImageTextAttention
from kerasmm.models.diffusion.diffusion_blocks import ResBlock
from kerasmm.models.diffusion.diffusion_blocks import timestep_embedding


def build_unet(image_shape, context_dim, hidden_dim, channel_multipliers, attention_levels,
               num_heads, num_groups, dropout, pooled_text=False, dtype=None, name="unet"):
    """A U-Net predicting the noise: `[x_t, t, text tokens, text mask] -> eps`.

    Level `i` works at `H / 2**i` with `hidden_dim * channel_multipliers[i]`
    channels: a `ResBlock`, then an `ImageTextAttention` if `i` is in
    `attention_levels`, then a stride-2 conv (except after the last
    level); the middle is ResBlock, attention, ResBlock; the up path mirrors
    the levels with a skip connection each and nearest-neighbour upsampling.
    The timestep goes through the sinusoidal embedding (width
    `hidden_dim`) and a 2-layer MLP (width `4 * hidden_dim`) into every
    ResBlock. With `pooled_text`, the mean of the unmasked text tokens
    goes through its own 2-layer MLP and is added to that embedding
    (global text conditioning, as Imagen's pooled embedding and SDXL's
    pooled text vector), so every ResBlock also sees the whole prompt.
    """
    height, width, channels = image_shape
    widths = [hidden_dim * m for m in channel_multipliers]
    last = len(widths) - 1
    images = keras.Input(image_shape, name="noisy_images")
    timesteps = keras.Input((), name="timesteps")
    context = keras.Input((None, context_dim), name="context")
    context_mask = keras.Input((None,), dtype="bool", name="context_mask")

    def layer(cls, *args, **kwargs):
        return cls(*args, dtype=dtype, **kwargs)

    def attention(level, h, label):
        if level not in attention_levels:
            return h
        block = layer(ImageTextAttention, num_heads, dropout=dropout, name=f"{label}_attention")
        return block(h, context, context_mask=context_mask)

    def res_block(h, width_out, label):
        return layer(ResBlock, width_out, num_groups=num_groups, dropout=dropout,
                     name=f"{label}_res_block")(h, embedding)

    # === Timestep embedding ===
    embedding = timestep_embedding(timesteps, hidden_dim)
    embedding = layer(keras.layers.Dense, 4 * hidden_dim, activation="silu",
                      name="time_dense_1")(embedding)
    embedding = layer(keras.layers.Dense, 4 * hidden_dim, name="time_dense_2")(embedding)
    if pooled_text:
        weights = ops.cast(context_mask, context.dtype)[:, :, None]
        pooled = ops.sum(context * weights, axis=1) / ops.maximum(
            ops.sum(weights, axis=1), 1.0)
        pooled = layer(keras.layers.Dense, 4 * hidden_dim, activation="silu",
                       name="text_pool_dense_1")(pooled)
        embedding = embedding + layer(keras.layers.Dense, 4 * hidden_dim,
                                      name="text_pool_dense_2")(pooled)

    # === Down ===
    h = layer(keras.layers.Conv2D, widths[0], 3, padding="same", name="conv_in")(images)
    skips = []
    for level, level_width in enumerate(widths):
        h = attention(level, res_block(h, level_width, f"down_{level}"), f"down_{level}")
        skips.append(h)
        if level < last:
            h = layer(keras.layers.Conv2D, level_width, 3, strides=2, padding="same",
                      name=f"down_{level}_downsample")(h)

    # === Middle ===
    h = res_block(h, widths[-1], "middle_1")
    h = attention(last, h, "middle") if attention_levels else h
    h = res_block(h, widths[-1], "middle_2")

    # === Up ===
    for level in reversed(range(len(widths))):
        h = ops.concatenate([h, skips[level]], axis=-1)
        h = attention(level, res_block(h, widths[level], f"up_{level}"), f"up_{level}")
        if level > 0:
            h = layer(keras.layers.UpSampling2D, 2, name=f"up_{level}_upsample")(h)
            h = layer(keras.layers.Conv2D, widths[level - 1], 3, padding="same",
                      name=f"up_{level}_upsample_conv")(h)

    # === Output ===
    h = layer(keras.layers.GroupNormalization, num_groups, epsilon=1e-5, name="norm_out")(h)
    noise = layer(keras.layers.Conv2D, channels, 3, padding="same",
                  kernel_initializer="zeros", name="conv_out")(ops.silu(h))
    noise = ops.cast(noise, "float32")
    return keras.Model([images, timesteps, context, context_mask], noise, name=name)


def build_text_encoder(vocabulary_size, context_length, hidden_dim, num_layers, num_heads,
                       dropout, dtype=None, name="text_encoder"):
    """Token ids and their padding mask -> text tokens `(B, L, hidden_dim)`.

    Token embedding plus learned positions, `num_layers` bidirectional
    pre-LN `SelfAttention` blocks (padding masked out), a final LayerNorm,
    and zeros at padded positions.
    """
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    padding_mask = keras.Input((None,), dtype="bool", name="padding_mask")
    x = keras.layers.Embedding(vocabulary_size, hidden_dim, name="token_embedding",
                               dtype=dtype)(token_ids)
    x = x + LearnedPositionEmbedding(context_length, name="position_embedding",
                                     dtype=dtype)(x)
    for i in range(num_layers):
        x = SelfAttention(num_heads, widening_factor=4, dropout=dropout, name=f"block_{i}",
                          dtype=dtype)(x, mask=padding_mask)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm", dtype=dtype)(x)
    # Padding tokens are zeroed (the U-Net masks them anyway); as an op, not a
    # layer, this also keeps Keras from attaching the mask to the output.
    x = ops.where(padding_mask[:, :, None], x, ops.zeros_like(x))
    return keras.Model({"token_ids": token_ids, "padding_mask": padding_mask}, x, name=name)
