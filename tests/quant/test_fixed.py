import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from quant import (FixedFormat, quantize, dequantize, requantize, mul, add, accumulate,
                   overflow, mul_format, add_format, RAND_BITS, ROUNDING_MODES, OVERFLOW_MODES)
from tests.quant.strategies import formats, codes_of

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
