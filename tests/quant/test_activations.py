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


def test_interpolation_too_wide_for_int64_is_refused():
    """48.40 in, u48.47 out, 2 segments: d (~2**46) times t (up to 2**43) needs 90 bits: refused, not wrapped."""
    with pytest.raises(ValueError, match="90-bit product, more than int64's 63 bits"):
        sigmoid(FixedFormat(48, 40), FixedFormat(48, 47, signed=False), segments=2)


@pytest.mark.parametrize("seed", range(6))
def test_accepted_wide_formats_interpolate_exactly(seed):
    """Every accepted configuration evaluates like unbounded Python integers on the same table."""
    rng = np.random.default_rng(seed)
    total = int(rng.integers(8, 41))
    in_fmt = FixedFormat(total, int(rng.integers(2, total - 1)))
    out_fmt = FixedFormat(int(rng.integers(8, 33)), int(rng.integers(4, 8)))
    try:
        act = tanh(in_fmt, out_fmt, segments=int(2 ** rng.integers(1, 8)))
    except ValueError as e:
        assert "more than int64's 63 bits" in str(e)
        return
    codes = np.unique(np.concatenate([rng.integers(in_fmt.min_code, in_fmt.max_code + 1, 500),
                                      [in_fmt.min_code, in_fmt.max_code, 0, -1, act.lo, act.hi]]))
    y0, d = act.table()
    s = act.seg_shift
    expected = []
    for c in codes.tolist():
        off = min(max(c, act.lo), act.hi) - act.lo
        k, t = off >> s, off & ((1 << s) - 1)
        y = int(y0[k]) + ((int(d[k]) * t + (1 << (s - 1))) >> s if s else 0)
        expected.append(min(max(y, out_fmt.min_code), out_fmt.max_code))
    assert act(codes).tolist() == expected
