from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from quant import (FixedFormat, quantize, dequantize, requantize, mul, add, accumulate,
                   overflow, mul_format, add_format, RAND_BITS, ROUNDING_MODES, OVERFLOW_MODES,
                   MAX_TOTAL_BITS)
from tests.quant import reference as ref
from tests.quant.strategies import formats, codes_of, any_format, edge_values

SETTINGS = settings(max_examples=150, deadline=None)


def _rand_for(shape, seed):
    return np.random.default_rng(seed).integers(0, 1 << RAND_BITS, size=shape)


def _both(fn, *arrays, **kwargs):
    """Run ``fn`` on NumPy arrays and on torch tensors; return both as lists."""
    a = fn(*arrays, **kwargs)
    t_args = [torch.as_tensor(x) if isinstance(x, np.ndarray) else x for x in arrays]
    t_kwargs = {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    b = fn(*t_args, **t_kwargs)
    assert isinstance(b, torch.Tensor) and b.dtype == torch.int64
    return a.tolist(), b.tolist()


@SETTINGS
@given(fmt=formats(), rounding=st.sampled_from(ROUNDING_MODES),
       ovf=st.sampled_from(OVERFLOW_MODES), seed=st.integers(0, 2**32 - 1))
def test_quantize_numpy_equals_torch(fmt, rounding, ovf, seed):
    rng = np.random.default_rng(seed)
    span = max(abs(fmt.min_value), fmt.max_value) * 1.5 + 1
    x = rng.uniform(-span, span, size=256)
    x[:4] = [0.0, fmt.max_value, fmt.min_value, fmt.resolution / 2]
    rand = _rand_for(x.shape, seed) if rounding == "stochastic" else None
    a, b = _both(quantize, x, fmt, rounding, ovf, rand=rand)
    assert a == b
    codes = np.array(a)
    assert codes.min() >= fmt.min_code and codes.max() <= fmt.max_code


@SETTINGS
@given(fmt=formats(), data=st.data())
def test_round_trip_is_exact(fmt, data):
    codes = data.draw(codes_of(fmt, 200))
    values = dequantize(codes, fmt)
    for rounding in ("nearest", "floor"):
        assert quantize(values, fmt, rounding).tolist() == codes.tolist()
    rand = _rand_for(codes.shape, 1)
    assert quantize(values, fmt, "stochastic", rand=rand).tolist() == codes.tolist()
    assert dequantize(torch.as_tensor(codes), fmt).tolist() == values.tolist()


@SETTINGS
@given(fmt=formats(), seed=st.integers(0, 2**32 - 1))
def test_saturation_bounds_and_monotonicity(fmt, seed):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.normal(0, 4 * (fmt.max_value + 1), size=300))
    codes = quantize(x, fmt, "nearest", "saturate")
    assert codes.min() >= fmt.min_code and codes.max() <= fmt.max_code
    assert (np.diff(codes) >= 0).all()
    assert (codes[x >= fmt.max_value] == fmt.max_code).all()
    assert (codes[x <= fmt.min_value] == fmt.min_code).all()
    # in range, nearest is within half an LSB
    inside = (x > fmt.min_value) & (x < fmt.max_value)
    err = np.abs(codes[inside] * fmt.resolution - x[inside])
    assert (err <= fmt.resolution / 2).all()


def test_nearest_ties_up_and_floor():
    f = FixedFormat.parse("8.1")
    x = np.array([-1.25, -0.75, -0.25, 0.25, 0.75, 1.25])
    assert quantize(x, f, "nearest").tolist() == [-2, -1, 0, 1, 2, 3]
    assert quantize(x, f, "floor").tolist() == [-3, -2, -1, 0, 1, 2]


def test_stochastic_rounding_probability():
    f = FixedFormat.parse("8.0")
    x = np.full(100_000, 0.3)
    rand = _rand_for(x.shape, 7)
    mean = quantize(x, f, "stochastic", rand=rand).mean()
    # binomial sd = sqrt(.3*.7/1e5) = 0.00145; 5 sigma
    assert abs(mean - 0.3) < 0.0073


def test_stochastic_float_path_equals_integer_path():
    # a value on a 2**-16 grid below the format: quantize == requantize of the fine code
    f = FixedFormat.parse("12.4")
    fine = np.random.default_rng(2).integers(-2**26, 2**26, size=5000)
    rand = _rand_for(fine.shape, 9)
    via_float = quantize(fine * 2.0 ** -(4 + RAND_BITS), f, "stochastic", rand=rand)
    via_int = requantize(fine, 4 + RAND_BITS, f, "stochastic", rand=rand)
    assert via_float.tolist() == via_int.tolist()


def test_wrap_is_twos_complement():
    f = FixedFormat.parse("4.0")
    assert overflow(np.arange(-10, 11), f, "wrap").tolist() == \
        [6, 7, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6]
    u = FixedFormat.parse("u4.0")
    assert overflow(np.array([-1, 16, 17]), u, "wrap").tolist() == [15, 0, 1]
    assert quantize(np.array([8.0, -9.0]), f, overflow_mode="wrap").tolist() == [-8, 7]


def test_infinities():
    f = FixedFormat.parse("8.4")
    assert quantize(np.array([np.inf, -np.inf]), f).tolist() == [127, -128]
    with pytest.raises(ValueError, match="too large to wrap into 8.4"):
        quantize(np.array([1.0, np.inf]), f, overflow_mode="wrap")


def test_nan_is_rejected_with_position():
    f = FixedFormat.parse("8.4")
    with pytest.raises(ValueError, match=r"must not contain NaN; found 2, the first at index \(1,\)"):
        quantize(np.array([0.0, np.nan, np.nan]), f)
    with pytest.raises(ValueError, match="NaN"):
        quantize(torch.tensor([np.nan]), f)


def test_bad_dtypes_and_codes():
    f = FixedFormat.parse("8.4")
    with pytest.raises(TypeError, match="`x` must be real numbers, not <U1"):
        quantize(np.array(["a"]), f)
    with pytest.raises(TypeError, match="`codes` must hold integers, not float64"):
        dequantize(np.array([1.0]), f)
    with pytest.raises(TypeError, match="must hold integers, not torch.float32"):
        dequantize(torch.tensor([1.0]), f)
    with pytest.raises(ValueError, match=r"codes of format 8.4 in \[-128, 127\], not 200 \(at index \(1,\)\)"):
        dequantize(np.array([0, 200]), f)
    with pytest.raises(TypeError, match="`fmt` must be a FixedFormat, not '8.4'"):
        quantize(np.array([1.0]), "8.4")
    with pytest.raises(ValueError, match="`overflow` must be one of saturate, wrap, not 'clip'"):
        quantize(np.array([1.0]), f, overflow_mode="clip")


@SETTINGS
@given(a_fmt=formats(max_total=20), b_fmt=formats(max_total=20), out=formats(),
       rounding=st.sampled_from(ROUNDING_MODES), ovf=st.sampled_from(OVERFLOW_MODES),
       data=st.data())
def test_mul_matches_exact_product_and_backends(a_fmt, b_fmt, out, rounding, ovf, data):
    a = data.draw(codes_of(a_fmt, 128))
    b = data.draw(codes_of(b_fmt, 128))
    rand = _rand_for(a.shape, 5) if rounding == "stochastic" else None
    got, got_t = _both(mul, a, a_fmt, b, b_fmt, out, rounding, ovf, rand=rand)
    assert got == got_t
    # reference: the exact product (exact in float64 at these widths) through quantize
    exact = dequantize(a, a_fmt) * dequantize(b, b_fmt)
    if rounding != "stochastic":
        assert got == quantize(exact, out, rounding, ovf).tolist()
    elif ovf == "saturate":
        # stochastic lands on floor or floor + 1 LSB
        diff = np.array(got) - quantize(exact, out, "floor", "saturate")
        assert set(np.unique(diff).tolist()) <= {0, 1}


@SETTINGS
@given(a_fmt=formats(), b_fmt=formats(), out=formats(),
       rounding=st.sampled_from(ROUNDING_MODES), ovf=st.sampled_from(OVERFLOW_MODES),
       data=st.data())
def test_add_backends_and_exactness(a_fmt, b_fmt, out, rounding, ovf, data):
    a = data.draw(codes_of(a_fmt, 128))
    b = data.draw(codes_of(b_fmt, 128))
    rand = _rand_for(a.shape, 6) if rounding == "stochastic" else None
    got, got_t = _both(add, a, a_fmt, b, b_fmt, out, rounding, ovf, rand=rand)
    assert got == got_t
    if rounding != "stochastic":
        exact = dequantize(a, a_fmt) + dequantize(b, b_fmt)
        assert got == quantize(exact, out, rounding, ovf).tolist()


def test_mul_width_limit():
    f = FixedFormat.parse("40.0")
    g = FixedFormat.parse("30.0")
    with pytest.raises(ValueError, match="product of 40.0 and 30.0 needs 70 bits; at most 63"):
        mul(np.array([1]), f, np.array([1]), g, f)


def test_accumulate_saturates_every_step():
    f = FixedFormat.parse("8.0")
    acc = FixedFormat.parse("8.0")
    terms = np.array([[100, 100, -100]])
    # per step: 100 -> 127 (sat) -> 27; a final-only saturation would give 100
    assert accumulate(terms, f, acc).tolist() == [27]
    assert accumulate(terms, f, acc, "wrap").tolist() == [100]
    assert accumulate(torch.as_tensor(terms), f, acc).tolist() == [27]


def test_accumulate_aligns_fractions():
    f = FixedFormat.parse("8.2")
    acc = FixedFormat.parse("16.4")
    x = np.array([[1, 2, 3], [-4, 0, 5]])
    assert accumulate(x, f, acc).tolist() == [24, 4]
    assert accumulate(x, f, acc, axis=0).tolist() == [-12, 8, 32]
    with pytest.raises(ValueError, match="must keep every fractional bit of 8.2"):
        accumulate(x, f, FixedFormat.parse("16.1"))


def test_shapes_broadcast_or_fail_clearly():
    f = FixedFormat.parse("8.4")
    assert mul(np.array([16, 32]), f, np.array(8), f, f).tolist() == [8, 16]
    with pytest.raises(ValueError, match=r"`a` and `b` must have equal or broadcastable shapes, not \(3,\) and \(2,\)"):
        mul(np.zeros(3, dtype=int), f, np.zeros(2, dtype=int), f, f)
    with pytest.raises(ValueError, match="broadcastable shapes"):
        add(torch.zeros(3, dtype=torch.int64), f, torch.zeros(2, dtype=torch.int64), f, f)


def test_exact_result_formats_hold_every_result():
    for a_fmt, b_fmt in [("8.4", "8.4"), ("u6.6", "5.1"), ("u4.0", "u4.2"), ("12.0", "3.3")]:
        a_fmt, b_fmt = FixedFormat.parse(a_fmt), FixedFormat.parse(b_fmt)
        a, b = np.meshgrid(np.arange(a_fmt.min_code, a_fmt.max_code + 1),
                           np.arange(b_fmt.min_code, b_fmt.max_code + 1))
        pf, sf = mul_format(a_fmt, b_fmt), add_format(a_fmt, b_fmt)
        # exact: no rounding, no saturation at full width
        assert mul(a, a_fmt, b, b_fmt, pf).tolist() == (a * b).tolist()
        exact_sum = dequantize(a, a_fmt) + dequantize(b, b_fmt)
        assert (add(a, a_fmt, b, b_fmt, sf) * sf.resolution).tolist() == exact_sum.tolist()


# -- Exactness against unbounded Python integers, for every accepted format -------------

EXACT = settings(max_examples=200, deadline=None, derandomize=True)
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1


def _scaled(code, shift):
    """``code * 2**shift`` rounded toward -inf: the input that lands on ``code``."""
    return code << shift if shift >= 0 else code >> -shift


def _ends(fmt, shift):
    """Inputs around ``fmt``'s saturation points and ties there, ``shift`` bits above ``fmt``."""
    points = [_scaled(c, shift) for c in (fmt.min_code, fmt.max_code, fmt.max_code + 1)]
    if shift >= 1:
        points += [p + (1 << (shift - 1)) for p in points]
    return points + [-p for p in points]


def _draws(shape, data):
    seed = data.draw(st.integers(0, 2**32 - 1), label="rand seed")
    return np.random.default_rng(seed).integers(0, 1 << RAND_BITS, size=shape)


def _check_exact(fn, args, rounding, rand, expected, inputs):
    """``fn(*args)`` on NumPy and on torch equals ``expected`` (row-major), element for element."""
    for backend in (np.asarray, torch.as_tensor):
        call = [backend(x) if isinstance(x, np.ndarray) else x for x in args]
        got = fn(*call, rand=backend(rand) if rounding == "stochastic" else None)
        assert got.dtype in (np.int64, torch.int64)
        assert tuple(got.shape) == np.shape(rand)
        got = got.reshape(-1).tolist()
        if got != expected:
            i = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
            raise AssertionError(f"{backend.__module__}: first divergence at flat index {i}, "
                                 f"input {inputs[i]}: expected {expected[i]} ({expected[i]:#b}), "
                                 f"got {got[i]} ({got[i]:#b})")


@EXACT
@given(out=any_format(), frac=st.integers(-70, 120), rounding=st.sampled_from(ROUNDING_MODES),
       ovf=st.sampled_from(OVERFLOW_MODES), data=st.data())
def test_requantize_is_exact_for_every_format(out, frac, rounding, ovf, data):
    shift = frac - out.frac
    v = data.draw(edge_values(INT64_MIN, INT64_MAX, 48, ties=(shift,), near=_ends(out, shift)))
    rand = _draws(v.shape, data)
    expected = [ref.requantize(x, frac, out, rounding, ovf, r)
                for x, r in zip(v.tolist(), rand.tolist())]
    _check_exact(requantize, (v, frac, out, rounding, ovf), rounding, rand, expected, v.tolist())


@EXACT
@given(a_fmt=any_format(), out=any_format(), rounding=st.sampled_from(ROUNDING_MODES),
       ovf=st.sampled_from(OVERFLOW_MODES), data=st.data())
def test_mul_is_exact_for_every_accepted_format(a_fmt, out, rounding, ovf, data):
    b_fmt = data.draw(any_format(min(MAX_TOTAL_BITS, 63 - a_fmt.total)), label="b_fmt")
    shift = a_fmt.frac + b_fmt.frac - out.frac
    # every a against every b: ties and ends of a meet b = +-1, small powers of two and the ends
    a = data.draw(edge_values(a_fmt.min_code, a_fmt.max_code, 20, ties=(shift, shift - 1),
                              near=_ends(out, shift)))
    b = data.draw(edge_values(b_fmt.min_code, b_fmt.max_code, 12, near=(2, -2)))
    a, b = a[:, None], b[None, :]
    rand = _draws(np.broadcast_shapes(a.shape, b.shape), data)
    pairs = [(x, y) for x in a.ravel().tolist() for y in b.ravel().tolist()]
    expected = [ref.mul(x, a_fmt, y, b_fmt, out, rounding, ovf, r)
                for (x, y), r in zip(pairs, rand.ravel().tolist())]
    _check_exact(mul, (a, a_fmt, b, b_fmt, out, rounding, ovf), rounding, rand, expected, pairs)


@EXACT
@given(a_fmt=any_format(), b_fmt=any_format(), out=any_format(),
       rounding=st.sampled_from(ROUNDING_MODES), ovf=st.sampled_from(OVERFLOW_MODES),
       data=st.data())
def test_add_is_exact_for_every_format(a_fmt, b_fmt, out, rounding, ovf, data):
    operands = []
    for fmt, size in ((a_fmt, 16), (b_fmt, 14)):
        # ties and saturation points of the sum as seen from this operand's grid (the
        # other operand is 0 in some pairs)
        shift = fmt.frac - out.frac
        operands.append(data.draw(edge_values(fmt.min_code, fmt.max_code, size, ties=(shift,),
                                              near=_ends(out, shift))))
    a, b = operands[0][:, None], operands[1][None, :]
    rand = _draws(np.broadcast_shapes(a.shape, b.shape), data)
    pairs = [(x, y) for x in a.ravel().tolist() for y in b.ravel().tolist()]
    expected = [ref.add(x, a_fmt, y, b_fmt, out, rounding, ovf, r)
                for (x, y), r in zip(pairs, rand.ravel().tolist())]
    _check_exact(add, (a, a_fmt, b, b_fmt, out, rounding, ovf), rounding, rand, expected, pairs)


@EXACT
@given(acc_fmt=any_format(), ovf=st.sampled_from(OVERFLOW_MODES), axis=st.sampled_from((0, -1)),
       data=st.data())
def test_accumulate_is_exact_for_every_format(acc_fmt, ovf, axis, data):
    total = data.draw(st.integers(1, MAX_TOTAL_BITS), label="total")
    fmt = FixedFormat(total=total, frac=data.draw(st.integers(0, min(total, acc_fmt.frac))),
                      signed=data.draw(st.booleans()))
    shift = fmt.frac - acc_fmt.frac
    codes = data.draw(edge_values(fmt.min_code, fmt.max_code, 24, near=_ends(acc_fmt, shift)))
    codes = np.random.default_rng(len(codes)).permutation(codes)[:24].reshape(4, 6)
    rows = codes.T if axis == 0 else codes
    expected = [ref.accumulate(row, fmt, acc_fmt, ovf) for row in rows.tolist()]
    for got in (accumulate(codes, fmt, acc_fmt, ovf, axis=axis),
                accumulate(torch.as_tensor(codes), fmt, acc_fmt, ovf, axis=axis)):
        assert got.dtype in (np.int64, torch.int64) and tuple(got.shape) == (len(rows),)
        assert got.tolist() == expected, f"rows {rows.tolist()}"


@EXACT
@given(fmt=any_format(), rounding=st.sampled_from(ROUNDING_MODES),
       ovf=st.sampled_from(OVERFLOW_MODES), data=st.data())
def test_quantize_and_dequantize_are_exact_for_every_format(fmt, rounding, ovf, data):
    codes = data.draw(edge_values(fmt.min_code, fmt.max_code, 24))
    values = dequantize(codes, fmt)
    assert [Fraction(x) * 2**fmt.frac for x in values.tolist()] == codes.tolist()
    lsb = fmt.resolution
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="x seed"))
    x = np.concatenate([
        values, values + lsb / 2, values - lsb / 2,              # exact ties
        values + lsb * rng.uniform(-1, 1, size=codes.shape),     # between codes
        [np.inf, -np.inf, 0.0, -0.0, lsb * 2.0**62, -lsb * 2.0**62, lsb * (2.0**62 - 1024)],
        np.sign(rng.normal(size=8)) * 2.0 ** rng.uniform(-60, 70, size=8)])
    rand = _draws(x.shape, data)
    expected = [ref.quantize(v, fmt, rounding, ovf, r) for v, r in zip(x.tolist(), rand.tolist())]
    refused = np.array([e is None for e in expected])
    if refused.any():
        with pytest.raises(ValueError, match=f"too large to wrap into {fmt}"):
            quantize(x, fmt, rounding, ovf, rand=rand if rounding == "stochastic" else None)
    x, rand = x[~refused], rand[~refused]
    expected = [e for e in expected if e is not None]
    _check_exact(quantize, (x, fmt, rounding, ovf), rounding, rand, expected, x.tolist())


# The three cases of issue 21: an int64 intermediate used to wrap and saturate to the wrong end.

def test_requantize_far_up_saturates_to_the_right_end():
    out = FixedFormat(total=34, frac=34)
    for v in (np.array([48479692280654]), torch.tensor([48479692280654])):
        assert requantize(v, 16, out, "nearest", "saturate").tolist() == [2**33 - 1]
        assert requantize(-v, 16, out, "nearest", "saturate").tolist() == [-2**33]


def test_mul_into_a_finer_format_saturates_to_the_right_end():
    a_fmt, b_fmt, out = FixedFormat.parse("31.11"), FixedFormat.parse("5.1"), FixedFormat.parse("44.44")
    for lib in (np.array, torch.tensor):
        assert mul(lib([-717542737]), a_fmt, lib([-3]), b_fmt, out).tolist() == [2**43 - 1]


def test_add_with_far_apart_binary_points_saturates_to_the_right_end():
    a_fmt, b_fmt, out = FixedFormat.parse("43.28"), FixedFormat.parse("40.1"), FixedFormat.parse("11.4")
    for lib in (np.array, torch.tensor):
        a, b = lib([-2023961132429]), lib([234908354353])
        assert add(a, a_fmt, b, b_fmt, out).tolist() == [1023]
        assert add(b, b_fmt, a, a_fmt, out).tolist() == [1023]


def test_wide_add_keeps_every_bit_it_needs():
    # 48.0 + 48.48: the exact sum needs 96 bits and rounds on bit 47 of b (one half)
    a_fmt, b_fmt, out = FixedFormat.parse("48.0"), FixedFormat.parse("48.48"), FixedFormat.parse("48.0")
    half = 2**47
    a = np.array([half - 1, -half, 5, 5, 5])
    b = np.array([half - 1, -half, half - 1, -half, -half + 1])
    assert add(a, a_fmt, b, b_fmt, out).tolist() == [half - 1, -half, 5, 5, 5]
    assert add(a, a_fmt, b, b_fmt, out, "floor").tolist() == [half - 1, -half, 5, 4, 4]
    assert add(a, a_fmt, b, b_fmt, FixedFormat.parse("u48.0"), overflow_mode="wrap").tolist() == \
        [half - 1, half, 5, 5, 5]


def test_exact_formats_beyond_the_widest_are_refused():
    with pytest.raises(ValueError, match="the product of 30.10 and u20.0 needs a 50-bit format; "
                                         "formats hold at most 48 bits"):
        mul_format(FixedFormat.parse("30.10"), FixedFormat.parse("u20.0"))
    with pytest.raises(ValueError, match="the sum of 48.0 and 8.8 needs a 57-bit format"):
        add_format(FixedFormat.parse("48.0"), FixedFormat.parse("8.8"))
    with pytest.raises(TypeError, match="`a_fmt` must be a FixedFormat, not '8.4'"):
        add_format("8.4", FixedFormat.parse("8.4"))
