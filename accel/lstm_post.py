"""One shared post-accumulation unit of the BT-LSTM accelerator (`accel.lstm`).

M of these serve the L lanes of the accumulation array: each takes one lane's finished
accumulations per cycle (``load``, with the gate ``q``) and carries them through a pipeline
of its own. A register loads only when its stage holds an item, so an idle unit does not
switch; the stages after the activation run for gate o only. With ``pipeline`` 0 (`LSTMConfig`):

* P0: ``pre = rq(sx*ax + sh*ah + b, pre_fmt)``.
* P1: ``act`` = tanh(pre) for gate g, else sigmoid(pre); the controller keeps i, f and g
  in the lane's gate registers; the unit keeps o.
* P2: ``c_next = rq(f*c_old + i*g, c_fmt)`` (the controller writes the c state).
* P3: ``n = rq(sc*c + bc, pre_fmt)``.
* P4: ``tanh(n)``.
* P5: ``h = rq(o * tanh(n), h_fmt)`` (the controller writes the h state).

``pipeline`` 1 builds every sum of products (P0, P2, P3, P5) as one carry-save tree whose two
rows are registered before the adder, rounding and clamp (`accel.fused`), and registers each
activation's table lookup: twelve stages; 2 also registers the unit's inputs: thirteen.
`models.lstm.post_offsets` gives the cycle at which each input is taken and each output is
out; the controller follows it.
The arithmetic is `models.lstm.LSTMGolden`'s, bit for bit.
"""

from amaranth.hdl import Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from models.lstm import post_offsets
from quant import activations
from ._fixed import requantize_hw
from .fused import fused_rq_hw
from .units import PWLUnit

__all__ = ["PostUnit"]


class PostUnit(wiring.Component):
    """Gate scaling, activations, cell update and output of one LSTM unit at a time (module docstring)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.offsets = post_offsets(cfg)
        ab, cb, pb, sb, hb = (cfg.act_fmt.total, cfg.c_fmt.total, cfg.pre_fmt.total, cfg.s_fmt.total,
                              cfg.h_fmt.total)
        super().__init__({
            "load": In(1), "q": In(2), "ax": In(signed(cfg.acc_bits(cfg.input_size, cfg.x_fmt))),
            "ah": In(signed(cfg.acc_bits(cfg.hidden, cfg.h_fmt))),
            "sx": In(signed(sb)), "sh": In(signed(sb)), "b": In(signed(pb)),
            "act": Out(signed(ab)),
            "i": In(signed(ab)), "f": In(signed(ab)), "g": In(signed(ab)), "c_old": In(signed(cb)),
            "c_next": Out(signed(cb)),
            "sc": In(signed(sb)), "bc": In(signed(pb)),
            "h": Out(signed(hb)),
        })

    def elaborate(self, platform):
        cfg, cut = self.cfg, self.cfg.pipeline >= 1
        ab, cb, pb = cfg.act_fmt.total, cfg.c_fmt.total, cfg.pre_fmt.total
        xf, hf, cf, pf, af, sf = (cfg.x_fmt.frac, cfg.h_fmt.frac, cfg.c_fmt.frac, cfg.pre_fmt.frac,
                                  cfg.act_fmt.frac, cfg.s_fmt.frac)
        wf = cfg.weight_frac
        m = Module()

        # the item in each stage: valid[k] (any gate) and its gate q, k cycles after load
        last = self.offsets["h"]
        valid, q = [self.load], [self.q]
        for k in range(1, last + 1):
            v, g = Signal(name=f"valid{k}"), Signal(2, name=f"q{k}")
            m.d.sync += [v.eq(valid[-1]), g.eq(q[-1])]
            valid.append(v)
            q.append(g)
        out_item = [valid[k] & (q[k] == 3) for k in range(last + 1)]  # gate o, past the activation

        stage = [0]  # the stage the expressions being built belong to

        def reg(values, names, gate_o=False):
            """Register ``values`` at the current stage (loaded when it holds an item): the next stage's."""
            en = (out_item if gate_o else valid)[stage[0]]
            regs = [Signal(Value.cast(v).shape(), name=n) for v, n in zip(values, names)]
            with m.If(en):
                m.d.sync += [r.eq(v) for r, v in zip(regs, values)]
            stage[0] += 1
            return regs

        def fused(products, terms, frac, fmt, name, carry=None, gate_o=True):
            """``rq(sum, frac, fmt)`` of ``products`` ``(a, b, shift)`` and ``terms`` ``(c, shift)``. With ``pipeline``
            0 as written (Yosys builds the multipliers and adders); with 1 as one carry-save tree whose two rows
            are registered before the one adder, shift and clamp (`accel.fused`): a stage, which ``carry`` (o's
            code) crosses in a register of its own. Returns (result, carry)."""
            if not cut:
                total = sum((a * b) << sh for a, b, sh in products) + sum(c << sh for c, sh in terms)
                return requantize_hw(total, frac, fmt, "nearest", "saturate"), carry
            out = fused_rq_hw(m, products, terms, frac, fmt, register=(out_item if gate_o else valid)[stage[0]],
                              name=name)
            if carry is not None:
                carry, = reg([carry], [f"o_{name}"], gate_o=True)
            else:
                stage[0] += 1
            return out, carry

        # P0: gate scaling (every gate), its inputs first registered with ``pipeline`` >= 2
        ax, ah, sx, sh, b = self.ax, self.ah, self.sx, self.sh, self.b
        if cfg.pipeline >= 2:
            ax, ah, sx, sh, b = reg([ax, ah, sx, sh, b], ["ax_q", "ah_q", "sx_q", "sh_q", "b_q"])
        frac_pre = max(sf + xf + wf, sf + hf + wf, pf)
        total, _ = fused([(sx, ax, frac_pre - (sf + xf + wf)), (sh, ah, frac_pre - (sf + hf + wf))],
                         [(b, frac_pre - pf)], frac_pre, cfg.pre_fmt, "p0", gate_o=False)
        pre, = reg([total], ["pre"])

        # P1: activation (sigmoid for i, f, o; tanh for g)
        tnh = activations.tanh(cfg.pre_fmt, cfg.act_fmt, segments=cfg.segments)
        m.submodules.act_sig = unit_s = PWLUnit(activations.sigmoid(cfg.pre_fmt, cfg.act_fmt,
                                                                    segments=cfg.segments), registered=cut)
        m.submodules.act_tanh = unit_t = PWLUnit(tnh, registered=cut)
        m.d.comb += [unit_s.x.eq(pre), unit_t.x.eq(pre)]
        if cut:
            m.d.comb += [unit_s.en.eq(valid[stage[0]]), unit_t.en.eq(valid[stage[0]])]
            stage[0] += 1
        assert stage[0] == self.offsets["act"]
        m.d.comb += self.act.eq(Mux(q[stage[0]] == 2, unit_t.y, unit_s.y))
        o, = reg([self.act], ["o_keep"], gate_o=True)

        # P2: cell update (gate o's items from here on)
        assert stage[0] == self.offsets["update"]
        frac_c = max(af + cf, 2 * af)
        c_next, o = fused([(self.f, self.c_old, frac_c - (af + cf)), (self.i, self.g, frac_c - 2 * af)], [], frac_c,
                          cfg.c_fmt, "p2", carry=o)
        assert stage[0] == self.offsets["cell"]
        m.d.comb += self.c_next.eq(c_next)
        o, c_new = reg([o, self.c_next], ["o_c", "c_new"], gate_o=True)

        # P3: normalized cell
        assert stage[0] == self.offsets["norm"]
        frac_n = max(sf + cf, pf)
        n, o = fused([(self.sc, c_new, frac_n - (sf + cf))], [(self.bc, frac_n - pf)], frac_n, cfg.pre_fmt, "p3",
                     carry=o)
        n, o = reg([n, o], ["n", "o_n"], gate_o=True)

        # P4: tanh of the normalized cell
        m.submodules.act_cell = unit_c = PWLUnit(tnh, registered=cut)
        m.d.comb += unit_c.x.eq(n)
        if cut:
            m.d.comb += unit_c.en.eq(out_item[stage[0]])
            o, = reg([o], ["o_cut_t"], gate_o=True)
        tn, o = reg([unit_c.y, o], ["tn", "o_t"], gate_o=True)

        # P5: output product
        h, _ = fused([(o, tn, 0)], [], 2 * af, cfg.h_fmt, "p5")
        assert stage[0] == self.offsets["h"]
        m.d.comb += self.h.eq(h)
        return m
