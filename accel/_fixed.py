"""Amaranth expressions for the quant/ integer semantics (the hardware side of quant.fixed)."""

from amaranth.hdl import Const, Mux, Cat, signed, unsigned

from quant import RAND_BITS

__all__ = ["shape_of", "shift_round_hw", "overflow_hw", "requantize_hw", "pack_lanes", "unpack_lanes"]


def shape_of(fmt):
    """The Amaranth shape of a quant.FixedFormat."""
    return signed(fmt.total) if fmt.signed else unsigned(fmt.total)


def shift_round_hw(v, shift, rounding, rand=None):
    """``v * 2**-shift`` rounded as quant.rounding.shift_round does."""
    if shift <= 0:
        return v << -shift
    if rounding == "nearest":
        return (v + Const(1 << (shift - 1), shift)) >> shift
    if rounding == "floor":
        return v >> shift
    if rand is None:
        raise ValueError("stochastic rounding in hardware needs random bits")
    if shift <= RAND_BITS:
        addend = rand[:shift]
    else:
        addend = Cat(Const(0, shift - RAND_BITS), rand[:RAND_BITS])
    return (v + addend) >> shift


def overflow_hw(v, fmt, mode):
    """Bring ``v`` into ``fmt`` (saturate or wrap); the result has ``fmt``'s shape."""
    if mode == "saturate":
        lo = Const(fmt.min_code, signed(fmt.total + 1))
        hi = Const(fmt.max_code, signed(fmt.total + 1))
        clamped = Mux(v > hi, hi, Mux(v < lo, lo, v))
        low = clamped[:fmt.total]
    else:
        low = v[:fmt.total]
    return low.as_signed() if fmt.signed else low


def requantize_hw(v, frac, fmt, rounding, overflow, rand=None):
    """Hardware `quant.fixed.requantize`: shift-round from ``frac`` bits, then overflow."""
    return overflow_hw(shift_round_hw(v, frac - fmt.frac, rounding, rand), fmt, overflow)


def pack_lanes(values, bits, lanes):
    """Words of ``lanes`` signed ``bits``-wide fields each, value 0 in the low bits (the last word zero-padded)."""
    mask = (1 << bits) - 1
    values = list(values)
    return [sum((int(v) & mask) << (p * bits) for p, v in enumerate(values[w:w + lanes]))
            for w in range(0, len(values), lanes)]


def unpack_lanes(words, bits, lanes):
    """Signed ``bits``-wide fields of each word, lane 0 in the low bits, in order (inverse of `pack_lanes`)."""
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    return [((word >> (p * bits)) & mask ^ sign) - sign for word in words for p in range(lanes)]
