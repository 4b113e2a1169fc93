"""K-input ternary (or binary) add/subtract/skip dot product; golden model: models/ternary_dot.py."""

from amaranth.hdl import Module, Mux, Const, signed
from amaranth.lib.wiring import In, Out

from models.ternary_dot import TernaryDotConfig, TERNARY_DOT_LATENCY
from ._block import Block
from ._fixed import shape_of
from .units import adder_tree

__all__ = ["TernaryDot"]


class TernaryDot(Block):
    """``y = sum(code_i * x_i)``, registered (latency `TERNARY_DOT_LATENCY`).

    Ports: ``x`` (k fields of x_fmt, input 0 in the low bits), ``codes``
    (k fields of 2 bits, ternary, or 1 bit, binary, packed as quant.packing),
    ``valid`` in; ``y`` (`TernaryDotConfig.out_fmt`), ``y_valid`` out. No
    multiplier: each field selects add, subtract or skip. The invalid ternary
    field ``10`` is a skip.
    """

    config_class = TernaryDotConfig
    latency = TERNARY_DOT_LATENCY

    @staticmethod
    def ports(config):
        return {"x": In(config.k * config.x_fmt.total), "codes": In(config.k * config.code_bits),
                "valid": In(1), "y": Out(shape_of(config.out_fmt)), "y_valid": Out(1)}

    def elaborate(self, platform):
        cfg = self.config
        m = Module()
        w, cb = cfg.x_fmt.total, cfg.code_bits
        zero = Const(0, signed(w + 1))
        terms = []
        for i in range(cfg.k):
            x = self.x[i * w:(i + 1) * w].as_signed()
            field = self.codes[i * cb:(i + 1) * cb]
            if cfg.mode == "binary":
                terms.append(Mux(field[0], x, -x))
            else:
                terms.append(Mux(field == 0b01, x, Mux(field == 0b11, -x, zero)))
        m.d.sync += [self.y.eq(adder_tree(terms)), self.y_valid.eq(self.valid)]
        return m
