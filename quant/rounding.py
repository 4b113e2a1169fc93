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


def shift_round(v, shift, rounding, rand=None):
    """Multiply int64 codes ``v`` by ``2**-shift`` with the given rounding.

    ``shift`` is a Python int; negative shifts are exact left shifts.
    ``rand`` (stochastic mode only) holds one `RAND_BITS`-bit draw per element.
    """
    check_rounding(rounding)
    if not isinstance(shift, int) or isinstance(shift, bool):
        raise TypeError(f"`shift` must be an integer, not {shift!r}")
    if shift <= 0:
        return v << (-shift)
    if rounding == "nearest":
        return (v + (1 << (shift - 1))) >> shift
    if rounding == "floor":
        return v >> shift
    if rand is None:
        raise ValueError("stochastic rounding needs `rand`, one random draw per value")
    rand = B.as_int64(rand, name="rand")
    if B.shape_of(rand) != B.shape_of(v):
        raise ValueError(
            f"`rand` must have the shape of the values, {B.shape_of(v)}, "
            f"not {B.shape_of(rand)}")
    return (v + stochastic_addend(rand, shift)) >> shift
