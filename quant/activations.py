"""Sigmoid and tanh for hardware: piecewise-linear in fixed point.

`PWLActivation` maps integer codes of a signed input format to codes of an
output format with integer arithmetic only, the same in NumPy, torch and RTL:

1. Clamp the input code ``x`` to ``[lo, hi]``, the codes of ``[-R, R)``
   (``R`` = ``x_range``), intersected with the input format's range.
2. ``off = x - lo``; segment ``k = off >> s`` and position ``t = off & (2**s - 1)``,
   where a segment is ``2**s`` input codes wide (``2R / segments`` in value).
3. ``y = y0[k] + ((d[k] * t + 2**(s-1)) >> s)`` (round half up), where
   ``y0[k]`` is the function at knot ``k`` rounded to nearest in the output
   format and ``d[k] = y0[k+1] - y0[k]``. For ``s = 0`` it is ``y0[k]``.
4. Saturate into the output format.

So the hardware is a ``segments``-entry ROM of ``(y0, d)``, one multiplier
of ``d`` by ``t`` and an adder. When the input format is too coarse for the
requested segments (``s`` would be negative), every input code gets its own
knot: an exact lookup table.

Default ranges: sigmoid over [-8, 8), tanh over [-4, 4), 32 segments each.
With 16-bit formats of 12 fractional bits, the maximum absolute error against
the exact functions over every input code is below 0.0035 for sigmoid and
0.0065 for tanh (see `max_error`; the tests check these bounds exhaustively).
"""

from dataclasses import dataclass
import functools
import math

import numpy as np

from . import _backend as B
from .formats import FixedFormat

__all__ = ["PWLActivation", "ACTIVATION_FUNCTIONS", "sigmoid", "tanh"]

ACTIVATION_FUNCTIONS = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
}
_DEFAULT_RANGE = {"sigmoid": 8, "tanh": 4}


def _is_power_of_two(n):
    return isinstance(n, int) and not isinstance(n, bool) and n >= 1 and n & (n - 1) == 0


@dataclass(frozen=True)
class PWLActivation:
    """A fixed-point piecewise-linear sigmoid or tanh (see module docstring).

    Parameters
    ----------
    fn : {"sigmoid", "tanh"}
    in_fmt : FixedFormat
        Signed input format.
    out_fmt : FixedFormat
        Output format (signed for tanh).
    segments : int
        Number of linear segments over ``[-x_range, x_range)``, a power of two.
    x_range : int or None
        Half-width of the approximated interval, a power of two; outside it
        the function is taken as constant. Default 8 (sigmoid), 4 (tanh).
    """

    fn: str
    in_fmt: FixedFormat
    out_fmt: FixedFormat
    segments: int = 32
    x_range: int = None

    def __post_init__(self):
        if self.fn not in ACTIVATION_FUNCTIONS:
            raise ValueError(f"`fn` must be one of {', '.join(ACTIVATION_FUNCTIONS)}, not {self.fn!r}")
        for name in ("in_fmt", "out_fmt"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, FixedFormat.parse(value))
            elif not isinstance(value, FixedFormat):
                raise TypeError(f"`{name}` must be a FixedFormat, not {value!r}")
        if not self.in_fmt.signed:
            raise ValueError(f"`in_fmt` must be signed, not {self.in_fmt}")
        if self.fn == "tanh" and not self.out_fmt.signed:
            raise ValueError(f"tanh needs a signed `out_fmt`, not {self.out_fmt}")
        if self.x_range is None:
            object.__setattr__(self, "x_range", _DEFAULT_RANGE[self.fn])
        if not _is_power_of_two(self.x_range):
            raise ValueError(f"`x_range` must be a power of two, not {self.x_range!r}")
        if not _is_power_of_two(self.segments) or self.segments < 2:
            raise ValueError(f"`segments` must be a power of two of at least 2, not {self.segments!r}")
        # the interpolation d * t + 2**(s-1) must be exact in int64 (and in the hardware's product)
        _, d = self.table()
        need = (int(np.abs(d).max(initial=0)) * ((1 << self.seg_shift) - 1) + (1 << self.seg_shift)).bit_length() + 1
        if need > 63:
            raise ValueError(f"a PWL {self.fn} from {self.in_fmt} to {self.out_fmt} with {self.segments} segments "
                             f"interpolates with a {need}-bit product, more than int64's 63 bits: use more "
                             f"segments or narrower formats")

    # -- derived hardware parameters ---------------------------------------
    @property
    def seg_shift(self):
        """log2 of a segment's width in input codes."""
        width = 2 * self.x_range * 2 ** self.in_fmt.frac // self.segments
        return max(0, int(math.log2(width))) if width >= 1 else 0

    @property
    def lo(self):
        """Lowest input code with its own value (smaller inputs clamp to it)."""
        return max(-self.x_range * 2 ** self.in_fmt.frac, self.in_fmt.min_code)

    @property
    def hi(self):
        """Highest input code with its own value."""
        return min(self.x_range * 2 ** self.in_fmt.frac - 1, self.in_fmt.max_code)

    @property
    def n_knots(self):
        """Table entries: segments covering [lo, hi]."""
        return ((self.hi - self.lo) >> self.seg_shift) + 1

    def table(self):
        """``(y0, d)``: int64 arrays of length `n_knots`, the ROM contents (computed once per distinct
        activation and shared: read-only)."""
        return _table(self.fn, self.in_fmt, self.out_fmt, self.lo, self.n_knots, self.seg_shift)

    @property
    def delta_bits(self):
        """Signed width that holds every ``d`` in the table."""
        _, d = self.table()
        peak = int(max(1, np.abs(d).max(initial=0)))
        return peak.bit_length() + 1

    # -- evaluation ----------------------------------------------------------
    def __call__(self, codes):
        """Output codes for input codes (NumPy array or torch tensor, int)."""
        codes = B.as_int64(codes, name="codes")
        bad = (codes < self.in_fmt.min_code) | (codes > self.in_fmt.max_code)
        if B.any_(bad):
            idx = B.first_index(bad)
            raise ValueError(f"`codes` must be codes of {self.in_fmt}, not {int(codes[idx])} at index {idx}")
        y0, d = self.table()
        y0, d = B.like(y0, codes), B.like(d, codes)
        off = codes.clip(self.lo, self.hi) - self.lo
        s = self.seg_shift
        k = off >> s
        y = y0[k]
        if s:
            t = off & ((1 << s) - 1)
            y = y + ((d[k] * t + (1 << (s - 1))) >> s)
        return y.clip(self.out_fmt.min_code, self.out_fmt.max_code)

    def exact(self, x):
        """The exact function, for reference."""
        return ACTIVATION_FUNCTIONS[self.fn](np.asarray(x, dtype=np.float64))

    def max_error(self):
        """Maximum absolute error over every input code (exhaustive; inputs up to 24 bits)."""
        if self.in_fmt.total > 24:
            raise ValueError(f"exhaustive error is limited to 24-bit inputs, not {self.in_fmt}")
        codes = np.arange(self.in_fmt.min_code, self.in_fmt.max_code + 1, dtype=np.int64)
        approx = self(codes) * self.out_fmt.resolution
        return float(np.abs(approx - self.exact(codes * self.in_fmt.resolution)).max())

    def to_json(self):
        return {"fn": self.fn, "in_fmt": str(self.in_fmt), "out_fmt": str(self.out_fmt),
                "segments": self.segments, "x_range": self.x_range}


@functools.lru_cache(maxsize=256)
def _table(fn, in_fmt, out_fmt, lo, n_knots, seg_shift):
    knots = lo + (np.arange(n_knots + 1, dtype=np.int64) << seg_shift)
    exact = ACTIVATION_FUNCTIONS[fn](knots * in_fmt.resolution)
    scaled = exact * 2.0 ** out_fmt.frac
    y = np.floor(scaled) + (scaled - np.floor(scaled) >= 0.5)
    y = np.clip(y, out_fmt.min_code, out_fmt.max_code).astype(np.int64)
    y0, d = y[:-1], y[1:] - y[:-1]
    y0.flags.writeable = False
    d.flags.writeable = False
    return y0, d


def sigmoid(in_fmt, out_fmt, **kwargs):
    """The default hardware sigmoid for the given formats."""
    return PWLActivation("sigmoid", in_fmt, out_fmt, **kwargs)


def tanh(in_fmt, out_fmt, **kwargs):
    """The default hardware tanh for the given formats."""
    return PWLActivation("tanh", in_fmt, out_fmt, **kwargs)
