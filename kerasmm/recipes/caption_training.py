"""The captioning demo's model, data and training (`fit` with `CoCaLoss`).

Why this vision encoder: the CLIP demo's two-stream CNN
(`kerasmm.models.build_conv_encoder`) recognises colour x shape
combinations it never saw, but it averages its feature map into one
vector, which loses where the shapes are ("left of", "above"). The
captioner keeps that map: its `(S / 4)^2` cells become image tokens, each
plus a learned position embedding, which CoCa's attentional poolers read.
"""

import time

import keras

from kerasmm import datasets
from kerasmm.layers import LearnedPositionEmbedding
from kerasmm.losses import CoCaLoss
from kerasmm.models import CoCa
from kerasmm.models import build_conv_encoder


def build_token_encoder(config):
    """`build_conv_encoder`'s last feature map as position-embedded tokens.

    Returns:
        A functional `keras.Model`: `(B, S, S, 3)` -> `(B, N, hidden_dim)`
        with `N = (S / 2^(len(conv_widths) - 1))^2`.
    """
    cnn = build_conv_encoder(config.image_size, config.conv_widths, config.hidden_dim,
                             config.color_width)
    feature_map = cnn.get_layer(f"conv_{len(config.conv_widths) - 2}").output
    side, width = feature_map.shape[1], feature_map.shape[3]
    tokens = keras.layers.Reshape((side * side, width), name="tokens")(feature_map)
    positions = LearnedPositionEmbedding(side * side, name="token_positions")(tokens)
    tokens = keras.layers.Add(name="add_positions")([tokens, positions])
    tokens = keras.layers.Dense(config.hidden_dim, name="token_projection")(tokens)
    return keras.Model(cnn.input, tokens, name="vision_encoder")


def build_caption_coca(config, tokenizer=None):
    """The demo's `CoCa` on `build_token_encoder`, for `caption_tokenizer()` ids.

    `keras.utils.set_random_seed(config.seed)` runs first, so the initial
    weights are reproducible.
    """
    keras.utils.set_random_seed(config.seed)
    tokenizer = tokenizer or datasets.caption_tokenizer()
    return CoCa(
        build_token_encoder(config),
        vocabulary_size=tokenizer.vocabulary_size(),
        context_length=tokenizer.sequence_length,
        hidden_dim=config.hidden_dim,
        num_unimodal_layers=config.num_unimodal_layers,
        num_multimodal_layers=config.num_multimodal_layers,
        num_heads=config.num_heads,
        output_dim=config.output_dim,
        start_token_id=tokenizer.start_token_id,
        end_token_id=tokenizer.end_token_id,
        pad_token_id=tokenizer.pad_token_id,
        num_caption_queries=config.num_caption_queries,
        name="shapes_coca",
    )


def caption_train_dataset(config):
    """Shuffled `{"images", "token_ids"}` batches of canonical train captions.

    Returns:
        `(dataset, steps)` for `fit`: one epoch is `config.steps_per_epoch`
        batches (the 20k train scenes repeat when that is more).
    """
    needed = config.steps_per_epoch * config.batch_size
    num_examples = min(needed, datasets.SPLIT_SIZES["train"])
    dataset = datasets.shapes_caption_dataset(
        "train", batch_size=config.batch_size, image_size=config.image_size,
        seed=config.seed, num_examples=num_examples)
    if needed <= num_examples:
        return dataset, None
    return dataset.repeat(), config.steps_per_epoch


def train_caption_model(coca, dataset, config, steps_per_epoch=None, verbose="auto"):
    """`compile` with `CoCaLoss` and AdamW (warmup, cosine decay to 5%), `fit`.

    Returns:
        `(history, seconds)`: the Keras `History` and the wall time of `fit`.
    """
    steps = steps_per_epoch or int(dataset.cardinality())
    total_steps = max(config.epochs * steps, 1)
    warmup_steps = int(config.warmup_fraction * total_steps)
    learning_rate = keras.optimizers.schedules.CosineDecay(
        config.learning_rate / 10, max(total_steps - warmup_steps, 1), alpha=0.05,
        warmup_target=config.learning_rate, warmup_steps=warmup_steps)
    loss = CoCaLoss(caption_loss_weight=config.caption_loss_weight,
                    contrastive_loss_weight=config.contrastive_loss_weight)
    coca.compile(optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=1e-4), loss=loss)
    start = time.perf_counter()
    history = coca.fit(dataset, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
                       shuffle=False, verbose=verbose)
    return history, time.perf_counter() - start
