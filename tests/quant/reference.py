"""The quant/ integer semantics on unbounded Python integers, one value at a time.

Each function restates the documented rule (docs/quant.md, `quant.rounding`)
with Python ints, which never overflow, so it is the outside truth the int64
implementation is checked against. Slow; for test-sized inputs only.
"""

import math
from fractions import Fraction

from quant import RAND_BITS

__all__ = [
    "WRAP_LIMIT",
    "accumulate",
    "add",
    "mul",
    "overflow",
    "quantize",
    "requantize",
    "shift_round",
]

#: `quant.quantize` refuses to wrap magnitudes (in LSBs) of this or more.
WRAP_LIMIT = 2 ** 62


def shift_round(v, shift, rounding, rand=0):
    """``(v + addend) >> shift`` with the mode's addend; ``v << -shift`` for shift <= 0."""
    if shift <= 0:
        return v << -shift
    if rounding == "floor":
        addend = 0
    elif rounding == "nearest":
        addend = 1 << (shift - 1)
    elif shift <= RAND_BITS:
        addend = rand % (1 << shift)
    else:
        addend = (rand % (1 << RAND_BITS)) << (shift - RAND_BITS)
    return (v + addend) >> shift


def overflow(v, fmt, mode):
    if mode == "saturate":
        return min(max(v, fmt.min_code), fmt.max_code)
    low = v % (1 << fmt.total)
    if fmt.signed and low >= 1 << (fmt.total - 1):
        low -= 1 << fmt.total
    return low


def requantize(v, frac, fmt, rounding, mode, rand=0):
    return overflow(shift_round(v, frac - fmt.frac, rounding, rand), fmt, mode)


def mul(a, a_fmt, b, b_fmt, out_fmt, rounding, mode, rand=0):
    return requantize(a * b, a_fmt.frac + b_fmt.frac, out_fmt, rounding, mode, rand)


def add(a, a_fmt, b, b_fmt, out_fmt, rounding, mode, rand=0):
    frac = max(a_fmt.frac, b_fmt.frac)
    total = (a << (frac - a_fmt.frac)) + (b << (frac - b_fmt.frac))
    return requantize(total, frac, out_fmt, rounding, mode, rand)


def accumulate(terms, fmt, acc_fmt, mode):
    acc = 0
    for term in terms:
        acc = overflow(acc + (term << (acc_fmt.frac - fmt.frac)), acc_fmt, mode)
    return acc


def quantize(x, fmt, rounding, mode, rand=0):
    """The code of float ``x``, or None where `quant.quantize` must refuse (wrap, too large)."""
    if math.isinf(x):
        if mode == "wrap":
            return None
        return fmt.max_code if x > 0 else fmt.min_code
    scaled = Fraction(x) * 2 ** fmt.frac
    if mode == "wrap" and abs(scaled) >= WRAP_LIMIT:
        return None
    base = math.floor(scaled)
    dropped = scaled - base
    if rounding == "nearest":
        up = dropped >= Fraction(1, 2)
    elif rounding == "floor":
        up = False
    else:
        up = (math.floor(dropped * 2 ** RAND_BITS) + rand % (1 << RAND_BITS)) >> RAND_BITS
    return overflow(base + int(up), fmt, mode)
