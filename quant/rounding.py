"""Rounding modes for dropping low-order bits.

Three modes, named explicitly and shared by NumPy, torch and the RTL:

``"nearest"``
    Round to nearest, **ties toward +infinity** ("round half up"):
    ``(v + 2**(s-1)) >> s``. It is one constant add and a shift in hardware.
    Note that ``np.round``/``torch.round`` round half to even; bitforge never
    uses them for quantization.
``"floor"``
    Truncate toward -infinity: ``v >> s`` (arithmetic shift).
``"stochastic"``
    ``(v + r) >> s`` with ``r`` uniform on ``[0, 2**s)``, so the result rounds
    up with probability equal to the dropped fraction. ``r`` comes from a
    `RAND_BITS`-bit draw of the LFSR in `quant.lfsr`: for ``s <= RAND_BITS``
    the low ``s`` bits of the draw are used; for ``s > RAND_BITS`` the draw is
    placed in the top ``RAND_BITS`` of the ``s`` dropped bits (probability
    resolution ``2**-RAND_BITS``).
"""

from . import _backend as B

__all__ = ["ROUNDING_MODES", "RAND_BITS", "check_rounding", "shift_round"]

ROUNDING_MODES = ("nearest", "floor", "stochastic")

#: Width of one random draw for stochastic rounding.
RAND_BITS = 16


def check_rounding(mode):
    """Return ``mode`` if it is a known rounding mode, else raise."""
    if not isinstance(mode, str):
        raise TypeError(f"`rounding` must be a string, not {mode!r}")
    if mode not in ROUNDING_MODES:
        raise ValueError(
            f"`rounding` must be one of {', '.join(ROUNDING_MODES)}, not {mode!r}")
    return mode


def stochastic_addend(rand, shift):
    """The term added before an ``shift``-bit right shift in stochastic mode."""
    if shift <= RAND_BITS:
        return rand & ((1 << shift) - 1)
    return (rand & ((1 << RAND_BITS) - 1)) << (shift - RAND_BITS)


def _check_shift(shift):
    if not isinstance(shift, int) or isinstance(shift, bool):
        raise TypeError(f"`shift` must be an integer, not {shift!r}")
    return shift


def _check_rand(rand, v):
    if rand is None:
        raise ValueError("stochastic rounding needs `rand`, one random draw per value")
    rand = B.as_int64(rand, name="rand")
    if B.shape_of(rand) != B.shape_of(v):
        raise ValueError(
            f"`rand` must have the shape of the values, {B.shape_of(v)}, "
            f"not {B.shape_of(rand)}")
    return rand


def shift_round(v, shift, rounding, rand=None):
    """Multiply int64 codes ``v`` by ``2**-shift`` with the given rounding.

    ``shift`` is a Python int; negative shifts are exact left shifts.
    ``rand`` (stochastic mode only) holds one `RAND_BITS`-bit draw per element.
    Exact for every int64 ``v`` and every ``shift``: a left shift whose result
    does not fit in int64 raises `ValueError`.
    """
    check_rounding(rounding)
    _check_shift(shift)
    v = B.as_int64(v, name="v")
    if shift <= 0:
        return _shift_left(v, -shift)
    return shift_round_split(v, 0, 0, shift, rounding, rand)


def _shift_left(v, n):
    # -2**63 >> n and (2**63 - 1) >> n, as Python ints: the codes whose shift fits
    lowest, highest = -((1 << 63) >> n), ((1 << 63) - 1) >> n
    bad = (v < lowest) | (v > highest)
    if B.any_(bad):
        idx = B.first_index(bad)
        raise ValueError(
            f"`v` must be in [{lowest}, {highest}] to shift left by {n} bits in int64, "
            f"not {int(v[idx])} (at index {idx})")
    return v << min(n, 63)  # past 63 every allowed value is 0


def shift_round_split(hi, lo, lo_bits, shift, rounding, rand=None):
    """`shift_round` of the exact value ``hi * 2**lo_bits + lo``, for ``shift > lo_bits``.

    ``hi`` and ``lo`` are int64 with ``0 <= lo < 2**lo_bits``; the value itself
    may need more than 64 bits, the result never does. Rounding up is decided
    by the top dropped bits alone (one for nearest, ``min(shift, RAND_BITS)``
    for stochastic), so those are all that is read of ``lo`` and of the low
    bits of ``hi``; no intermediate exceeds int64.
    """
    check_rounding(rounding)
    if not _check_shift(shift) > lo_bits:
        raise ValueError(f"`shift` must be greater than lo_bits={lo_bits}, not {shift}")
    if rounding == "stochastic":
        rand = _check_rand(rand, hi)
    down = hi >> min(shift - lo_bits, 63)  # rounded toward -inf; lo < 2**lo_bits never reaches it
    if rounding == "floor":
        return down
    # Rounding up is the carry out of the dropped bits plus the addend. The addend is
    # zero below the top `look` dropped bits, so no bit below them can carry.
    look = 1 if rounding == "nearest" else min(shift, RAND_BITS)
    top = _bits(hi, lo, lo_bits, shift - look, look)
    if rounding == "nearest":
        return down + top  # (v + 2**(shift-1)) >> shift: up when the top dropped bit is 1
    return down + ((top + (rand & ((1 << look) - 1))) >> look)


def _bits(hi, lo, lo_bits, start, width):
    """Bits ``start .. start+width-1`` of ``hi * 2**lo_bits + lo``, for ``start + width > lo_bits``."""
    mask = (1 << width) - 1
    if start >= lo_bits:
        return (hi >> min(start - lo_bits, 63)) & mask
    from_hi = (hi & ((1 << (start + width - lo_bits)) - 1)) << (lo_bits - start)
    return from_hi + (lo >> start)
