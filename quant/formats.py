"""Fixed-point number formats.

A format is defined once, here; hardware widths are derived from it.
"""

from dataclasses import dataclass
import re

__all__ = ["FixedFormat", "MAX_TOTAL_BITS", "OVERFLOW_MODES"]

#: Widest format supported; `quant.fixed` is exact for every format up to it.
#: Products of two formats must fit in 63 bits (int64 with a sign), which
#: `fixed.mul` checks.
MAX_TOTAL_BITS = 48

#: Overflow policies: clamp to the representable range, or keep the low
#: ``total`` bits (two's complement wrap-around, what an unchecked register does).
OVERFLOW_MODES = ("saturate", "wrap")

_FORMAT_RE = re.compile(r"^(u?)([0-9]+)\.([0-9]+)$")


@dataclass(frozen=True)
class FixedFormat:
    """A binary fixed-point format.

    A value ``v`` is stored as the integer code ``c = v * 2**frac``.

    Parameters
    ----------
    total : int
        Word width in bits, sign included, 1..48.
    frac : int
        Fractional bits, 0..total.
    signed : bool
        Two's complement when true, unsigned otherwise.

    The string form is ``"TOTAL.FRAC"`` for signed and ``"uTOTAL.FRAC"`` for
    unsigned: ``"16.12"`` is 16 signed bits of which 12 are fractional.
    """

    total: int
    frac: int
    signed: bool = True

    def __post_init__(self):
        for name in ("total", "frac"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"`{name}` must be an integer, not {value!r}")
        if not isinstance(self.signed, bool):
            raise TypeError(f"`signed` must be a bool, not {self.signed!r}")
        if not 1 <= self.total <= MAX_TOTAL_BITS:
            raise ValueError(
                f"`total` must be a positive integer of at most {MAX_TOTAL_BITS} bits, "
                f"not {self.total}")
        if not 0 <= self.frac <= self.total:
            raise ValueError(
                f"`frac` must be between 0 and total={self.total}, not {self.frac}")

    @classmethod
    def parse(cls, text):
        """Parse ``"16.12"`` (signed) or ``"u8.8"`` (unsigned)."""
        if isinstance(text, FixedFormat):
            return text
        if not isinstance(text, str):
            raise TypeError(f"format must be a string like '16.12' or 'u8.8', not {text!r}")
        match = _FORMAT_RE.match(text.strip())
        if match is None:
            raise ValueError(
                f"format must look like 'TOTAL.FRAC' (signed) or 'uTOTAL.FRAC' "
                f"(unsigned), not {text!r}")
        unsigned, total, frac = match.groups()
        return cls(total=int(total), frac=int(frac), signed=not unsigned)

    def __str__(self):
        return f"{'' if self.signed else 'u'}{self.total}.{self.frac}"

    @property
    def int_bits(self):
        """Bits left of the binary point, sign bit included."""
        return self.total - self.frac

    @property
    def min_code(self):
        return -(1 << (self.total - 1)) if self.signed else 0

    @property
    def max_code(self):
        return (1 << (self.total - 1)) - 1 if self.signed else (1 << self.total) - 1

    @property
    def resolution(self):
        """Value of one least-significant bit."""
        return 2.0 ** -self.frac

    @property
    def min_value(self):
        return self.min_code * self.resolution

    @property
    def max_value(self):
        return self.max_code * self.resolution

    def to_json(self):
        return str(self)

    @classmethod
    def from_json(cls, value):
        return cls.parse(value)
