"""BT-LSTM accelerator (Amaranth), built from `models.lstm.LSTMConfig`.

One LSTM layer, one time step per ``start``, with exactly the arithmetic of
`models.lstm.LSTMGolden` and the cycle count of `models.lstm.schedule`.

Datapath: L lanes; lane l of group g computes unit ``u = g*L + l``. Per
time step the controller issues, for each group and each gate q (i, f, g, o),
the Cx input chunks then the Ch hidden chunks, one per cycle; every lane adds
K products of its unit's row (add / subtract / skip for binary and ternary
codes, real multipliers for fixed12) into an input and a hidden accumulator.
Behind the accumulation runs a pipeline per lane (stage: what it does):

* S1: weight word and input chunk arrive; adder trees; accumulate.
* S2: after a gate's last chunk, ``pre = rq(sx*ax + sh*ah + b)``.
* S3: sigmoid (i, f, o) or tanh (g) into the lane's gate register.
* S4: after gate o, ``c = rq(f*c + i*g)`` (c state updated).
* S5: ``n = rq(sc*c + bc)``.  S6: ``tanh(n)``.  S7: ``h = rq(o*tanh(n))``
  into the next h bank.

Memories: weight words (L*K codes: lane l's codes in bits
``l*K*wb .. (l+1)*K*wb-1``, code k at ``k*wb`` within them, ``wb`` = 1, 2 or
12; binary 1 = +1, 0 = -1; ternary 00 = 0, 01 = +1, 11 = -1; fixed12 two's
complement), gate parameters per (group, gate) (per lane sx, sh, b),
cell parameters per group (per lane sc, bc), the input buffer (Cx words of K
x codes). The h state (two banks) and c state are registers.

Host interface
--------------
``mem_sel``/``mem_addr``/``mem_wdata``/``mem_we`` write while idle, and
``mem_rdata`` returns the word addressed in the previous cycle (see
`LSTMMemoryMap`): weights, gate parameters, cell parameters, initial state
(one unit per address: ``h0`` codes in the low bits, ``c0`` above), the input
buffer, and the h output (chunk j of the last step's h, K codes; read only).
``start`` (one cycle, while idle) runs one time step on the input buffer;
with ``first`` high the step starts from ``h0, c0``, else from the state the
previous step left. ``busy``; ``done`` pulses one cycle at the end;
``cycles`` then holds the step's cycle count.
"""

import numpy as np
from amaranth.hdl import Module, Signal, Const, Mux, Cat, signed, unsigned, Array
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from models.lstm import LSTMConfig, PIPELINE_LATENCY
from quant import activations, pack
from ._fixed import requantize_hw, pack_lanes, unpack_lanes
from .units import CodeDot, PWLUnit

__all__ = ["LSTM", "LSTMMemoryMap"]

SEL_WEIGHTS, SEL_GATES, SEL_CELLS, SEL_STATE, SEL_X, SEL_H = range(6)


def _field(value, bits):
    return int(value) & ((1 << bits) - 1)


class LSTMMemoryMap:
    """Word layouts of the host interface for one `LSTMConfig`."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.wb = cfg.weight_bits
        self.C = cfg.x_chunks + cfg.h_chunks
        self.gate_bits = 2 * cfg.s_fmt.total + cfg.pre_fmt.total
        self.cell_bits = cfg.s_fmt.total + cfg.pre_fmt.total

    def weight_words(self, wx, wh):
        """Words of the weight memory for code matrices wx (4H, I) and wh (4H, H)."""
        cfg, K, L, G = self.cfg, self.cfg.inputs_per_cycle, self.cfg.lanes, self.cfg.groups
        H = cfg.hidden
        pad = -1 if cfg.mode == "binary" else 0  # binary padding meets zero inputs

        def blocks(w, chunks):  # (4, G, chunks, L, K): gate, group, chunk, lane, input
            out = np.full((4, G * L, chunks * K), pad, dtype=np.int64)
            out[:, :H, :w.shape[1]] = np.asarray(w, dtype=np.int64).reshape(4, H, w.shape[1])
            return out.reshape(4, G, L, chunks, K).transpose(0, 1, 3, 2, 4)

        codes = np.concatenate([blocks(wx, cfg.x_chunks), blocks(wh, cfg.h_chunks)], axis=2)
        codes = codes.transpose(1, 0, 2, 3, 4).reshape(-1, L * K)  # address (g*4 + q)*C + j
        if cfg.mode == "fixed12":
            return pack_lanes(codes.ravel(), self.wb, L * K)
        return pack(codes, cfg.mode, L * K * self.wb)

    def gate_words(self, sx, sh, b):
        """Gate-parameter words (address g*4 + q) from codes of sx, sh (s_fmt) and b (pre_fmt)."""
        cfg, L, H = self.cfg, self.cfg.lanes, self.cfg.hidden
        sb, pb = cfg.s_fmt.total, cfg.pre_fmt.total
        words = []
        for g in range(cfg.groups):
            for q in range(4):
                word = 0
                for lane in range(L):
                    u = g * L + lane
                    if u < H:
                        r = q * H + u
                        field = _field(sx[r], sb) | _field(sh[r], sb) << sb | _field(b[r], pb) << 2 * sb
                        word |= field << (lane * self.gate_bits)
                words.append(word)
        return words

    def cell_words(self, sc, bc):
        cfg, L, H = self.cfg, self.cfg.lanes, self.cfg.hidden
        sb, pb = cfg.s_fmt.total, cfg.pre_fmt.total
        words = []
        for g in range(cfg.groups):
            word = 0
            for lane in range(L):
                u = g * L + lane
                if u < H:
                    word |= (_field(sc[u], sb) | _field(bc[u], pb) << sb) << (lane * self.cell_bits)
            words.append(word)
        return words

    def state_words(self, h0, c0):
        hb = self.cfg.h_fmt.total
        return [_field(h, hb) | _field(c, self.cfg.c_fmt.total) << hb for h, c in zip(h0, c0)]

    def x_words(self, codes):
        return pack_lanes(codes, self.cfg.x_fmt.total, self.cfg.inputs_per_cycle)

    def h_codes(self, words):
        return unpack_lanes(words, self.cfg.h_fmt.total, self.cfg.inputs_per_cycle)[:self.cfg.hidden]

    def load(self, golden):
        """``[(sel, addr, word)]`` writes that load a `models.lstm.LSTMGolden`'s parameters."""
        w = golden.weights
        writes = [(SEL_WEIGHTS, a, v) for a, v in enumerate(self.weight_words(w.wx, w.wh))]
        writes += [(SEL_GATES, a, v) for a, v in enumerate(self.gate_words(golden.sx, golden.sh, golden.b))]
        writes += [(SEL_CELLS, a, v) for a, v in enumerate(self.cell_words(golden.sc, golden.bc))]
        writes += [(SEL_STATE, a, v) for a, v in enumerate(self.state_words(golden.h0, golden.c0))]
        return writes

    @property
    def word_bits(self):
        cfg = self.cfg
        return max(cfg.lanes * cfg.inputs_per_cycle * self.wb, cfg.lanes * self.gate_bits,
                   cfg.lanes * self.cell_bits, cfg.h_fmt.total + cfg.c_fmt.total,
                   cfg.inputs_per_cycle * max(cfg.x_fmt.total, cfg.h_fmt.total))


class LSTM(wiring.Component):
    """The BT-LSTM accelerator for one `LSTMConfig` (module docstring)."""

    def __init__(self, config):
        if not isinstance(config, LSTMConfig):
            raise TypeError(f"`config` must be an LSTMConfig, not {type(config).__name__}")
        self.config = config
        self.map = LSTMMemoryMap(config)
        depth = max(config.groups * 4 * self.map.C, config.hidden, config.groups * 4)
        self.addr_bits = max(1, (depth - 1).bit_length())
        super().__init__({
            "mem_sel": In(range(6)),
            "mem_addr": In(self.addr_bits),
            "mem_wdata": In(self.map.word_bits),
            "mem_we": In(1),
            "mem_rdata": Out(self.map.word_bits),
            "start": In(1),
            "first": In(1),
            "busy": Out(1),
            "done": Out(1),
            "cycles": Out(32),
        })

    def elaborate(self, platform):
        cfg, mp = self.config, self.map
        L, K, H, G, C, Cx = cfg.lanes, cfg.inputs_per_cycle, cfg.hidden, cfg.groups, mp.C, cfg.x_chunks
        wb = mp.wb
        xb, hb, cb, pb, ab, sb = (cfg.x_fmt.total, cfg.h_fmt.total, cfg.c_fmt.total, cfg.pre_fmt.total,
                                  cfg.act_fmt.total, cfg.s_fmt.total)
        xf, hf, cf, pf, af, sf = (cfg.x_fmt.frac, cfg.h_fmt.frac, cfg.c_fmt.frac, cfg.pre_fmt.frac,
                                  cfg.act_fmt.frac, cfg.s_fmt.frac)
        wf = cfg.weight_frac
        m = Module()
        rq = lambda v, frac, fmt: requantize_hw(v, frac, fmt, "nearest", "saturate")

        # -- memories and state ----------------------------------------------
        wmem = Memory(shape=unsigned(L * K * wb), depth=G * 4 * C, init=[])
        gmem = Memory(shape=unsigned(L * mp.gate_bits), depth=G * 4, init=[])
        cmem = Memory(shape=unsigned(L * mp.cell_bits), depth=G, init=[])
        xmem = Memory(shape=unsigned(K * xb), depth=Cx, init=[])
        m.submodules.wmem, m.submodules.gmem, m.submodules.cmem, m.submodules.xmem = wmem, gmem, cmem, xmem
        w_rd, g_rd, c_rd, x_rd = (mem.read_port() for mem in (wmem, gmem, cmem, xmem))
        w_wr, g_wr, c_wr, x_wr = (mem.write_port() for mem in (wmem, gmem, cmem, xmem))
        h0 = [Signal(signed(hb), name=f"h0_{u}") for u in range(H)]
        c0 = [Signal(signed(cb), name=f"c0_{u}") for u in range(H)]
        hs = [[Signal(signed(hb), name=f"h{bank}_{u}") for u in range(H)] for bank in range(2)]
        cs = [Signal(signed(cb), name=f"c_{u}") for u in range(H)]
        bank = Signal()       # the bank holding the previous step's h (read); the other is written
        first = Signal()

        # -- host access -----------------------------------------------------
        idle = ~self.busy
        sel_q, addr_q = Signal.like(self.mem_sel), Signal.like(self.mem_addr)
        m.d.sync += [sel_q.eq(self.mem_sel), addr_q.eq(self.mem_addr)]
        for sel, port in ((SEL_WEIGHTS, w_wr), (SEL_GATES, g_wr), (SEL_CELLS, c_wr), (SEL_X, x_wr)):
            with m.If(idle & self.mem_we & (self.mem_sel == sel)):
                m.d.comb += [port.addr.eq(self.mem_addr), port.data.eq(self.mem_wdata), port.en.eq(1)]
        with m.If(idle & self.mem_we & (self.mem_sel == SEL_STATE)):
            with m.Switch(self.mem_addr):
                for u in range(H):
                    with m.Case(u):
                        m.d.sync += [h0[u].eq(self.mem_wdata[:hb]), c0[u].eq(self.mem_wdata[hb:hb + cb])]
        def chunk_index(value, n):
            return value[:max(1, (n - 1).bit_length())] if n > 1 else Const(0, 1)

        def h_chunk_array(units):
            return Array(Cat(*[units[jj * K + k] if jj * K + k < H else Const(0, hb) for k in range(K)])
                         for jj in range(cfg.h_chunks))

        h_latest = [Mux(bank, hs[1][u], hs[0][u]) for u in range(H)]  # the last step's h
        h_out_q = Signal(K * hb)
        m.d.sync += h_out_q.eq(h_chunk_array(h_latest)[chunk_index(self.mem_addr, cfg.h_chunks)])
        with m.Switch(sel_q):
            for sel, data in ((SEL_WEIGHTS, w_rd.data), (SEL_GATES, g_rd.data), (SEL_CELLS, c_rd.data),
                              (SEL_X, x_rd.data), (SEL_H, h_out_q)):
                with m.Case(sel):
                    m.d.comb += self.mem_rdata.eq(data)
        with m.If(idle):
            m.d.comb += [port.addr.eq(self.mem_addr) for port in (w_rd, g_rd, c_rd, x_rd)]

        # -- issue stage (S0) --------------------------------------------------
        g = Signal(range(max(2, G)))
        q = Signal(2)
        j = Signal(range(max(2, C)))
        issuing = Signal()
        tail = Signal(range(PIPELINE_LATENCY + 1))
        count = Signal(32)
        last_issue = (g == G - 1) & (q == 3) & (j == C - 1)
        m.d.sync += self.done.eq(0)
        with m.If(self.busy):
            m.d.sync += count.eq(count + 1)
        with m.If(idle & self.start):
            m.d.sync += [self.busy.eq(1), issuing.eq(1), g.eq(0), q.eq(0), j.eq(0), count.eq(0),
                         first.eq(self.first)]
        with m.If(issuing):
            m.d.comb += [w_rd.addr.eq((g * 4 + q) * C + j), x_rd.addr.eq(j)]
            with m.If(j == C - 1):
                m.d.sync += j.eq(0)
                with m.If(q == 3):
                    m.d.sync += [q.eq(0), g.eq(g + 1)]
                with m.Else():
                    m.d.sync += q.eq(q + 1)
            with m.Else():
                m.d.sync += j.eq(j + 1)
            with m.If(last_issue):
                m.d.sync += [issuing.eq(0), tail.eq(1)]
        with m.If(tail != 0):
            m.d.sync += tail.eq(tail + 1)
            with m.If(tail == PIPELINE_LATENCY):
                m.d.sync += [tail.eq(0), self.busy.eq(0), self.done.eq(1), self.cycles.eq(count + 1),
                             bank.eq(~bank), first.eq(0)]

        # h chunk for the issue (registered, to arrive with the memory data in S1)
        h_prev = [Mux(first, h0[u], h_latest[u]) for u in range(H)]
        h_word = Signal(K * hb)
        with m.If(j >= Cx):
            m.d.sync += h_word.eq(h_chunk_array(h_prev)[chunk_index((j - Cx).as_unsigned(), cfg.h_chunks)])

        # control delayed alongside the data
        def delay(value, name):
            reg = Signal.like(value, name=name)
            m.d.sync += reg.eq(value)
            return reg

        v1, g1, q1 = delay(issuing, "v1"), delay(g, "g1"), delay(q, "q1")
        is_x1, first1, last1 = delay(j < Cx, "is_x1"), delay(j == 0, "first1"), delay(j == C - 1, "last1")

        # -- S1: trees and accumulators ------------------------------------------
        x_in = [x_rd.data[k * xb:(k + 1) * xb].as_signed() for k in range(K)]
        h_in = [h_word[k * hb:(k + 1) * hb].as_signed() for k in range(K)]
        acc_x_bits = cfg.acc_bits(cfg.input_size, cfg.x_fmt)
        acc_h_bits = cfg.acc_bits(cfg.hidden, cfg.h_fmt)
        ax = [Signal(signed(acc_x_bits), name=f"ax{lane}") for lane in range(L)]
        ah = [Signal(signed(acc_h_bits), name=f"ah{lane}") for lane in range(L)]

        dot_mode = "fixed" if cfg.mode == "fixed12" else cfg.mode
        for lane in range(L):
            codes = w_rd.data[lane * K * wb:(lane + 1) * K * wb]
            m.submodules[f"tree_x{lane}"] = dot_x = CodeDot(K, dot_mode, wb, xb)
            m.submodules[f"tree_h{lane}"] = dot_h = CodeDot(K, dot_mode, wb, hb)
            m.d.comb += [dot_x.codes.eq(codes), dot_h.codes.eq(codes)]
            m.d.comb += [dot_x.x[k].eq(x_in[k]) for k in range(K)]
            m.d.comb += [dot_h.x[k].eq(h_in[k]) for k in range(K)]
            tree_x, tree_h = dot_x.y, dot_h.y
            with m.If(v1):
                with m.If(is_x1):
                    m.d.sync += ax[lane].eq(Mux(first1, 0, ax[lane]) + tree_x)
                with m.Else():
                    m.d.sync += ah[lane].eq(ah[lane] + tree_h)
        v2 = delay(v1 & last1, "v2")
        g2, q2 = delay(g1, "g2"), delay(q1, "q2")
        with m.If(v1):
            m.d.comb += g_rd.addr.eq(g1 * 4 + q1)
        # read enables: each memory is read only in the cycles that use it (and by the host while idle)
        m.d.comb += [w_rd.en.eq(idle | issuing), x_rd.en.eq(idle | (issuing & (j < Cx))),
                     g_rd.en.eq(idle | (v1 & last1))]
        with m.If(v1 & first1):  # a gate's first chunk is always an x chunk: clear ah for it
            for lane in range(L):
                m.d.sync += ah[lane].eq(0)

        # -- S2: gate scaling ----------------------------------------------------
        sig = activations.sigmoid(cfg.pre_fmt, cfg.act_fmt, segments=cfg.segments)
        tnh = activations.tanh(cfg.pre_fmt, cfg.act_fmt, segments=cfg.segments)
        frac_pre = max(sf + xf + wf, sf + hf + wf, pf)
        pre = [Signal(signed(pb), name=f"pre{lane}") for lane in range(L)]
        for lane in range(L):
            word = g_rd.data[lane * mp.gate_bits:(lane + 1) * mp.gate_bits]
            sx, sh, b = word[:sb].as_signed(), word[sb:2 * sb].as_signed(), word[2 * sb:].as_signed()
            total = ((sx * ax[lane]) << (frac_pre - (sf + xf + wf))) + \
                    ((sh * ah[lane]) << (frac_pre - (sf + hf + wf))) + (b << (frac_pre - pf))
            with m.If(v2):  # registers load only when their stage is valid: no activity otherwise
                m.d.sync += pre[lane].eq(rq(total, frac_pre, cfg.pre_fmt))
        v3, g3, q3 = delay(v2, "v3"), delay(g2, "g3"), delay(q2, "q3")

        # -- S3: activations into the gate registers -----------------------------------
        gates = [[Signal(signed(ab), name=f"gate{qq}_{lane}") for qq in range(4)] for lane in range(L)]
        for lane in range(L):
            m.submodules[f"act_sig{lane}"] = unit_s = PWLUnit(sig)
            m.submodules[f"act_tanh{lane}"] = unit_t = PWLUnit(tnh)
            m.d.comb += [unit_s.x.eq(pre[lane]), unit_t.x.eq(pre[lane])]
            s_out, t_out = unit_s.y, unit_t.y
            with m.If(v3):
                with m.Switch(q3):
                    for qq in range(4):
                        with m.Case(qq):
                            m.d.sync += gates[lane][qq].eq(t_out if qq == 2 else s_out)
        v4, g4 = delay(v3 & (q3 == 3), "v4"), delay(g3, "g4")

        # -- S4: cell update -----------------------------------------------------------
        with m.If(v4):
            m.d.comb += c_rd.addr.eq(g4)
        m.d.comb += c_rd.en.eq(idle | v4)
        c_new = [Signal(signed(cb), name=f"cnew{lane}") for lane in range(L)]
        o5 = [Signal(signed(ab), name=f"o5_{lane}") for lane in range(L)]
        frac_c = max(af + cf, 2 * af)
        for lane in range(L):
            c_old = Array(Mux(first, c0[u], cs[u]) if u < H else Const(0, cb)
                          for u in (gg * L + lane for gg in range(G)))[g4]
            i_, f_, gg_, o_ = gates[lane]
            c_next = Signal(signed(cb), name=f"cnext{lane}")
            m.d.comb += c_next.eq(rq(((f_ * c_old) << (frac_c - (af + cf))) + ((i_ * gg_) << (frac_c - 2 * af)),
                                     frac_c, cfg.c_fmt))
            with m.If(v4):  # registers load only when their stage is valid: no activity otherwise
                m.d.sync += [c_new[lane].eq(c_next), o5[lane].eq(o_)]
                with m.Switch(g4):
                    for gg in range(G):
                        u = gg * L + lane
                        if u < H:
                            with m.Case(gg):
                                m.d.sync += cs[u].eq(c_next)
        v5, g5 = delay(v4, "v5"), delay(g4, "g5")

        # -- S5: normalized cell -------------------------------------------------------
        frac_n = max(sf + cf, pf)
        n = [Signal(signed(pb), name=f"n{lane}") for lane in range(L)]
        o6 = [Signal(signed(ab), name=f"o6_{lane}") for lane in range(L)]
        for lane in range(L):
            word = c_rd.data[lane * mp.cell_bits:(lane + 1) * mp.cell_bits]
            sc, bc = word[:sb].as_signed(), word[sb:].as_signed()
            total = ((sc * c_new[lane]) << (frac_n - (sf + cf))) + (bc << (frac_n - pf))
            with m.If(v5):
                m.d.sync += [n[lane].eq(rq(total, frac_n, cfg.pre_fmt)), o6[lane].eq(o5[lane])]
        v6, g6 = delay(v5, "v6"), delay(g5, "g6")

        # -- S6: tanh; S7: output product into the next h bank -------------------------
        tn = [Signal(signed(ab), name=f"tn{lane}") for lane in range(L)]
        o7 = [Signal(signed(ab), name=f"o7_{lane}") for lane in range(L)]
        for lane in range(L):
            m.submodules[f"act_cell{lane}"] = unit = PWLUnit(tnh)
            m.d.comb += unit.x.eq(n[lane])
            with m.If(v6):
                m.d.sync += [tn[lane].eq(unit.y), o7[lane].eq(o6[lane])]
        v7, g7 = delay(v6, "v7"), delay(g6, "g7")
        with m.If(v7):
            with m.Switch(g7):
                for gg in range(G):
                    with m.Case(gg):
                        for lane in range(L):
                            u = gg * L + lane
                            if u < H:
                                h_new = rq(o7[lane] * tn[lane], 2 * af, cfg.h_fmt)
                                with m.If(bank):
                                    m.d.sync += hs[0][u].eq(h_new)
                                with m.Else():
                                    m.d.sync += hs[1][u].eq(h_new)
        return m

