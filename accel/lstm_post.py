"""One shared post-accumulation unit of the BT-LSTM accelerator (`accel.lstm`).

M of these serve the L lanes of the accumulation array: each takes one lane's finished
accumulations per cycle and carries them through a pipeline of its own (stage: what it
does; the enables come from the controller, and a register loads only when its stage is
valid, so an idle unit does not switch):

* P0 (``load``): ``pre = rq(sx*ax + sh*ah + b, pre_fmt)``.
* P1: ``act`` = tanh(pre) when ``q_tanh`` (gate g), else sigmoid(pre); the controller
  stores i, f and g in the lane's gate registers; ``keep_o`` keeps o here.
* P2 (``update``): ``c_next = rq(f*c_old + i*g, c_fmt)`` (the controller writes the c state).
* P3 (``norm``): ``n = rq(sc*c + bc, pre_fmt)``.
* P4 (``squash``): ``tanh(n)``.
* P5: ``h = rq(o * tanh(n), h_fmt)`` (the controller writes the h state).

The arithmetic is `models.lstm.LSTMGolden`'s, bit for bit.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from quant import activations
from ._fixed import requantize_hw
from .units import PWLUnit

__all__ = ["PostUnit"]


class PostUnit(wiring.Component):
    """Gate scaling, activations, cell update and output of one LSTM unit at a time (module docstring)."""

    def __init__(self, cfg):
        self.cfg = cfg
        ab, cb, pb, sb, hb = (cfg.act_fmt.total, cfg.c_fmt.total, cfg.pre_fmt.total, cfg.s_fmt.total,
                              cfg.h_fmt.total)
        super().__init__({
            "load": In(1), "ax": In(signed(cfg.acc_bits(cfg.input_size, cfg.x_fmt))),
            "ah": In(signed(cfg.acc_bits(cfg.hidden, cfg.h_fmt))),
            "sx": In(signed(sb)), "sh": In(signed(sb)), "b": In(signed(pb)),
            "q_tanh": In(1), "keep_o": In(1), "act": Out(signed(ab)),
            "update": In(1), "i": In(signed(ab)), "f": In(signed(ab)), "g": In(signed(ab)), "c_old": In(signed(cb)),
            "c_next": Out(signed(cb)),
            "norm": In(1), "sc": In(signed(sb)), "bc": In(signed(pb)),
            "squash": In(1), "h": Out(signed(hb)),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        ab, cb, pb = cfg.act_fmt.total, cfg.c_fmt.total, cfg.pre_fmt.total
        xf, hf, cf, pf, af, sf = (cfg.x_fmt.frac, cfg.h_fmt.frac, cfg.c_fmt.frac, cfg.pre_fmt.frac,
                                  cfg.act_fmt.frac, cfg.s_fmt.frac)
        wf = cfg.weight_frac
        m = Module()
        rq = lambda v, frac, fmt: requantize_hw(v, frac, fmt, "nearest", "saturate")
        tnh = activations.tanh(cfg.pre_fmt, cfg.act_fmt, segments=cfg.segments)
        m.submodules.act_sig = unit_s = PWLUnit(activations.sigmoid(cfg.pre_fmt, cfg.act_fmt, segments=cfg.segments))
        m.submodules.act_tanh = unit_t = PWLUnit(tnh)
        m.submodules.act_cell = unit_c = PWLUnit(tnh)

        # P0: gate scaling
        frac_pre = max(sf + xf + wf, sf + hf + wf, pf)
        pre = Signal(signed(pb))
        total = ((self.sx * self.ax) << (frac_pre - (sf + xf + wf))) + \
                ((self.sh * self.ah) << (frac_pre - (sf + hf + wf))) + (self.b << (frac_pre - pf))
        with m.If(self.load):
            m.d.sync += pre.eq(rq(total, frac_pre, cfg.pre_fmt))

        # P1: activation
        act = Signal(signed(ab))
        m.d.comb += [unit_s.x.eq(pre), unit_t.x.eq(pre), act.eq(Mux(self.q_tanh, unit_t.y, unit_s.y)),
                     self.act.eq(act)]
        o2 = Signal(signed(ab))
        with m.If(self.keep_o):
            m.d.sync += o2.eq(act)

        # P2: cell update
        frac_c = max(af + cf, 2 * af)
        m.d.comb += self.c_next.eq(rq(((self.f * self.c_old) << (frac_c - (af + cf))) +
                                      ((self.i * self.g) << (frac_c - 2 * af)), frac_c, cfg.c_fmt))
        c_new, o3 = Signal(signed(cb)), Signal(signed(ab))
        with m.If(self.update):
            m.d.sync += [c_new.eq(self.c_next), o3.eq(o2)]

        # P3: normalized cell
        frac_n = max(sf + cf, pf)
        n, o4 = Signal(signed(pb)), Signal(signed(ab))
        with m.If(self.norm):
            m.d.sync += [n.eq(rq(((self.sc * c_new) << (frac_n - (sf + cf))) + (self.bc << (frac_n - pf)),
                                 frac_n, cfg.pre_fmt)), o4.eq(o3)]

        # P4: tanh; P5: output product
        m.d.comb += unit_c.x.eq(n)
        tn, o5 = Signal(signed(ab)), Signal(signed(ab))
        with m.If(self.squash):
            m.d.sync += [tn.eq(unit_c.y), o5.eq(o4)]
        m.d.comb += self.h.eq(rq(o5 * tn, 2 * af, cfg.h_fmt))
        return m
