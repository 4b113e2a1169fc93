import numpy as np
import pytest
import torch

from quant import PWLActivation, sigmoid, tanh, FixedFormat

# Documented maximum absolute errors (quant/activations.py), checked exhaustively.
BOUNDS = [
    ("sigmoid", "16.12", "16.12", 0.0035),
    ("tanh", "16.12", "16.12", 0.0065),
    ("sigmoid", "8.4", "u8.8", 0.006),
    ("tanh", "8.5", "8.7", 0.011),
    ("sigmoid", "12.8", "12.10", 0.0040),
    ("tanh", "12.8", "12.10", 0.0070),
]


@pytest.mark.parametrize("fn, fin, fout, bound", BOUNDS)
def test_max_error_bound(fn, fin, fout, bound):
    act = PWLActivation(fn, FixedFormat.parse(fin), FixedFormat.parse(fout))
    assert act.max_error() <= bound


@pytest.mark.parametrize("fn, fin, fout, bound", BOUNDS)
def test_numpy_equals_torch_exhaustive(fn, fin, fout, bound):
    act = PWLActivation(fn, FixedFormat.parse(fin), FixedFormat.parse(fout))
    codes = np.arange(act.in_fmt.min_code, act.in_fmt.max_code + 1)
    assert act(codes).tolist() == act(torch.as_tensor(codes)).tolist()


def test_monotone_and_symmetric():
    s = sigmoid(FixedFormat.parse("16.12"), FixedFormat.parse("16.12"))
    t = tanh(FixedFormat.parse("16.12"), FixedFormat.parse("16.12"))
    codes = np.arange(-2**15, 2**15)
    for act in (s, t):
        assert (np.diff(act(codes)) >= 0).all()
    # tanh is odd up to one LSB (round-half-up is not symmetric)
    pos = np.arange(1, 2**15 - 1)
    assert np.abs(t(pos) + t(-pos)).max() <= 1


def test_coarse_input_becomes_exact_lookup():
    act = sigmoid(FixedFormat.parse("6.0"), FixedFormat.parse("u8.8"))
    assert act.seg_shift == 0 and act.n_knots == 16  # codes -8..7, each its own knot
    codes = np.arange(-32, 32)
    expected = np.clip(np.floor(act.exact(np.clip(codes, -8, 7)) * 256 + 0.5), 0, 255)
    assert act(codes).tolist() == expected.astype(int).tolist()


def test_table_is_the_interpolation():
    act = sigmoid(FixedFormat.parse("16.12"), FixedFormat.parse("16.12"))
    y0, d = act.table()
    knots = act.lo + (np.arange(act.n_knots) << act.seg_shift)
    assert act(knots).tolist() == y0.tolist()
    assert len(y0) == act.segments == 32


def test_bad_parameters():
    f = FixedFormat.parse("8.4")
    with pytest.raises(ValueError, match="`fn` must be one of sigmoid, tanh, not 'relu'"):
        PWLActivation("relu", f, f)
    with pytest.raises(ValueError, match="`in_fmt` must be signed, not u8.4"):
        PWLActivation("sigmoid", FixedFormat.parse("u8.4"), f)
    with pytest.raises(ValueError, match="tanh needs a signed `out_fmt`, not u8.8"):
        PWLActivation("tanh", f, FixedFormat.parse("u8.8"))
    with pytest.raises(ValueError, match="`segments` must be a power of two of at least 2, not 24"):
        PWLActivation("sigmoid", f, f, segments=24)
    with pytest.raises(ValueError, match="`x_range` must be a power of two, not 6"):
        PWLActivation("sigmoid", f, f, x_range=6)
    with pytest.raises(ValueError, match=r"must be codes of 8.4, not 300"):
        sigmoid(f, f)(np.array([300]))
