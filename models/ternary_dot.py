"""Golden model of the K-input ternary add/subtract/skip dot-product unit (accel/ternary_dot.py)."""

from dataclasses import dataclass

import numpy as np

from quant import FixedFormat, pack
from ._config import ConfigMixin, check_choice, check_int

__all__ = ["TernaryDotConfig", "ternary_dot_model", "TERNARY_DOT_LATENCY"]

TERNARY_DOT_LATENCY = 1


@dataclass(frozen=True)
class TernaryDotConfig(ConfigMixin):
    """``y = sum_i code_i * x_i`` over ``k`` inputs, exactly (no rounding, no overflow).

    ``mode="ternary"``: codes in {-1, 0, +1}, 2 bits each; ``"binary"``:
    {-1, +1}, 1 bit each; packed as in quant.packing (input 0 in the least
    significant field). The output format keeps x's fractional bits and is
    wide enough for any sum: `out_fmt`.
    """

    #: The values each choice field accepts (the CLI lists them).
    CHOICES = {"mode": ("ternary", "binary")}

    k: int = 8
    x_fmt: FixedFormat = FixedFormat(8, 0)
    mode: str = "ternary"

    def __post_init__(self):
        self._coerce_formats()
        check_int("k", self.k, 1, 256)
        check_choice("mode", self.mode, self.CHOICES["mode"])
        if not self.x_fmt.signed:
            raise ValueError(f"`x_fmt` must be signed, not {self.x_fmt}")
        if self.out_fmt.total > 48:
            raise ValueError(f"k={self.k} inputs of {self.x_fmt} need a {self.out_fmt.total}-bit sum; "
                             f"at most 48 bits are supported")

    @property
    def code_bits(self):
        return 2 if self.mode == "ternary" else 1

    @property
    def out_fmt(self):
        peak = self.k * (1 << (self.x_fmt.total - 1))  # |sum| <= k * 2**(w-1)
        return FixedFormat(total=peak.bit_length() + 1, frac=self.x_fmt.frac)


def pack_x(cfg, x):
    """Pack rows of ``k`` x codes into the unit's flat ``x`` port value."""
    w = cfg.x_fmt.total
    mask = (1 << w) - 1
    return [sum((int(v) & mask) << (i * w) for i, v in enumerate(row)) for row in np.atleast_2d(x)]


def pack_codes(cfg, codes):
    """Pack rows of ``k`` codes into the unit's ``codes`` port value."""
    return [pack(row, cfg.mode, cfg.k * cfg.code_bits)[0] for row in np.atleast_2d(codes)]


def ternary_dot_model(cfg, x, codes):
    """Sums for rows of ``k`` inputs: int64 array of shape ``(n,)``."""
    x = np.atleast_2d(np.asarray(x, dtype=np.int64))
    codes = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    if x.shape[-1] != cfg.k or codes.shape != x.shape:
        raise ValueError(f"`x` and `codes` must be shaped (n, {cfg.k}), not {x.shape} and {codes.shape}")
    allowed = (-1, 1) if cfg.mode == "binary" else (-1, 0, 1)
    if not np.isin(codes, allowed).all():
        raise ValueError(f"{cfg.mode} codes must be in {set(allowed)}")
    return (x * codes).sum(axis=-1)
