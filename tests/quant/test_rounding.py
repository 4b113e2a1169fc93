import numpy as np
import pytest
import torch

from quant import shift_round, check_rounding, RAND_BITS


def test_nearest_ties_toward_plus_infinity():
    # values with 1 fractional bit: x.5 ties
    v = np.array([-5, -3, -1, 1, 3, 5])          # -2.5 -1.5 -0.5 0.5 1.5 2.5
    assert shift_round(v, 1, "nearest").tolist() == [-2, -1, 0, 1, 2, 3]
    # unlike np.round (half to even)
    assert np.round(v / 2).tolist() != [-2, -1, 0, 1, 2, 3]


def test_floor_is_arithmetic_shift():
    v = np.array([-5, -4, -1, 0, 1, 7])
    assert shift_round(v, 2, "floor").tolist() == [-2, -1, -1, 0, 0, 1]


def test_negative_shift_is_exact():
    v = np.array([-3, 5])
    assert shift_round(v, -3, "nearest").tolist() == [-24, 40]


def test_stochastic_uses_low_bits_of_draw():
    v = np.array([1, 1, 1, 1])  # 0.25 with 2 dropped bits
    rand = np.array([0, 1, 2, 3 | (1 << 10)])
    assert shift_round(v, 2, "stochastic", rand).tolist() == [0, 0, 0, 1]


def test_stochastic_wide_shift_uses_top_bits():
    s = RAND_BITS + 4
    v = np.array([1 << (s - 1)])  # exactly one half
    assert shift_round(v, s, "stochastic", np.array([(1 << (RAND_BITS - 1)) - 1])).tolist() == [0]
    assert shift_round(v, s, "stochastic", np.array([1 << (RAND_BITS - 1)])).tolist() == [1]


def test_stochastic_is_unbiased():
    rng = np.random.default_rng(3)
    v = np.full(200_000, 5)  # 5/8 = 0.625 with 3 dropped bits
    rand = rng.integers(0, 1 << RAND_BITS, size=v.shape)
    mean = shift_round(v, 3, "stochastic", rand).mean()
    assert abs(mean - 0.625) < 0.005  # 4.6 sigma at n = 200k


def test_backends_agree():
    rng = np.random.default_rng(0)
    v = rng.integers(-2**40, 2**40, size=1000)
    rand = rng.integers(0, 1 << RAND_BITS, size=1000)
    for mode in ("nearest", "floor", "stochastic"):
        for s in (0, 1, 5, 16, 23):
            a = shift_round(v, s, mode, rand)
            b = shift_round(torch.as_tensor(v), s, mode, torch.as_tensor(rand))
            assert a.tolist() == b.tolist()


@pytest.mark.parametrize("mode, exc, message", [
    ("round", ValueError, "`rounding` must be one of nearest, floor, stochastic, not 'round'"),
    ("Nearest", ValueError, "not 'Nearest'"),
    (None, TypeError, "`rounding` must be a string, not None"),
])
def test_unknown_modes(mode, exc, message):
    with pytest.raises(exc, match=message):
        check_rounding(mode)


def test_stochastic_needs_draws():
    with pytest.raises(ValueError, match="stochastic rounding needs `rand`"):
        shift_round(np.array([1]), 1, "stochastic")
    with pytest.raises(ValueError, match="`rand` must have the shape of the values"):
        shift_round(np.array([1, 2]), 1, "stochastic", np.array([1]))
