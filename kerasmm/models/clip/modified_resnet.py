"""CLIP's ModifiedResNet image tower (RN50, RN101, RN50x4, ...)."""

import keras
from keras import ops

from kerasmm.utils.checks import check_positive_int
from kerasmm.models.clip.clip_utils import check_tower_args
from kerasmm.models.clip.resnet_layers import AttentionPool2D
from kerasmm.models.clip.resnet_layers import Bottleneck
from kerasmm.models.clip.resnet_layers import batch_norm
from kerasmm.models.clip.resnet_layers import conv
from kerasmm.utils.checks import check_images

# Stem (stride 2, then avgpool 2) and three strided stages: 32x downsampling.
_DOWNSAMPLING = 32


@keras.saving.register_keras_serializable(package="kerasmm")
class ModifiedResNet(keras.Model):
    """CLIP's ResNet image tower with a 3-conv stem and attention pooling.

    Mirrors OpenAI's `ModifiedResNet`, which differs from torchvision's
    ResNet in three ways:

    - a stem of three 3x3 convs (`width / 2` with stride 2, `width / 2`,
      `width`; each followed by BatchNorm and ReLU) and an average pool
      instead of a max pool;
    - anti-aliased strided bottlenecks: convs keep stride 1 and an average
      pool does the downsampling (`kerasmm.models.clip.Bottleneck`);
    - attention pooling instead of global average pooling
      (`kerasmm.models.clip.AttentionPool2D`, position table of
      `(image_size / 32) ** 2 + 1` rows).

    Convs have no bias; BatchNorm uses PyTorch's epsilon 1e-5 and momentum;
    the stride-2 stem conv pads one pixel on each side as PyTorch does
    (Keras' `'same'` would pad only bottom/right). The model is built on
    construction for `(image_size, image_size, 3)` images.

    Weights and their OpenAI names: `stem_conv{1,2,3}` / `stem_bn{1,2,3}`
    (`conv1..3`, `bn1..3`), `stages[s][b]` (`layer{s+1}.{b}`; inside,
    `conv1..3`, `bn1..3`, and `downsample_conv` / `downsample_bn` for
    `downsample.0` / `downsample.1`), `attention_pool` (`attnpool`).

    Args:
        block_counts: 4 ints, bottlenecks per stage (RN50: `(3, 4, 6, 3)`,
            RN101: `(3, 4, 23, 3)`).
        width: int, stem width; stage `s` has `width * 2**s` inner channels
            and the final feature map `width * 32` channels.
        num_heads: int, heads of the attention pooling (OpenAI:
            `width * 32 // 64`); must divide `width * 32`.
        output_dim: int, width of the output features.
        image_size: int, side of the square input images; a multiple of 32.

    Call arguments:
        images: float `(batch, image_size, image_size, 3)`, channels last,
            already preprocessed; integer images are refused.
        training: Python bool (BatchNorm).

    Returns:
        `(batch, output_dim)` image features (not L2-normalised).

    Example:
    >>> encoder = ModifiedResNet(block_counts=(1, 1, 1, 1), width=8,
    ...                          num_heads=4, output_dim=16, image_size=64)
    >>> tuple(encoder(keras.random.normal((2, 64, 64, 3))).shape)
    (2, 16)

    Reference:
        Radford et al., "Learning Transferable Visual Models From Natural
        Language Supervision", 2021; github.com/openai/CLIP `clip/model.py`.
    """

    def __init__(self, block_counts=(3, 4, 6, 3), width=64, num_heads=32,
                 output_dim=1024, image_size=224, **kwargs):
        super().__init__(**kwargs)
        counts = block_counts
        if (not isinstance(counts, (list, tuple)) or len(counts) != 4
                or any(isinstance(c, bool) or not isinstance(c, int) or c <= 0
                       for c in counts)):
            raise ValueError(
                "block_counts must be 4 positive ints, one per stage. "
                f"Received: block_counts={block_counts!r}"
            )
        check_positive_int("width", width)
        if width % 2:
            raise ValueError(f"width must be even. Received: width={width}")
        check_tower_args(num_heads, "width * 32", width * 32,
                         output_dim=output_dim, image_size=image_size)
        if image_size % _DOWNSAMPLING:
            raise ValueError(
                f"image_size must be a multiple of {_DOWNSAMPLING}. "
                f"Received: image_size={image_size}"
            )
        self.block_counts = tuple(block_counts)
        self.width = width
        self.num_heads = num_heads
        self.output_dim = output_dim
        self.image_size = image_size
        dtype = self.dtype_policy

        # === Layers ===
        self.stem_padding = keras.layers.ZeroPadding2D(1, name="stem_padding",
                                                       dtype=dtype)
        self.stem_conv1 = keras.layers.Conv2D(
            width // 2, 3, strides=2, padding="valid", use_bias=False,
            name="stem_conv1", dtype=dtype)
        self.stem_bn1 = batch_norm("stem_bn1", dtype)
        self.stem_conv2 = conv(width // 2, 3, "stem_conv2", dtype)
        self.stem_bn2 = batch_norm("stem_bn2", dtype)
        self.stem_conv3 = conv(width, 3, "stem_conv3", dtype)
        self.stem_bn3 = batch_norm("stem_bn3", dtype)
        self.stem_pool = keras.layers.AveragePooling2D(2, name="stem_pool", dtype=dtype)
        self.stages = [
            [Bottleneck(width * 2 ** s, stride=2 if (s > 0 and b == 0) else 1,
                        name=f"stage_{s}_block_{b}", dtype=dtype)
             for b in range(count)]
            for s, count in enumerate(self.block_counts)
        ]
        self.attention_pool = AttentionPool2D(num_heads, output_dim,
                                              name="attention_pool", dtype=dtype)
        self.build((None, image_size, image_size, 3))

    def build(self, input_shape):
        if self.built:
            return
        self._check_images(input_shape)
        size, width = self.image_size, self.width
        shape = (None, size, size, 3)
        self.stem_padding.build(shape)
        self.stem_conv1.build((None, size + 2, size + 2, 3))
        size //= 2
        for conv_layer, bn, in_width, out_width in (
            (None, self.stem_bn1, None, width // 2),
            (self.stem_conv2, self.stem_bn2, width // 2, width // 2),
            (self.stem_conv3, self.stem_bn3, width // 2, width),
        ):
            if conv_layer is not None:
                conv_layer.build((None, size, size, in_width))
            bn.build((None, size, size, out_width))
        size //= 2
        shape = (None, size, size, width)
        for stage in self.stages:
            for block in stage:
                block.build(shape)
                shape = block.compute_output_shape(shape)
        self.attention_pool.build(shape)

    def _check_images(self, shape, dtype=None):
        size = self.image_size
        check_images("images", shape, (size, size, 3), f"image_size={size}", dtype)

    def call(self, images, training=None):
        self._check_images(images.shape, images.dtype)
        x = self.stem_conv1(self.stem_padding(ops.cast(images, self.compute_dtype)))
        x = ops.relu(self.stem_bn1(x, training=training))
        x = ops.relu(self.stem_bn2(self.stem_conv2(x), training=training))
        x = ops.relu(self.stem_bn3(self.stem_conv3(x), training=training))
        x = self.stem_pool(x)
        for stage in self.stages:
            for block in stage:
                x = block(x, training=training)
        return self.attention_pool(x)

    def compute_output_spec(self, images, training=None):
        # Symbolic calls skip `call`: refuse integer images here too.
        self._check_images(images.shape, images.dtype)
        return super().compute_output_spec(images, training=training)

    def compute_output_shape(self, input_shape):
        self._check_images(input_shape)
        return (input_shape[0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "block_counts": self.block_counts,
            "width": self.width,
            "num_heads": self.num_heads,
            "output_dim": self.output_dim,
            "image_size": self.image_size,
        })
        return config
