import keras
import numpy as np
import pytest

from kerasmm.models import CLIP
from kerasmm.models import TextTransformer
from kerasmm.models import VisionTransformer
from kerasmm.optim import layerwise_lr_decay
from kerasmm.optim import scale_learning_rates


# === Depths ===

def tiny_clip():
    vision = VisionTransformer(image_size=16, patch_size=8, hidden_dim=8, num_layers=3,
                               num_heads=2, output_dim=4, name="vision")
    text = TextTransformer(vocabulary_size=32, context_length=6, hidden_dim=8,
                           num_layers=2, num_heads=2, output_dim=4, name="text")
    return CLIP(vision, text, name="clip")


def expected_group(path):
    """open_clip's layer_groups for the kerasmm towers, from the path alone:
    (group, number of blocks)."""
    tower, part = path.split("/")[0], path.split("/")[1]
    num_blocks = {"vision": 3, "text": 2}.get(tower)
    if num_blocks is None:
        return None
    if part.startswith("block_"):
        return int(part.split("_")[1]) + 1, num_blocks
    if part in ("class_embedding", "patch_embedding", "position_embedding", "ln_pre",
                "token_embedding"):
        return 0, num_blocks
    if part in ("ln_post", "ln_final"):
        return num_blocks, num_blocks
    assert part == "projection", path
    return num_blocks + 1, num_blocks


def test_clip_rates_follow_open_clips_layer_groups():
    model = tiny_clip()
    rates = layerwise_lr_decay(model, base_lr=2e-3, decay=0.6)
    assert set(rates) == {v.path for v in model.trainable_variables}
    for path, rate in rates.items():
        group = expected_group(path)
        expected = 2e-3 if group is None else 2e-3 * 0.6 ** (group[1] + 1 - group[0])
        np.testing.assert_allclose(rate, expected, rtol=1e-12, err_msg=path)
    assert rates["clip/logit_scale"] == 2e-3
    assert rates["vision/class_embedding"] == pytest.approx(2e-3 * 0.6 ** 4)
    assert rates["text/token_embedding/embeddings"] == pytest.approx(2e-3 * 0.6 ** 3)
    assert rates["vision/block_2/mlp/dense_2/kernel"] == pytest.approx(2e-3 * 0.6)
    assert rates["vision/ln_post/gamma"] == pytest.approx(2e-3 * 0.6)


def test_no_decay_and_no_towers():
    model = tiny_clip()
    assert set(layerwise_lr_decay(model, 1e-3, 1.0).values()) == {1e-3}
    dense = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert set(layerwise_lr_decay(dense, 1e-3, 0.5).values()) == {1e-3}


@pytest.mark.parametrize("kwargs, match", [
    ({"decay": 0.0}, "decay"), ({"decay": 1.5}, "decay must be in"),
    ({"base_lr": -1.0}, "base_lr")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layerwise_lr_decay(tiny_clip(), **{"base_lr": 1.0, "decay": 0.5, **kwargs})


# === Exact per-variable rates ===

GRADIENTS = [
    [np.array([0.5, -1.0], "float32"), np.array([[2.0, 0.1]], "float32")],
    [np.array([-0.2, 0.3], "float32"), np.array([[1.0, -4.0]], "float32")],
]
MULTIPLIERS = (1.0, 0.25)


def run(optimizer, multipliers=True):
    variables = [keras.Variable(np.array([1.0, -2.0], "float32"), name="head"),
                 keras.Variable(np.array([[0.5, 3.0]], "float32"), name="stem")]
    if multipliers:
        scale_learning_rates(optimizer, {variables[1].path: MULTIPLIERS[1]})
    for gradients in GRADIENTS:
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in gradients], variables)
    return [keras.ops.convert_to_numpy(v) for v in variables]


def sgd_by_hand(lr, momentum):
    """Keras' SGD: velocity = momentum * velocity - lr * g; w += velocity."""
    results = []
    for index, start in enumerate((np.array([1.0, -2.0]), np.array([[0.5, 3.0]]))):
        w, velocity = start.copy(), np.zeros_like(start)
        for gradients in GRADIENTS:
            velocity = momentum * velocity - lr * MULTIPLIERS[index] * gradients[index]
            w = w + velocity
        results.append(w)
    return results


def adamw_by_hand(lr, weight_decay, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras' Adam(W) written out; each variable at `lr * multiplier`."""
    results = []
    for index, start in enumerate((np.array([1.0, -2.0]), np.array([[0.5, 3.0]]))):
        rate = lr * MULTIPLIERS[index]
        w, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
        for t, gradients in enumerate(GRADIENTS, start=1):
            g = gradients[index]
            w = w * (1 - rate * weight_decay)
            m = m + (g - m) * (1 - beta_1)
            v = v + (g * g - v) * (1 - beta_2)
            alpha = rate * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
            w = w - m * alpha / (np.sqrt(v) + epsilon)
        results.append(w)
    return results


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_hand_computation(momentum):
    got = run(keras.optimizers.SGD(learning_rate=0.1, momentum=momentum))
    for value, expected in zip(got, sgd_by_hand(0.1, momentum)):
        np.testing.assert_allclose(value, expected, rtol=1e-5)  # float32 vs float64


@pytest.mark.parametrize("weight_decay", [None, 0.3])
def test_adam_matches_hand_computation(weight_decay):
    if weight_decay is None:
        optimizer = keras.optimizers.Adam(learning_rate=0.1)
    else:
        optimizer = keras.optimizers.AdamW(learning_rate=0.1, weight_decay=weight_decay)
    got = run(optimizer)
    for value, expected in zip(got, adamw_by_hand(0.1, weight_decay or 0.0)):
        np.testing.assert_allclose(value, expected, rtol=1e-5)  # float32 vs float64


def test_scaling_adams_gradients_would_not_scale_its_steps():
    # Why the rates are scaled inside update_step: Adam undoes a gradient scale.
    scaled = run(keras.optimizers.Adam(learning_rate=0.1), multipliers=False)
    start = np.array([[0.5, 3.0]])
    plain_step = scaled[1] - start
    wanted_step = adamw_by_hand(0.1, 0.0)[1] - start
    np.testing.assert_allclose(wanted_step, MULTIPLIERS[1] * plain_step, rtol=1e-5)


class Tower(keras.Model):
    """A stem, `.blocks`, a final norm and a head, as the kerasmm towers."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stem = keras.layers.Dense(6, name="stem")
        self.blocks = [keras.layers.Dense(6, activation="tanh", name=f"block_{i}")
                       for i in range(3)]
        self.norm = keras.layers.LayerNormalization(name="norm")
        self.head = keras.layers.Dense(2, name="head")

    def call(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def one_fit_step(multipliers, learning_rate, dtype):
    keras.utils.set_random_seed(1)
    model = Tower(name="tower", dtype=dtype)
    model(np.zeros((1, 4), "float32"))
    start = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    optimizer = keras.optimizers.Adam(learning_rate)
    if multipliers:
        scale_learning_rates(optimizer, layerwise_lr_decay(model, 1.0, 0.5))
    model.compile(optimizer=optimizer, loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(16, 4)), rng.normal(size=(16, 2)), batch_size=16,
              epochs=1, verbose=0)
    return model, [keras.ops.convert_to_numpy(v) - s
                   for v, s in zip(model.trainable_variables, start)]


@pytest.mark.parametrize("dtype", ["float32", "mixed_float16"])
def test_fit_steps_scale_by_depth(dtype):
    # mixed_float16: `compile` wraps the optimizer in a LossScaleOptimizer.
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, 10, 0.5)
    model, scaled = one_fit_step(True, schedule, dtype)
    _, plain = one_fit_step(False, schedule, dtype)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (
        dtype == "mixed_float16")
    rates = layerwise_lr_decay(model, 1.0, 0.5)
    assert rates["tower/stem/kernel"] == 0.5 ** 4 and rates["tower/norm/gamma"] == 0.5
    for variable, step, reference in zip(model.trainable_variables, scaled, plain):
        moved = np.abs(reference) > 1e-6
        assert moved.any(), variable.path
        np.testing.assert_allclose(step[moved], rates[variable.path] * reference[moved],
                                   rtol=1e-3, err_msg=variable.path)


def test_bad_uses():
    with pytest.raises(TypeError, match="optimizer must be"):
        scale_learning_rates("adam", {})
    optimizer = scale_learning_rates(keras.optimizers.SGD(), {"a": 0.5})
    with pytest.raises(ValueError, match="already applied"):
        scale_learning_rates(optimizer, {"a": 0.5})
    with pytest.raises(ValueError, match="multipliers"):
        scale_learning_rates(keras.optimizers.SGD(), {"a": 0.0})
    twins = [keras.Variable([1.0], name="same"), keras.Variable([1.0], name="same")]
    optimizer = scale_learning_rates(keras.optimizers.SGD(), {"same": 0.5})
    with pytest.raises(ValueError, match="unique variable paths"):
        optimizer.apply([keras.ops.ones(1), keras.ops.ones(1)], twins)
