import numpy as np
import pytest

from kerasmm.datasets import shapes

S = 64


@pytest.fixture(scope="module")
def train():
    return shapes.generate_shapes("train", 1200, image_size=S)


@pytest.fixture(scope="module")
def test_split():
    return shapes.generate_shapes("test", 600, image_size=S)


def color_mask(image, color):
    # Shapes are COLOR_RGB + tint (|.| <= 15) + noise (|.| <= 6); the
    # background (<= 66) is far from every colour in some channel.
    diff = np.abs(image.astype(int) - shapes.COLOR_RGB[color].astype(int))
    return (diff <= 21).all(axis=-1)


def classify(mask):
    """Shape kind from a boolean mask, by geometry alone."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    h, w = y1 - y0 + 1, x1 - x0 + 1
    fill = len(ys) / (h * w)
    if fill > 0.9:
        return "square"
    if (ys < y0 + h / 2).mean() < 0.4:
        return "triangle"  # Apex up: little mass in the top half.
    if fill > 0.6:
        return "circle"
    # A quarter of the way down, a diamond is half its full width, a cross
    # only its vertical arm (0.3 of it).
    widths = mask[y0 : y1 + 1].sum(axis=1)
    return "diamond" if widths[h // 4] / widths.max() > 0.4 else "cross"


def test_deterministic_by_seed_and_prefix_stable():
    a = shapes.generate_shapes("validation", 1100, image_size=16, seed=3)
    b = shapes.generate_shapes("validation", 1100, image_size=16, seed=3)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    longer = shapes.generate_shapes("validation", 1500, image_size=16, seed=3)
    for key in a:
        np.testing.assert_array_equal(longer[key][:1100], a[key])
    other = shapes.generate_shapes("validation", 1100, image_size=16, seed=4)
    assert not np.array_equal(other["images"], a["images"])
    assert not np.array_equal(other["captions"], a["captions"])


def test_held_out_combos_absent_from_train_present_in_test(train, test_split):
    valid = shapes.generate_shapes("validation", 600, image_size=16)
    held = {(shapes.COLORS.index(c), shapes.SHAPES.index(s)) for c, s in shapes.HELD_OUT_COMBOS}

    def combos(data):
        pairs = set()
        for colors, kinds, n in zip(data["colors"], data["shapes"], data["num_shapes"]):
            pairs |= {(int(colors[k]), int(kinds[k])) for k in range(n)}
        return pairs

    assert not combos(train) & held
    assert not combos(valid) & held
    assert held <= combos(test_split)
    single = test_split["num_shapes"] == 1
    assert held <= {tuple(x) for x in np.stack([test_split["colors"][single, 0],
                                                 test_split["shapes"][single, 0]], 1).tolist()}
    names = [shapes.ZERO_SHOT_CLASSES[i] for i in shapes.HELD_OUT_CLASS_IDS]
    assert names == [f"{c} {s}" for c, s in shapes.HELD_OUT_COMBOS]


def test_captions_match_metadata(train):
    for i in range(len(train["captions"])):
        words = train["captions"][i].split()
        n = train["num_shapes"][i]
        colors = [shapes.COLORS[c] for c in train["colors"][i, :n]]
        kinds = [shapes.SHAPES[k] for k in train["shapes"][i, :n]]
        assert [w for w in words if w in shapes.COLORS] in (colors, colors[::-1])
        assert [w for w in words if w in shapes.SHAPES] in (kinds, kinds[::-1])
        for w in (w for w in words if w in shapes.SIZES):
            assert shapes.SIZES.index(w) in train["sizes"][i, :n]
        # Relations: the first shape (slot 0) is the left or upper one.
        mentioned_first = [w for w in words if w in shapes.SHAPES][0]
        if "left" in words and n == 2 or "above" in words:
            assert mentioned_first == kinds[0] and train["relation"][i] in (1, 2)
        if "right" in words and n == 2 or "below" in words:
            assert [w for w in words if w in shapes.SHAPES][1] == kinds[0]
        assert set(words) <= set(shapes.SHAPES_WORDS)


def test_images_match_metadata_and_captions(train):
    checked = 0
    for i in np.nonzero(train["num_shapes"] == 1)[0][:150]:
        image, caption = train["images"][i], train["captions"][i]
        mask = color_mask(image, train["colors"][i, 0])
        assert mask.sum() >= 20
        assert classify(mask) == shapes.SHAPES[train["shapes"][i, 0]], caption
        ys, xs = np.nonzero(mask)
        if "left" in caption:
            assert xs.mean() < 0.4 * S
        if "right" in caption:
            assert xs.mean() > 0.6 * S
        if "top" in caption:
            assert ys.mean() < 0.4 * S
        if "bottom" in caption:
            assert ys.mean() > 0.6 * S
        if "center" in caption:
            assert 0.35 * S < xs.mean() < 0.65 * S and 0.35 * S < ys.mean() < 0.65 * S
        checked += 1
    for i in np.nonzero(train["relation"] == 1)[0][:50]:  # left_of
        image = train["images"][i]
        if train["colors"][i, 0] == train["colors"][i, 1]:
            continue
        left = np.nonzero(color_mask(image, train["colors"][i, 0]))[1].mean()
        right = np.nonzero(color_mask(image, train["colors"][i, 1]))[1].mean()
        assert left < right
        checked += 1
    assert checked > 150


def test_zero_shot_images_balanced_single_shapes():
    images, labels = shapes.zero_shot_images(num_per_class=4, image_size=S)
    assert images.shape == (120, S, S, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), [4] * 30)
    for image, label in zip(images[::7], labels[::7]):
        color, kind = divmod(int(label), len(shapes.SHAPES))
        mask = color_mask(image, color)
        assert classify(mask) == shapes.SHAPES[kind]
        others = [c for c in range(len(shapes.COLORS)) if c != color]
        assert all(color_mask(image, c).sum() < 5 for c in others)


def test_captions_only_equal_full_generation(train):
    assert shapes.shapes_captions("train", 1200) == list(train["captions"])


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        shapes.generate_shapes("val")
    with pytest.raises(ValueError, match="num_examples"):
        shapes.generate_shapes("train", num_examples=-1)
    with pytest.raises(ValueError, match="image_size"):
        shapes.generate_shapes("train", 10, image_size=8)
    with pytest.raises(ValueError, match="num_per_class"):
        shapes.zero_shot_images(num_per_class=0)
