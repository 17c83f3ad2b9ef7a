"""lock_tower: LiT locking with the last blocks left trainable."""

import keras
import numpy as np
import pytest

from kerasmm.losses import CLIPLoss
from kerasmm.models import CLIP
from kerasmm.models import ModifiedResNet
from kerasmm.models import TextTransformer
from kerasmm.models import VisionTransformer
from kerasmm.models.clip.tower_locking import lock_tower
from kerasmm.models.clip.tower_locking import unlock_tower


def vit(num_layers=3):
    return VisionTransformer(image_size=16, patch_size=8, hidden_dim=16,
                             num_layers=num_layers, num_heads=2, output_dim=8)


def text():
    return TextTransformer(vocabulary_size=32, context_length=6, hidden_dim=16,
                           num_layers=2, num_heads=2, output_dim=8)


def batch(image_size=16, size=4):
    rng = np.random.default_rng(0)
    return {"images": rng.normal(size=(size, image_size, image_size, 3)).astype("float32"),
            "token_ids": rng.integers(1, 31, (size, 6)).astype("int32")}


def snapshot(layer):
    return {w.path: np.array(w.numpy()) for w in layer.weights}


def changed(before, after):
    return {path for path in before if not np.array_equal(before[path], after[path])}


def fit_one_step(model, data):
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=CLIPLoss())
    model.fit(data, batch_size=len(data["images"]), epochs=1, verbose=0)


def test_trainable_weight_counts():
    tower = vit()
    total = len(tower.trainable_weights)
    block = len(tower.blocks[-1].trainable_weights)
    head = len(tower.ln_post.weights) + len(tower.projection.weights)
    assert len(lock_tower(tower).trainable_weights) == 0
    assert len(lock_tower(tower, unlocked_blocks=1).trainable_weights) == block + head
    assert len(lock_tower(tower, unlocked_blocks=2).trainable_weights) == 2 * block + head
    # All blocks unlocked: only the embeddings, class token and ln_pre stay frozen.
    frozen = total - len(lock_tower(tower, unlocked_blocks=3).trainable_weights)
    assert frozen == 1 + 1 + 1 + 2  # patch kernel, class token, positions, ln_pre
    assert len(unlock_tower(lock_tower(tower, unlocked_blocks=1)).trainable_weights) == total
    assert len(tower.trainable_weights) == total


def test_locked_weights_do_not_change_in_a_fit_step():
    model = CLIP(vit(), text())
    lock_tower(model.vision_encoder, unlocked_blocks=1)
    before_image, before_text = snapshot(model.vision_encoder), snapshot(model.text_encoder)
    fit_one_step(model, batch())
    moved = changed(before_image, snapshot(model.vision_encoder))
    unlocked = {w.path for w in model.vision_encoder.trainable_weights}
    assert moved == unlocked and moved  # Exactly the unlocked weights moved.
    assert all("block_2" in p or "ln_post" in p or "projection" in p for p in moved)
    assert len(changed(before_text, snapshot(model.text_encoder))) == len(before_text)


def test_locked_text_tower():
    model = CLIP(vit(), text())
    lock_tower(model.text_encoder)
    before = snapshot(model.text_encoder)
    fit_one_step(model, batch())
    assert not changed(before, snapshot(model.text_encoder))


@pytest.mark.parametrize("freeze_norm_stats", [True, False])
def test_resnet_batch_norm_statistics(freeze_norm_stats):
    tower = ModifiedResNet(block_counts=(1, 1, 1, 1), width=8, num_heads=2,
                           output_dim=8, image_size=32)
    model = CLIP(tower, text())
    lock_tower(tower, unlocked_blocks=1, freeze_norm_stats=freeze_norm_stats)
    before = snapshot(tower)
    fit_one_step(model, batch(image_size=32))
    moved = changed(before, snapshot(tower))
    last = tower.stages[-1][-1]
    moving = {w.path for w in last.weights if "moving" in w.path}
    assert moving  # The last bottleneck has BatchNorm statistics.
    # Frozen statistics stay; otherwise the unlocked block's update in training.
    assert (moved & moving == set()) == freeze_norm_stats
    assert any("attention_pool" in p for p in moved)
    assert not any(p.startswith(tower.stages[0][0].path) for p in moved)
    assert not any("stem" in p for p in moved)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unlocked_blocks must be at most"):
        lock_tower(vit(num_layers=2), unlocked_blocks=3)
    with pytest.raises(ValueError, match="unlocked_blocks"):
        lock_tower(vit(), unlocked_blocks=-1)
    with pytest.raises(ValueError, match="freeze_norm_stats"):
        lock_tower(vit(), freeze_norm_stats="yes")
    with pytest.raises(TypeError, match="tower must be"):
        lock_tower("vit")
    dense = keras.Sequential([keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="at most the number of blocks"):
        lock_tower(dense, unlocked_blocks=1)
    assert lock_tower(dense).trainable_weights == []
