"""Registry of the reusable building blocks: name -> (config class, component class, golden model)."""

from models.activation import ActivationConfig, activation_model
from models.mulround import MulRoundConfig, mulround_model
from models.ternary_dot import TernaryDotConfig, ternary_dot_model
from .activation import ActivationUnit
from .mulround import MulRoundSat
from .ternary_dot import TernaryDot

__all__ = ["BLOCKS", "block_class", "build_block"]

BLOCKS = {
    "mulround": (MulRoundConfig, MulRoundSat, mulround_model),
    "ternary_dot": (TernaryDotConfig, TernaryDot, ternary_dot_model),
    "activation": (ActivationConfig, ActivationUnit, activation_model),
}


def block_class(name):
    if name not in BLOCKS:
        raise ValueError(f"block must be one of {', '.join(BLOCKS)}, not {name!r}")
    return BLOCKS[name]


def build_block(name, config):
    """The Amaranth component of block ``name`` for ``config``."""
    return block_class(name)[1](config)
