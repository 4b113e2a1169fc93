"""Golden model of the fixed-point multiply-round-saturate unit (accel/mulround.py)."""

from dataclasses import dataclass

import numpy as np

from quant import FixedFormat, LFSRBank, mul, ROUNDING_MODES, OVERFLOW_MODES
from ._config import ConfigMixin, check_choice, check_int

__all__ = ["MulRoundConfig", "mulround_model", "MULROUND_LATENCY"]

#: Cycles from a valid input to its output.
MULROUND_LATENCY = 1


@dataclass(frozen=True)
class MulRoundConfig(ConfigMixin):
    """``y = requantize(a * b)`` into ``out_fmt`` with the named rounding and overflow.

    Stochastic rounding draws from a one-lane LFSR bank seeded with ``seed``,
    one draw per valid input (quant.lfsr).
    """

    #: The values each choice field accepts (the CLI lists them).
    CHOICES = {"rounding": ROUNDING_MODES, "overflow": OVERFLOW_MODES}

    a_fmt: FixedFormat = FixedFormat(8, 4)
    b_fmt: FixedFormat = FixedFormat(8, 4)
    out_fmt: FixedFormat = FixedFormat(8, 4)
    rounding: str = "nearest"
    overflow: str = "saturate"
    seed: int = 1

    def __post_init__(self):
        self._coerce_formats()
        check_choice("rounding", self.rounding, ROUNDING_MODES)
        check_choice("overflow", self.overflow, OVERFLOW_MODES)
        check_int("seed", self.seed, 0, 2**32 - 1)
        if self.a_fmt.total + self.b_fmt.total > 63:
            raise ValueError(f"product of {self.a_fmt} and {self.b_fmt} is wider than 63 bits")


def mulround_model(cfg, a, b):
    """Outputs for a sequence of valid inputs ``a``, ``b`` (codes), in order."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    rand = LFSRBank(cfg.seed, 1).take(a.shape) if cfg.rounding == "stochastic" else None
    return mul(a, cfg.a_fmt, b, cfg.b_fmt, cfg.out_fmt, cfg.rounding, cfg.overflow, rand)
