import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from quant import shift_round, check_rounding, RAND_BITS, ROUNDING_MODES
from tests.quant import reference
from tests.quant.strategies import edge_values


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


@settings(max_examples=300, deadline=None, derandomize=True)
@given(shift=st.integers(-70, 130), mode=st.sampled_from(ROUNDING_MODES), data=st.data())
def test_exact_for_every_int64_and_shift(shift, mode, data):
    v = data.draw(edge_values(-2**63, 2**63 - 1, 48, ties=(shift,)))
    if shift < 0:  # keep the left shifts that fit in int64; the others are refused (below)
        v = v[(v >= -(2**63 >> -shift)) & (v <= (2**63 - 1) >> -shift)]
    rand = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).integers(
        0, 1 << RAND_BITS, size=v.shape)
    expected = [reference.shift_round(x, shift, mode, r) for x, r in zip(v.tolist(), rand.tolist())]
    for lib in (np.asarray, torch.as_tensor):
        got = shift_round(lib(v), shift, mode, lib(rand))
        assert got.dtype in (np.int64, torch.int64)
        assert got.tolist() == expected


def test_left_shift_past_int64_is_refused():
    assert shift_round(np.array([-2**62, 2**62 - 1]), -1, "floor").tolist() == [-2**63, 2**63 - 2]
    assert shift_round(np.array([-1, 0]), -63, "floor").tolist() == [-2**63, 0]
    assert shift_round(np.array([0]), -500, "floor").tolist() == [0]
    with pytest.raises(ValueError, match=r"`v` must be in \[-4611686018427387904, 4611686018427387903\] "
                                         r"to shift left by 1 bits in int64, not 4611686018427387904 "
                                         r"\(at index \(1,\)\)"):
        shift_round(torch.tensor([0, 2**62]), -1, "nearest")
    with pytest.raises(ValueError, match=r"in \[0, 0\] to shift left by 64 bits"):
        shift_round(np.array([-1]), -64, "nearest")
