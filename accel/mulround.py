"""Fixed-point multiply-round-saturate unit; golden model: models/mulround.py."""

from amaranth.hdl import Module
from amaranth.lib.wiring import In, Out

from models.mulround import MulRoundConfig, MULROUND_LATENCY
from ._block import Block
from ._fixed import shape_of, requantize_hw
from .lfsr import LFSR

__all__ = ["MulRoundSat"]


class MulRoundSat(Block):
    """``y = requantize(a * b)`` per `MulRoundConfig`, registered (latency `MULROUND_LATENCY`).

    Ports: ``a``, ``b`` (formats a_fmt, b_fmt), ``valid`` in; ``y`` (out_fmt),
    ``y_valid`` out. With stochastic rounding an internal one-lane LFSR takes
    one draw per cycle in which ``valid`` is high.
    """

    config_class = MulRoundConfig
    latency = MULROUND_LATENCY

    @staticmethod
    def ports(config):
        return {"a": In(shape_of(config.a_fmt)), "b": In(shape_of(config.b_fmt)), "valid": In(1),
                "y": Out(shape_of(config.out_fmt)), "y_valid": Out(1)}

    def elaborate(self, platform):
        cfg = self.config
        m = Module()
        rand = None
        if cfg.rounding == "stochastic":
            m.submodules.lfsr = lfsr = LFSR(cfg.seed, 1)
            m.d.comb += lfsr.en.eq(self.valid)
            rand = lfsr.bits
        product = self.a * self.b
        result = requantize_hw(product, cfg.a_fmt.frac + cfg.b_fmt.frac, cfg.out_fmt,
                               cfg.rounding, cfg.overflow, rand)
        m.d.sync += [self.y.eq(result), self.y_valid.eq(self.valid)]
        return m
