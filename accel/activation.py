"""Sigmoid/tanh unit: ROM of knots, one multiplier, one adder; golden model: models/activation.py."""

from amaranth.hdl import Module, Signal, Array, Const, signed, unsigned
from amaranth.lib.wiring import In, Out

from models.activation import ActivationConfig, ACTIVATION_LATENCY
from ._block import Block
from ._fixed import shape_of, overflow_hw

__all__ = ["ActivationUnit", "pwl_hw", "pwl_lookup_hw", "pwl_finish_hw"]


class ActivationUnit(Block):
    """The quant.PWLActivation of `ActivationConfig`, registered (latency `ACTIVATION_LATENCY`).

    Ports: ``x`` (in_fmt), ``valid`` in; ``y`` (out_fmt), ``y_valid`` out.
    """

    config_class = ActivationConfig
    latency = ACTIVATION_LATENCY

    @staticmethod
    def ports(config):
        return {"x": In(shape_of(config.in_fmt)), "valid": In(1),
                "y": Out(shape_of(config.out_fmt)), "y_valid": Out(1)}

    def elaborate(self, platform):
        m = Module()
        m.d.sync += [self.y.eq(pwl_hw(m, self.config.pwl, self.x)), self.y_valid.eq(self.valid)]
        return m


def pwl_lookup_hw(m, pwl, x):
    """The table half of ``pwl`` on ``x``: ``(y0, d, t)``, the knot, the segment's slope and the offset
    into the segment (`pwl_finish_hw` makes the output of them; a pipeline may register them between)."""
    y0_tab, d_tab = pwl.table()
    s = pwl.seg_shift
    y0_rom = Array(Const(int(v), signed(pwl.out_fmt.total + 1)) for v in y0_tab)
    d_rom = Array(Const(int(v), signed(pwl.delta_bits)) for v in d_tab)
    span = pwl.hi - pwl.lo
    off = Signal(unsigned(max(1, span.bit_length())))
    with m.If(x < pwl.lo):
        m.d.comb += off.eq(0)
    with m.Elif(x > pwl.hi):
        m.d.comb += off.eq(span)
    with m.Else():
        m.d.comb += off.eq(x - pwl.lo)
    seg = off >> s
    return y0_rom[seg], d_rom[seg], off[:max(1, s)]


def pwl_finish_hw(pwl, y0, d, t):
    """The interpolation half: ``y0 + round(d * t / 2**seg_shift)``, saturated into ``out_fmt``."""
    s = pwl.seg_shift
    y = y0
    if s:
        y = y0 + ((d * t + Const(1 << (s - 1), s)) >> s)
    return overflow_hw(y, pwl.out_fmt, "saturate")


def pwl_hw(m, pwl, x):
    """Combinational hardware of ``pwl`` (a quant.PWLActivation) applied to ``x``."""
    return pwl_finish_hw(pwl, *pwl_lookup_hw(m, pwl, x))
