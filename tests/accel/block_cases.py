"""Block configurations under test: edge configs plus seeded random ones."""

import numpy as np

from models.activation import ActivationConfig
from models.mulround import MulRoundConfig
from models.ternary_dot import TernaryDotConfig
from quant import FixedFormat, ROUNDING_MODES, OVERFLOW_MODES


def _random_format(rng, max_total, signed=None):
    total = int(rng.integers(2, max_total + 1))
    return FixedFormat(total=total, frac=int(rng.integers(0, total + 1)),
                       signed=bool(rng.integers(0, 2)) if signed is None else signed)


def _random_mulround(seed):
    rng = np.random.default_rng(seed)
    return MulRoundConfig(a_fmt=_random_format(rng, 16), b_fmt=_random_format(rng, 16),
                          out_fmt=_random_format(rng, 20),
                          rounding=str(rng.choice(ROUNDING_MODES)),
                          overflow=str(rng.choice(OVERFLOW_MODES)), seed=seed)


RTL_CASES = [
    # exhaustive: every pair of 8-bit codes
    ("mulround", MulRoundConfig("8.4", "8.4", "8.4", "nearest", "saturate")),
    ("mulround", MulRoundConfig("8.6", "u8.8", "8.5", "stochastic", "wrap", seed=11)),
    # heavy saturation: a narrow output
    ("mulround", MulRoundConfig("12.4", "12.4", "6.2", "floor", "saturate")),
    # max widths: a 24 x 24 product into a 48-bit output
    ("mulround", MulRoundConfig("24.20", "24.12", "48.30", "stochastic", "saturate", seed=3)),
    ("mulround", _random_mulround(101)),
    ("mulround", _random_mulround(102)),
    ("ternary_dot", TernaryDotConfig(2, "3.0", "ternary")),      # exhaustive
    ("ternary_dot", TernaryDotConfig(1, "8.0", "ternary")),      # exhaustive
    ("ternary_dot", TernaryDotConfig(5, "6.2", "ternary")),      # k not a power of two
    ("ternary_dot", TernaryDotConfig(16, "12.4", "binary")),
    ("ternary_dot", TernaryDotConfig(64, "16.8", "ternary")),    # wide
    ("activation", ActivationConfig("sigmoid", "8.4", "u8.8")),  # exhaustive
    ("activation", ActivationConfig("tanh", "16.12", "16.12")),  # exhaustive, 65536 codes
    ("activation", ActivationConfig("sigmoid", "12.8", "12.10", segments=64)),
    ("activation", ActivationConfig("tanh", "20.14", "16.14")),  # random
    ("activation", ActivationConfig("sigmoid", "6.0", "u8.8")),  # exact lookup table
]

# Small enough for Amaranth's Python simulator.
AMARANTH_CASES = [
    ("mulround", MulRoundConfig("4.2", "4.2", "4.1", "nearest", "saturate")),
    ("mulround", MulRoundConfig("5.2", "u3.3", "u4.1", "stochastic", "wrap", seed=5)),
    ("mulround", MulRoundConfig("4.0", "4.0", "8.0", "floor", "saturate")),
    ("ternary_dot", TernaryDotConfig(2, "3.0", "ternary")),
    ("ternary_dot", TernaryDotConfig(3, "3.1", "binary")),
    ("activation", ActivationConfig("sigmoid", "8.4", "u8.8")),
    ("activation", ActivationConfig("tanh", "8.5", "8.7")),
]


def case_id(case):
    name, cfg = case
    fields = "-".join(str(v) for v in cfg.to_json().values())
    return f"{name}[{fields}]"
