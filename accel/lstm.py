"""BT-LSTM accelerator (Amaranth), built from `models.lstm.LSTMConfig`.

One LSTM layer, one time step per ``start``, with exactly the arithmetic of
`models.lstm.LSTMGolden` and the cycle count of `models.lstm.schedule`.

Two sections, sized independently:

* **The accumulation array**: L lanes x K inputs per cycle; lane l of group g
  computes unit ``u = g*L + l``. Per time step the controller issues, for each
  group and each gate q (i, f, g, o), the Cx input chunks then the Ch hidden
  chunks, one per cycle; every lane adds K products of its unit's row (add /
  subtract / skip for binary and ternary codes, with the input operand isolated
  for a zero code; real multipliers for fixed12) into an input and a hidden
  accumulator (stage S1, behind the issue S0).
* **M shared post-accumulation units** (`accel.lstm_post.PostUnit`,
  ``cfg.units``): when a gate's last chunk is accumulated, the L lanes' sums move
  into a hold buffer (the accumulators' second bank) and the array goes on with
  the next gate while the units drain the buffer, M lanes per cycle, D =
  ceil(L/M) cycles: unit m takes lane ``d*M + m`` in drain cycle d through gate
  scaling, activation, and after gate o the cell update, normalized cell, tanh
  and output product (stages P0..P5). When D > Cx+Ch the buffer is still
  draining when the next gate completes: the array stalls until it is free
  (`models.lstm.schedule` counts it).
* **Pipelining** (``cfg.pipeline``, for a clock): 1 registers the trees' sums before the
  accumulators, splits each post-unit sum of products into a carry-save tree and a registered
  adder (`accel.fused`), registers the activation lookups, and selects gate o's i, f, g and old
  c a cycle early into registers; 2 also registers every memory word before its first use
  (weights, inputs and h chunk before the trees, the gate word in the post units, the cell
  word read two cycles ahead); 3 also registers the trees halfway (the carry-save rows after half
  of their compressor levels: the 12-bit multiplier trees are the deepest logic at depth 2).
  `models.lstm.handover` and `models.lstm.post_offsets` give the added cycles; the arithmetic is
  unchanged.

Memories: weight words (L*K codes: lane l's codes in bits
``l*K*wb .. (l+1)*K*wb-1``, code k at ``k*wb`` within them, ``wb`` = 1, 2 or
12; binary 1 = +1, 0 = -1; ternary 00 = 0, 01 = +1, 11 = -1; fixed12 two's
complement), gate parameters per (group, gate, drain cycle) (sx, sh, b of the
M lanes a drain cycle serves, field m for unit m), cell parameters per (group,
drain cycle) (sc, bc likewise), the input buffer (Cx words of K x codes). The h state (two
banks) and c state are registers.

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

from models.lstm import LSTMConfig, post_offsets
from quant import pack
from ._fixed import pack_lanes, unpack_lanes
from .lstm_post import PostUnit
from .fused import add_rows_hw
from .units import CodeDot

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

    def slots(self):
        """``(g, d, m, lane, u)`` of every post-unit slot: group g, drain cycle d, unit m, the lane ``d*M + m``
        it takes (None past L) and that lane's LSTM unit ``g*L + lane`` (None past H); word order."""
        cfg, L, M, D = self.cfg, self.cfg.lanes, self.cfg.units, self.cfg.drain_cycles
        for g in range(cfg.groups):
            for d in range(D):
                for unit in range(M):
                    lane = d * M + unit if d * M + unit < L else None
                    u = g * L + lane if lane is not None and g * L + lane < cfg.hidden else None
                    yield g, d, unit, lane, u

    def gate_words(self, sx, sh, b):
        """Gate-parameter words (address (g*4 + q)*D + d: field m holds lane d*M + m's sx, sh (s_fmt) and
        b (pre_fmt) codes)."""
        cfg, H, D = self.cfg, self.cfg.hidden, self.cfg.drain_cycles
        sb, pb = cfg.s_fmt.total, cfg.pre_fmt.total
        words = [0] * (cfg.groups * 4 * D)
        for g, d, unit, _, u in self.slots():
            if u is None:
                continue
            for q in range(4):
                r = q * H + u
                field = _field(sx[r], sb) | _field(sh[r], sb) << sb | _field(b[r], pb) << 2 * sb
                words[(g * 4 + q) * D + d] |= field << (unit * self.gate_bits)
        return words

    def cell_words(self, sc, bc):
        """Cell-parameter words (address g*D + d: field m holds lane d*M + m's sc and bc codes)."""
        cfg, D = self.cfg, self.cfg.drain_cycles
        sb, pb = cfg.s_fmt.total, cfg.pre_fmt.total
        words = [0] * (cfg.groups * D)
        for g, d, unit, _, u in self.slots():
            if u is not None:
                words[g * D + d] |= (_field(sc[u], sb) | _field(bc[u], pb) << sb) << (unit * self.cell_bits)
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
        return max(cfg.lanes * cfg.inputs_per_cycle * self.wb, cfg.units * self.gate_bits,
                   cfg.units * self.cell_bits, cfg.h_fmt.total + cfg.c_fmt.total,
                   cfg.inputs_per_cycle * max(cfg.x_fmt.total, cfg.h_fmt.total))


class LSTM(wiring.Component):
    """The BT-LSTM accelerator for one `LSTMConfig` (module docstring)."""

    def __init__(self, config):
        if not isinstance(config, LSTMConfig):
            raise TypeError(f"`config` must be an LSTMConfig, not {type(config).__name__}")
        self.config = config
        self.map = LSTMMemoryMap(config)
        depth = max(config.groups * 4 * self.map.C, config.hidden, config.groups * 4 * config.drain_cycles)
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
        M, D = cfg.units, cfg.drain_cycles
        wb = mp.wb
        xb, hb, cb, pb, sb = cfg.x_fmt.total, cfg.h_fmt.total, cfg.c_fmt.total, cfg.pre_fmt.total, cfg.s_fmt.total
        ab = cfg.act_fmt.total
        m = Module()

        # -- memories and state ----------------------------------------------
        wmem = Memory(shape=unsigned(L * K * wb), depth=G * 4 * C, init=[])
        gmem = Memory(shape=unsigned(M * mp.gate_bits), depth=G * 4 * D, init=[])
        cmem = Memory(shape=unsigned(M * mp.cell_bits), depth=G * D, init=[])
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

        # -- the array's pipeline: issue (S0), accumulate (S1), hand over (S2); `run` low stalls it ----------
        run = Signal()        # the array advances (low: the hold buffer is still draining)
        g = Signal(range(max(2, G)))
        q = Signal(2)
        j = Signal(range(max(2, C)))
        issuing = Signal()
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
        with m.If(issuing & run):
            with m.If(j == C - 1):
                m.d.sync += j.eq(0)
                with m.If(q == 3):
                    m.d.sync += [q.eq(0), g.eq(g + 1)]
                with m.Else():
                    m.d.sync += q.eq(q + 1)
            with m.Else():
                m.d.sync += j.eq(j + 1)
            with m.If(last_issue):
                m.d.sync += issuing.eq(0)

        # h chunk for the issue (registered, to arrive with the memory data in S1)
        h_prev = [Mux(first, h0[u], h_latest[u]) for u in range(H)]
        h_word = Signal(K * hb)
        with m.If(run & (j >= Cx)):
            m.d.sync += h_word.eq(h_chunk_array(h_prev)[chunk_index((j - Cx).as_unsigned(), cfg.h_chunks)])

        def delay(value, name, enable=run):
            reg = Signal.like(value, name=name)
            with m.If(enable):
                m.d.sync += reg.eq(value)
            return reg

        v1, g1, q1 = delay(issuing, "v1"), delay(g, "g1"), delay(q, "q1")
        is_x1, first1, last1 = delay(j < Cx, "is_x1"), delay(j == 0, "first1"), delay(j == C - 1, "last1")

        def flags_later(suffix):
            """The S1 flags one stage later (the array's pipeline registers)."""
            return (delay(v, f"{n}{suffix}") for v, n in ((v1, "v1"), (g1, "g1"), (q1, "q1"), (is_x1, "is_x1"),
                                                          (first1, "first1"), (last1, "last1")))

        # S1: trees and accumulators; with ``pipeline`` >= 2 the memories' words registered first
        w_word, x_word = w_rd.data, x_rd.data
        if cfg.pipeline >= 2:
            w_word = delay(w_rd.data, "w_word", run & v1)
            x_word = delay(x_rd.data, "x_word", run & v1 & is_x1)
            h_word = delay(h_word, "h_word_q", run & v1 & ~is_x1)
            v1, g1, q1, is_x1, first1, last1 = flags_later("w")
        x_in = [x_word[k * xb:(k + 1) * xb].as_signed() for k in range(K)]
        h_in = [h_word[k * hb:(k + 1) * hb].as_signed() for k in range(K)]
        acc_x_bits = cfg.acc_bits(cfg.input_size, cfg.x_fmt)
        acc_h_bits = cfg.acc_bits(cfg.hidden, cfg.h_fmt)
        ax = [Signal(signed(acc_x_bits), name=f"ax{lane}") for lane in range(L)]
        ah = [Signal(signed(acc_h_bits), name=f"ah{lane}") for lane in range(L)]
        dot_mode = "fixed" if cfg.mode == "fixed12" else cfg.mode
        # with ``pipeline`` >= 1 the trees stop at two carry-save rows (accumulator wide), registered (S1 trees),
        # and the accumulators add them a cycle later with one compressor level and one adder
        # (with ``pipeline`` 3 the trees also registered halfway: S1 mid)
        rows, split = cfg.pipeline >= 1, cfg.pipeline >= 3
        sums = []
        for lane in range(L):
            codes = w_word[lane * K * wb:(lane + 1) * K * wb]
            m.submodules[f"tree_x{lane}"] = dot_x = CodeDot(K, dot_mode, wb, xb, rows=acc_x_bits if rows else None,
                                                            split=split)
            m.submodules[f"tree_h{lane}"] = dot_h = CodeDot(K, dot_mode, wb, hb, rows=acc_h_bits if rows else None,
                                                            split=split)
            m.d.comb += [dot_x.codes.eq(codes), dot_h.codes.eq(codes)]
            if split:
                m.d.comb += [dot_x.en.eq(run & v1 & is_x1), dot_h.en.eq(run & v1 & ~is_x1)]
            m.d.comb += [dot_x.x[k].eq(x_in[k]) for k in range(K)]
            m.d.comb += [dot_h.x[k].eq(h_in[k]) for k in range(K)]
            sums.append(([dot_x.r0, dot_x.r1], [dot_h.r0, dot_h.r1]) if rows else (dot_x.y, dot_h.y))
        if split:
            v1, g1, q1, is_x1, first1, last1 = flags_later("m")
        if rows:
            sums = [([delay(r, f"rows_x{lane}_{k}", run & v1 & is_x1) for k, r in enumerate(rx)],
                     [delay(r, f"rows_h{lane}_{k}", run & v1 & ~is_x1) for k, r in enumerate(rh)])
                    for lane, (rx, rh) in enumerate(sums)]
            v1, g1, q1, is_x1, first1, last1 = flags_later("a")
        for lane, (sum_x, sum_h) in enumerate(sums):
            if rows:
                next_x = add_rows_hw(m, [Mux(first1, 0, ax[lane]).as_unsigned()[:acc_x_bits], *sum_x], acc_x_bits,
                                     name=f"acc_x{lane}")
                next_h = add_rows_hw(m, [ah[lane].as_unsigned(), *sum_h], acc_h_bits, name=f"acc_h{lane}")
            else:
                next_x, next_h = Mux(first1, 0, ax[lane]) + sum_x, ah[lane] + sum_h
            with m.If(run & v1):
                with m.If(is_x1):
                    m.d.sync += ax[lane].eq(next_x)
                with m.Else():
                    m.d.sync += ah[lane].eq(next_h)
                with m.If(first1):  # a gate's first chunk is always an x chunk: clear ah for it
                    m.d.sync += ah[lane].eq(0)
        v2, g2, q2 = delay(v1 & last1, "v2"), delay(g1, "g2"), delay(q1, "q2")
        # read enables: each memory is read only in the cycles that use it (and by the host while idle)
        m.d.comb += [w_rd.en.eq(idle | (issuing & run)), x_rd.en.eq(idle | (issuing & run & (j < Cx)))]

        # S2: the finished sums move into the hold buffer, which the post units drain D cycles long
        draining = Signal()
        d = Signal(range(max(2, D)))
        hold_g, hold_q = Signal.like(g), Signal(2)
        hold_x = [Signal(signed(acc_x_bits), name=f"hold_x{lane}") for lane in range(L)]
        hold_h = [Signal(signed(acc_h_bits), name=f"hold_h{lane}") for lane in range(L)]
        drain_ends = draining & (d == D - 1)
        free = ~draining | drain_ends
        m.d.comb += run.eq(~v2 | free)
        load = v2 & free
        with m.If(load):
            m.d.sync += [hold_g.eq(g2), hold_q.eq(q2), draining.eq(1), d.eq(0)]
            m.d.sync += [hold_x[lane].eq(ax[lane]) for lane in range(L)]
            m.d.sync += [hold_h[lane].eq(ah[lane]) for lane in range(L)]
        with m.Elif(drain_ends):
            m.d.sync += draining.eq(0)
        with m.Elif(draining):
            m.d.sync += d.eq(d + 1)
        # the gate parameters of drain cycle d are read in the cycle before it
        with m.If(load):
            m.d.comb += g_rd.addr.eq((g2 * 4 + q2) * D)
        with m.Elif(draining):
            m.d.comb += g_rd.addr.eq((hold_g * 4 + hold_q) * D + d + 1)
        m.d.comb += g_rd.en.eq(idle | load | (draining & ~drain_ends))

        # -- the post units' pipeline: the item in each of its stages, shared by all M units ----------------
        def tag(value, name):
            reg = Signal.like(value, name=name)
            m.d.sync += reg.eq(value)
            return reg

        off = post_offsets(cfg)
        last_item = (hold_g == G - 1) & (hold_q == 3) & (d == D - 1)
        tags = [(draining, hold_q, hold_g, d, draining & last_item)]  # (valid, gate, group, drain cycle, last)
        for k in range(1, off["h"] + 1):
            prev = tags[-1]
            tags.append(tuple(tag(v, f"p{k}_{n}") for v, n in zip(prev, ("v", "q", "g", "d", "last"))))
        valid_o = lambda k: tags[k][0] & (tags[k][1] == 3)   # gate o's item, k cycles into the units
        at_act, at_update, at_cell, at_h = (tags[off[n]] for n in ("act", "update", "cell", "h"))
        # cell parameters of the item entering the norm stage: read the cycle before (two before with
        # ``pipeline`` >= 2, the word then registered)
        ahead = 2 if cfg.pipeline >= 2 else 1
        reader = tags[off["norm"] - ahead]
        with m.If(valid_o(off["norm"] - ahead)):
            m.d.comb += c_rd.addr.eq(reader[2] * D + reader[3])
        m.d.comb += c_rd.en.eq(idle | valid_o(off["norm"] - ahead))
        c_word = c_rd.data
        if cfg.pipeline >= 2:
            c_word = Signal.like(c_rd.data, name="c_word")
            with m.If(valid_o(off["norm"] - 1)):
                m.d.sync += c_word.eq(c_rd.data)

        # gate registers i, f, g of every lane, written when the activation is out, read by gate o's update
        gates = [[Signal(signed(ab), name=f"gate{qq}_{lane}") for qq in range(3)] for lane in range(L)]
        for unit in range(M):
            m.submodules[f"post{unit}"] = post = PostUnit(cfg)
            mine = [(gg, dd, lane, u) for gg, dd, mm, lane, u in mp.slots() if mm == unit]
            lanes = [lane for gg, dd, lane, u in mine if gg == 0]     # the lane of each drain cycle
            unit_at = {(gg, dd): u for gg, dd, lane, u in mine if u is not None}

            def per_drain(values, zero):  # the value of the lane this unit takes in each drain cycle
                return Array(values[lane] if lane is not None else zero for lane in lanes)

            gw = g_rd.data[unit * mp.gate_bits:(unit + 1) * mp.gate_bits]
            cw = c_word[unit * mp.cell_bits:(unit + 1) * mp.cell_bits]
            m.d.comb += [
                post.load.eq(draining), post.q.eq(hold_q),
                post.ax.eq(per_drain(hold_x, Const(0, signed(acc_x_bits)))[d]),
                post.ah.eq(per_drain(hold_h, Const(0, signed(acc_h_bits)))[d]),
                post.sx.eq(gw[:sb].as_signed()), post.sh.eq(gw[sb:2 * sb].as_signed()),
                post.b.eq(gw[2 * sb:].as_signed()),
                post.sc.eq(cw[:sb].as_signed()), post.bc.eq(cw[sb:].as_signed()),
            ]
            # gate o's i, f, g and old c: selected in the update stage, or with ``pipeline`` >= 1 the cycle
            # before and registered (gate g's activation is written a cycle earlier still: C >= 1)
            early = cfg.pipeline >= 1
            picker = tags[off["update"] - 1] if early else at_update
            ins = [per_drain([gates[lane][qq] for lane in range(L)], Const(0, signed(ab)))[picker[3]]
                   for qq in range(3)]
            c_state = Array(Mux(first, c0[unit_at[gg, dd]], cs[unit_at[gg, dd]]) if (gg, dd) in unit_at
                            else Const(0, cb) for gg in range(G) for dd in range(D))
            ins.append(c_state[picker[2] * D + picker[3]])
            if early:
                regs = [Signal.like(v, name=f"{n}_in{unit}") for v, n in zip(ins, ("i", "f", "g", "c"))]
                with m.If(valid_o(off["update"] - 1)):
                    m.d.sync += [r.eq(v) for r, v in zip(regs, ins)]
                ins = regs
            m.d.comb += [port.eq(v) for port, v in zip((post.i, post.f, post.g, post.c_old), ins)]
            act_v, act_q, _, act_d, _ = at_act
            with m.If(act_v & (act_q != 3)):
                with m.Switch(act_d):
                    for dd, lane in enumerate(lanes):
                        if lane is not None:
                            with m.Case(dd):
                                with m.Switch(act_q):
                                    for qq in range(3):
                                        with m.Case(qq):
                                            m.d.sync += gates[lane][qq].eq(post.act)
            slot = lambda item: item[2] * D + item[3]
            with m.If(valid_o(off["cell"])):
                with m.Switch(slot(at_cell)):
                    for (gg, dd), u in unit_at.items():
                        with m.Case(gg * D + dd):
                            m.d.sync += cs[u].eq(post.c_next)
            with m.If(valid_o(off["h"])):
                with m.Switch(slot(at_h)):
                    for (gg, dd), u in unit_at.items():
                        with m.Case(gg * D + dd):
                            with m.If(bank):
                                m.d.sync += hs[0][u].eq(post.h)
                            with m.Else():
                                m.d.sync += hs[1][u].eq(post.h)

        # the step ends when the last slot's h is written
        with m.If(at_h[0] & at_h[4]):
            m.d.sync += [self.busy.eq(0), self.done.eq(1), self.cycles.eq(count + 1), bank.eq(~bank),
                         first.eq(0)]
        return m
