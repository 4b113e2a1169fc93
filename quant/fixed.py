"""Fixed-point conversion and arithmetic on integer codes.

Every function takes and returns int64 codes as NumPy arrays or torch
tensors (the backend of the first argument), with one implementation for
both. Results are exact integers: compare them with ``==``.

Results are exact for every format combination accepted, although an exact
intermediate (an aligned sum, a product moved up many bits) can need up to
about 100 bits: a value that will saturate is clamped before it is shifted
up (a clamped value saturates to the same end), ``"wrap"`` keeps only the
bits that reach the result, and a sum whose operands' binary points are far
apart is carried as two int64 parts. Products need ``a.total + b.total <= 63``;
`mul` refuses wider ones.

Out-of-range values
-------------------
``overflow="saturate"`` clamps to ``[fmt.min_code, fmt.max_code]``; +inf and
-inf saturate to the ends. ``overflow="wrap"`` keeps the low ``total`` bits
(two's complement); infinities and magnitudes of 2**62 or more raise
`ValueError` there, since no wrapped value is meaningful. NaN always raises
`ValueError`, naming how many there are and where the first one is.
"""

import numpy as np

from . import _backend as B
from .formats import FixedFormat, MAX_TOTAL_BITS, OVERFLOW_MODES
from .rounding import (check_rounding, shift_round, shift_round_split, stochastic_addend,
                       RAND_BITS)

__all__ = ["check_overflow", "check_codes", "quantize", "dequantize", "overflow",
           "requantize", "mul", "add", "accumulate", "mul_format", "add_format", "EXACT_FLOAT_BITS",
           "exact_in_float"]

#: integers, and every sum and product of them, are exact in float64 while their magnitude is below 2**53
EXACT_FLOAT_BITS = 53


def exact_in_float(terms, code_a, code_b):
    """Is every partial sum of a dot product of ``terms`` products of codes up to ``code_a`` and ``code_b`` in
    magnitude exact in float64 (so it can run on BLAS and be read back as an integer)?"""
    return terms * abs(int(code_a)) * abs(int(code_b)) < (1 << EXACT_FLOAT_BITS)

_WRAP_LIMIT = 2.0 ** 62


def check_overflow(mode):
    if not isinstance(mode, str):
        raise TypeError(f"`overflow` must be a string, not {mode!r}")
    if mode not in OVERFLOW_MODES:
        raise ValueError(
            f"`overflow` must be one of {', '.join(OVERFLOW_MODES)}, not {mode!r}")
    return mode


def _check_format(fmt, name="fmt"):
    if not isinstance(fmt, FixedFormat):
        raise TypeError(f"`{name}` must be a FixedFormat, not {fmt!r}")
    return fmt


def check_codes(codes, fmt, *, name="codes"):
    """Return ``codes`` as int64 after checking they are valid codes of ``fmt``."""
    _check_format(fmt)
    codes = B.as_int64(codes, name=name)
    bad = (codes < fmt.min_code) | (codes > fmt.max_code)
    if B.any_(bad):
        idx = B.first_index(bad)
        raise ValueError(
            f"`{name}` must be codes of format {fmt} in [{fmt.min_code}, {fmt.max_code}], "
            f"not {int(codes[idx])} (at index {idx})")
    return codes


def overflow(v, fmt, mode="saturate"):
    """Bring int64 values ``v`` into the range of ``fmt`` by ``mode``."""
    check_overflow(mode)
    if mode == "saturate":
        return v.clip(fmt.min_code, fmt.max_code)
    low = v & ((1 << fmt.total) - 1)
    if fmt.signed:
        low = low - ((low >> (fmt.total - 1)) << fmt.total)
    return low


def quantize(x, fmt, rounding="nearest", overflow_mode="saturate", rand=None):
    """Real values -> integer codes of ``fmt``.

    ``code = round(x * 2**fmt.frac)`` with the named rounding (see
    `quant.rounding`), then the overflow policy. For stochastic rounding,
    ``rand`` holds one 16-bit draw per element and the code rounds up when
    ``floor(frac * 2**16) + rand >= 2**16``, where ``frac`` is the dropped
    fraction: the same decision the integer path makes.
    """
    _check_format(fmt)
    check_rounding(rounding)
    check_overflow(overflow_mode)
    x = B.as_float64(x)
    nan = B.isnan(x)
    if B.any_(nan):
        raise ValueError(
            f"`x` must not contain NaN; found {int(nan.sum())}, the first at index "
            f"{B.first_index(nan)}")
    scaled = x * float(2 ** fmt.frac)
    if overflow_mode == "wrap":
        huge = B.isinf(scaled) | (scaled >= _WRAP_LIMIT) | (scaled <= -_WRAP_LIMIT)
        if B.any_(huge):
            idx = B.first_index(huge)
            raise ValueError(
                f"`x` value {float(x[idx])} at index {idx} is too large to wrap into {fmt}; "
                f"use overflow='saturate'")
    else:
        # Clamp first so the float -> int64 cast is always defined; one code
        # of margin keeps rounding decisions at the edges exact.
        scaled = scaled.clip(float(fmt.min_code - 1), float(fmt.max_code + 1))
    low = B.floor(scaled)
    dropped = scaled - low  # exact in float64: in [0, 1)
    base = B.to_int64(low)
    if rounding == "nearest":
        code = base + B.to_int64(dropped >= 0.5)
    elif rounding == "floor":
        code = base
    else:
        if rand is None:
            raise ValueError("stochastic rounding needs `rand`, one random draw per value")
        rand = B.as_int64(rand, name="rand")
        if B.shape_of(rand) != B.shape_of(x):
            raise ValueError(
                f"`rand` must have the shape of `x`, {B.shape_of(x)}, not {B.shape_of(rand)}")
        fine = B.to_int64(B.floor(dropped * float(1 << RAND_BITS)))
        code = base + ((fine + stochastic_addend(rand, RAND_BITS)) >> RAND_BITS)
    return overflow(code, fmt, overflow_mode)


def dequantize(codes, fmt):
    """Integer codes of ``fmt`` -> float64 values ``codes * 2**-frac`` (exact)."""
    codes = check_codes(codes, fmt)
    return B.to_float64(codes) * fmt.resolution


def requantize(v, frac, fmt, rounding="nearest", overflow_mode="saturate", rand=None):
    """Int64 values with ``frac`` fractional bits -> codes of ``fmt``.

    Shifts by ``frac - fmt.frac`` with the named rounding, then applies the
    overflow policy: the step after every multiply or add in the hardware.
    Exact for every int64 ``v`` and every ``frac``.
    """
    _check_format(fmt)
    check_rounding(rounding)
    check_overflow(overflow_mode)
    if isinstance(frac, bool) or not isinstance(frac, int):
        raise TypeError(f"`frac` must be an integer, not {frac!r}")
    v = B.as_int64(v, name="v")
    shift = frac - fmt.frac
    if shift > 0:
        return overflow(shift_round(v, shift, rounding, rand), fmt, overflow_mode)
    # Moving up by more than total + 1 bits changes neither a saturated nor a wrapped result.
    up = _move_up(v, min(-shift, fmt.total + 1), fmt, overflow_mode)
    return overflow(up, fmt, overflow_mode)


def _move_up(v, n, fmt, overflow_mode):
    """``v * 2**n`` for ``0 <= n <= 49``, or an int64 stand-in for it that ``fmt`` cannot tell apart.

    For every ``x`` with ``|x| <= 2**max(fmt.total, n)``, ``overflow(result + x)``
    equals ``overflow(v * 2**n + x)``, and ``|result| <= 2**50``. To saturate, a
    ``v`` past ``+-2**(max(total - n, 0) + 1)`` is clamped there first: moved
    up it lies beyond the format whatever ``x`` is, and so does the exact
    value, on the same side. To wrap, only the low ``total - n`` bits of ``v``
    can reach the low ``total`` bits of the result.
    """
    keep = max(fmt.total - n, 0)
    if overflow_mode == "saturate":
        return v.clip(-(1 << (keep + 1)), 1 << (keep + 1)) << n
    return (v & ((1 << keep) - 1)) << n


def _check_product_width(a_fmt, b_fmt):
    total = a_fmt.total + b_fmt.total
    if total > 63:
        raise ValueError(
            f"product of {a_fmt} and {b_fmt} needs {total} bits; at most 63 are supported")


def _exact_format(total, frac, signed, what):
    if total > MAX_TOTAL_BITS:
        raise ValueError(
            f"{what} needs a {total}-bit format; formats hold at most {MAX_TOTAL_BITS} bits")
    return FixedFormat(total=total, frac=frac, signed=signed)


def mul_format(a_fmt, b_fmt):
    """The exact (full-width) format of a product of ``a_fmt`` and ``b_fmt``."""
    _check_format(a_fmt, "a_fmt")
    _check_format(b_fmt, "b_fmt")
    _check_product_width(a_fmt, b_fmt)
    return _exact_format(a_fmt.total + b_fmt.total, a_fmt.frac + b_fmt.frac,
                         a_fmt.signed or b_fmt.signed, f"the product of {a_fmt} and {b_fmt}")


def add_format(a_fmt, b_fmt):
    """The exact format of a sum of ``a_fmt`` and ``b_fmt`` (one carry bit)."""
    _check_format(a_fmt, "a_fmt")
    _check_format(b_fmt, "b_fmt")
    frac = max(a_fmt.frac, b_fmt.frac)
    signed = a_fmt.signed or b_fmt.signed
    int_bits = max(a_fmt.int_bits + (signed and not a_fmt.signed),
                   b_fmt.int_bits + (signed and not b_fmt.signed)) + 1
    return _exact_format(int_bits + frac, frac, signed, f"the sum of {a_fmt} and {b_fmt}")


def _check_broadcast(a, b):
    try:
        np.broadcast_shapes(B.shape_of(a), B.shape_of(b))
    except ValueError:
        raise ValueError(f"`a` and `b` must have equal or broadcastable shapes, not "
                         f"{B.shape_of(a)} and {B.shape_of(b)}") from None


def mul(a, a_fmt, b, b_fmt, out_fmt, rounding="nearest", overflow_mode="saturate", rand=None):
    """Fixed-point product: exact ``a * b``, then `requantize` into ``out_fmt``.

    ``a`` and ``b`` broadcast against each other as NumPy arrays do.
    """
    for fmt, name in ((a_fmt, "a_fmt"), (b_fmt, "b_fmt"), (out_fmt, "out_fmt")):
        _check_format(fmt, name)
    _check_product_width(a_fmt, b_fmt)
    a = check_codes(a, a_fmt, name="a")
    b = check_codes(b, b_fmt, name="b")
    _check_broadcast(a, b)
    return requantize(a * b, a_fmt.frac + b_fmt.frac, out_fmt, rounding, overflow_mode, rand)


def add(a, a_fmt, b, b_fmt, out_fmt, rounding="nearest", overflow_mode="saturate", rand=None):
    """Fixed-point sum: align binary points exactly, add, `requantize` into ``out_fmt``.

    ``a`` and ``b`` broadcast against each other as NumPy arrays do.
    """
    for fmt, name in ((a_fmt, "a_fmt"), (b_fmt, "b_fmt"), (out_fmt, "out_fmt")):
        _check_format(fmt, name)
    check_rounding(rounding)
    check_overflow(overflow_mode)
    a = check_codes(a, a_fmt, name="a")
    b = check_codes(b, b_fmt, name="b")
    _check_broadcast(a, b)
    a, b = B.broadcast(a, b)
    if a_fmt.frac > b_fmt.frac:
        a, a_fmt, b, b_fmt = b, b_fmt, a, a_fmt
    # The exact sum in LSBs of b is a * 2**gap + b, up to 97 bits. Carry it as
    # hi * 2**gap + lo with 0 <= lo < 2**gap: hi is the sum on a's grid, lo what
    # b has below that grid, and both fit in int64.
    gap = b_fmt.frac - a_fmt.frac
    hi, lo = a + (b >> gap), b & ((1 << gap) - 1)
    shift = b_fmt.frac - out_fmt.frac
    if shift > gap:  # out is coarser than a: all of lo and some of hi drop out
        return overflow(shift_round_split(hi, lo, gap, shift, rounding, rand), out_fmt,
                        overflow_mode)
    # hi lands whole on out's grid, moved up by gap - shift; lo, rounded onto that grid,
    # adds 0 .. 2**(gap - shift) below it.
    below = shift_round(lo, shift, rounding, rand)
    return overflow(_move_up(hi, gap - shift, out_fmt, overflow_mode) + below, out_fmt,
                    overflow_mode)


def accumulate(codes, fmt, acc_fmt, overflow_mode="saturate", axis=-1):
    """Sum ``codes`` of ``fmt`` along ``axis`` in an accumulator of ``acc_fmt``.

    The accumulator starts at 0 and adds one term per step in index order,
    applying the overflow policy after every step, as a saturating hardware
    accumulator does (for ``"wrap"`` the order does not matter). The terms
    are aligned exactly to ``acc_fmt.frac``, which must be at least
    ``fmt.frac`` (no rounding happens inside an accumulator).
    """
    _check_format(fmt)
    _check_format(acc_fmt, "acc_fmt")
    check_overflow(overflow_mode)
    if acc_fmt.frac < fmt.frac:
        raise ValueError(
            f"`acc_fmt` must keep every fractional bit of {fmt}: frac {acc_fmt.frac} < {fmt.frac}")
    # Stand-ins for the aligned terms: adding one to an accumulator value gives the
    # exact result once the overflow policy is applied.
    codes = _move_up(check_codes(codes, fmt), acc_fmt.frac - fmt.frac, acc_fmt, overflow_mode)
    ndim = len(B.shape_of(codes))
    if ndim == 0:
        raise ValueError("`codes` must have at least one dimension to accumulate over")
    axis = axis % ndim
    n = B.shape_of(codes)[axis]
    moved = codes.swapaxes(0, axis) if not B.is_torch(codes) else codes.transpose(0, axis)
    acc = moved[0] * 0
    for k in range(n):
        acc = overflow(acc + moved[k], acc_fmt, overflow_mode)
    return acc
