"""kerasmm.utils.checks: every check names the argument and the value received."""

import math
import re

import numpy as np
import pytest

from kerasmm.utils import checks


@pytest.mark.parametrize("value", [0, -3, 1.5, "2", True, None, [1]])
def test_positive_int_refuses(value):
    with pytest.raises(ValueError, match=re.escape(f"n must be a positive integer. Received: n={value!r}")):
        checks.check_positive_int("n", value)


def test_positive_int_accepts_numpy_integers_and_allowed_none():
    assert checks.check_positive_int("n", np.int64(3)) == 3
    assert type(checks.check_positive_int("n", np.int32(3))) is int
    assert checks.check_positive_int("n", None, allow_none=True) is None


def test_int_with_minimum():
    assert checks.check_int("size", 4, minimum=4) == 4
    with pytest.raises(ValueError, match="size must be an integer >= 4. Received: size=3"):
        checks.check_int("size", 3, minimum=4)
    with pytest.raises(ValueError, match="must be None or an integer"):
        checks.check_int("size", "3", allow_none=True)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_number_must_be_finite(value):
    with pytest.raises(ValueError, match="eps must be finite"):
        checks.check_number("eps", value)


def test_number_bounds():
    assert checks.check_number("eps", 1e-5, minimum=0, exclusive_minimum=True) == 1e-5
    with pytest.raises(ValueError, match=r"eps must be > 0. Received: eps=0.0"):
        checks.check_number("eps", 0.0, minimum=0, exclusive_minimum=True)
    assert checks.check_number("t", 0, minimum=0) == 0.0
    with pytest.raises(ValueError, match="t must be a number"):
        checks.check_number("t", True)


@pytest.mark.parametrize("value", [-0.1, 1.0, 2])
def test_rate_range(value):
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        checks.check_rate("dropout", value)


def test_fraction_range():
    assert checks.check_fraction("share", 0) == 0.0 and checks.check_fraction("share", 1) == 1.0
    with pytest.raises(ValueError, match=r"share must be in \[0, 1\]. Received: share=1.5"):
        checks.check_fraction("share", 1.5)
    with pytest.raises(ValueError, match=r"share must be >= 0. Received: share=-0.1"):
        checks.check_fraction("share", -0.1)
    with pytest.raises(ValueError, match="share must be a number"):
        checks.check_fraction("share", "half")


def test_int_tuple():
    assert checks.check_int_tuple("dims", 3) == (3,)
    assert checks.check_int_tuple("dims", [2, np.int64(4)]) == (2, 4)
    for bad in ([], (0, 2), "ab", 2.0):
        with pytest.raises(ValueError, match="dims must be a positive integer or"):
            checks.check_int_tuple("dims", bad)


def test_choice_bool_divisible_strings_rgb():
    with pytest.raises(ValueError, match=r"mode must be one of \('a', 'b'\). Received: mode='c'"):
        checks.check_choice("mode", "c", ("a", "b"))
    with pytest.raises(ValueError, match="flag must be a bool. Received: flag=1"):
        checks.check_bool("flag", 1)
    with pytest.raises(ValueError, match="width must be divisible by heads. Received: width=10, heads=4"):
        checks.check_divisible("width", 10, "heads", 4)
    checks.check_divisible("width", None, "heads", 4)
    with pytest.raises(ValueError, match="classes must be a non-empty list of strings"):
        checks.check_strings("classes", "cat")
    with pytest.raises(ValueError, match="holding '{}'"):
        checks.check_strings("templates", ["a photo"], placeholder=True)
    assert checks.check_rgb("mean", [0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)
    for bad in ([0.5, 0.5], [0.5, "x", 0.5], [math.nan, 0, 0]):
        with pytest.raises(ValueError, match="mean must be None or 3 finite numbers"):
            checks.check_rgb("mean", bad)


def test_shape_checks():
    checks.check_rank("x", (2, 3, 4), 3)
    with pytest.raises(ValueError, match=r"x must have rank 3. Received: x with shape \(2, 3\)"):
        checks.check_rank("x", (2, 3), 3)
    with pytest.raises(ValueError, match="rank >= 2"):
        checks.check_min_rank("x", (2,), 2)
    checks.check_mask("mask", (None, 5), (2, 5))
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, length\)"):
        checks.check_mask("mask", (2, 4), (2, 5))
    checks.check_same_batch(("a", "b"), ((None, 3), (2, 3)))
    with pytest.raises(ValueError, match="a, b must have the same batch size. Received: a batch=2, b batch=3"):
        checks.check_same_batch(("a", "b"), ((2, 1), (3, 1)))


def test_layer_check_names_the_type():
    with pytest.raises(ValueError, match="encoder must be a Keras layer or model.*of type int"):
        checks.check_layer("encoder", 3)
