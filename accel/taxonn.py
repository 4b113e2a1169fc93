"""TaxoNN accelerator (Amaranth), built from `models.taxonn.TaxoNNConfig`.

Inference and online-SGD training (FW, ERR, BWU, DERIV phases of the golden
model's schedule, cycle for cycle) on P shared multipliers, or, with
``multipliers="dedicated"`` (the comparison baseline), on one array of P per
phase.

Datapath: P multipliers, an adder tree and a row accumulator; per layer a
weight memory of P-weight words (P banks side by side: word ``i*C + c`` holds
``W[i, cP .. cP+P-1]``, bank p in bits ``p*w .. p*w+w-1``, zero past the row's
end), a bias memory, and activation buffers of P-activation words. The
forward pass of each layer issues one (row, chunk) per cycle and drains
`FW_DRAIN` cycles, exactly `models.taxonn.schedule`.

Pipeline of a forward issue at cycle t: t reads the weight word, the
activation word and the bias; t+1 registers the P products; t+2 adds the
adder tree into the row accumulator; t+3 (last chunk of a row) adds the bias,
requantizes, applies the activation and writes the result into the next
layer's buffer (and tracks the argmax of the output layer).

A BWU issue at cycle t reads the weight word, the activations, the bias, the
row's error and the e accumulator word; t+1 is BW (``e += W * d_i``, e written
back); t+2 is WU (gradient, shifter, weight and bias written back; the LFSR
steps). Shared multipliers issue every other cycle in layers above the first
(BW and WU need the one array in turn). Dedicated arrays issue every cycle;
then a layer whose input is one chunk reads e[0] in the cycle the previous
row's BW writes it, so the e read port is transparent to its write port
(dedicated only: shared issues never meet a write). Every other memory word
is read once per layer, and a layer's last WU write lands in the last
`BWU_DRAIN` cycle, before anything reads that memory again.

Host interface
--------------
``mem_sel``, ``mem_addr``, ``mem_wdata``, ``mem_we``: while idle, write word
``mem_addr`` of memory ``mem_sel``; ``mem_rdata`` holds the word addressed in
the previous cycle. Memories: `sel_weights(l)`, `sel_bias(l)` (l = 0..L-1),
`sel_act(l)` (l = 0 is the input buffer, l = L the outputs).
``start`` (one cycle, while idle) runs one inference on the input buffer;
``busy`` is high while it runs; ``done`` pulses for one cycle at the end;
``cycles`` then holds the cycles the run took and ``pred`` the argmax of the
outputs (first maximum). With ``train`` high at ``start``, ``label`` is the
sample's class and the step updates every weight and bias; ``checksum`` then
holds `MemoryMap.checksum` of the updated parameters (every parameter is
written exactly once per step), a per-step check for long runs. ``phase``
says what the current cycle belongs to (`PHASES`: idle, forward,
back-propagation, update), as `models.taxonn.schedule` counts it; the power
report splits energy by it.
"""

from amaranth.hdl import Module, Signal, Const, Mux, Cat, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from models.taxonn import TaxoNNConfig, FW_DRAIN, ERR_DRAIN, BWU_DRAIN, DERIV_DRAIN
from quant import RAND_BITS
from ._fixed import requantize_hw, shift_round_hw, overflow_hw, pack_lanes, unpack_lanes
from .lfsr import LFSR
from .units import Multipliers, AdderTree, PWLUnit

__all__ = ["TaxoNN", "MemoryMap", "PHASES"]

#: Values of the ``phase`` port.
PHASES = ("idle", "forward", "backprop", "update")


def _ceil_div(a, b):
    return -(-a // b)


class MemoryMap:
    """Memory selectors and word layouts of the host interface."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.L = cfg.n_layers
        self.P = cfg.pes
        self.chunks = [_ceil_div(cfg.layers[l], self.P) for l in range(self.L)]

    def sel_weights(self, l):
        return l

    def sel_bias(self, l):
        return self.L + l

    def sel_act(self, l):
        return 2 * self.L + l

    @property
    def n_mems(self):
        return 3 * self.L + 1

    def weight_words(self, l, w_codes):
        """Words of layer l's weight memory for the (n_out, n_in) code matrix."""
        bits, mask = self.cfg.w_fmt.total, (1 << self.cfg.w_fmt.total) - 1
        n_out, n_in = w_codes.shape
        words = []
        for i in range(n_out):
            for c in range(self.chunks[l]):
                word = 0
                for p in range(self.P):
                    j = c * self.P + p
                    if j < n_in:
                        word |= (int(w_codes[i, j]) & mask) << (p * bits)
                words.append(word)
        return words

    def act_words(self, codes):
        """Words of an activation buffer holding the given codes."""
        return pack_lanes(codes, self.cfg.a_fmt.total, self.P)

    def weight_codes(self, l, words):
        """Inverse of `weight_words`: the (n_out, n_in) int64 code matrix."""
        import numpy as np
        n_in, n_out = self.cfg.layers[l], self.cfg.layers[l + 1]
        fields = np.array(unpack_lanes(words, self.cfg.w_fmt.total, self.P), dtype=np.int64)
        return fields.reshape(n_out, self.chunks[l] * self.P)[:, :n_in]

    def bias_codes(self, words):
        import numpy as np
        return np.array(unpack_lanes(words, self.cfg.w_fmt.total, 1), dtype=np.int64)

    def checksum(self, params):
        """Sum mod 2**32 of the low 32 bits of every weight word and of every bias (unsigned)."""
        wmask = (1 << self.cfg.w_fmt.total) - 1
        total = 0
        for l, (w, b) in enumerate(params):
            total += sum(word & 0xFFFFFFFF for word in self.weight_words(l, w))
            total += sum(int(v) & wmask for v in b)
        return total & 0xFFFFFFFF

    def act_codes(self, words, n):
        """Signed codes from activation-buffer words."""
        return unpack_lanes(words, self.cfg.a_fmt.total, self.P)[:n]


class TaxoNN(wiring.Component):
    """The TaxoNN accelerator for one `TaxoNNConfig`: inference and online-SGD training."""

    def __init__(self, config):
        if not isinstance(config, TaxoNNConfig):
            raise TypeError(f"`config` must be a TaxoNNConfig, not {config!r}")
        self.config = config
        self.map = MemoryMap(config)
        cfg, P = config, config.pes
        depths = ([cfg.layers[l + 1] * self.map.chunks[l] for l in range(cfg.n_layers)]
                  + list(cfg.layers[1:])
                  + [_ceil_div(n, P) for n in cfg.layers])
        self.word_bits = max(P * cfg.w_fmt.total, P * cfg.a_fmt.total)
        self.addr_bits = max(1, max(depths).bit_length())
        super().__init__({
            "mem_sel": In(range(self.map.n_mems)),
            "mem_addr": In(self.addr_bits),
            "mem_wdata": In(self.word_bits),
            "mem_we": In(1),
            "mem_rdata": Out(self.word_bits),
            "start": In(1),
            "train": In(1),
            "label": In(range(max(2, cfg.layers[-1]))),
            "busy": Out(1),
            "done": Out(1),
            "cycles": Out(32),
            "pred": Out(range(max(2, cfg.layers[-1]))),
            "checksum": Out(32),
            "phase": Out(2),
        })

    def elaborate(self, platform):
        cfg, mp = self.config, self.map
        P, L = cfg.pes, cfg.n_layers
        wbits, abits, ebits = cfg.w_fmt.total, cfg.a_fmt.total, cfg.e_fmt.total
        wf, af, ef, gf = cfg.w_fmt.frac, cfg.a_fmt.frac, cfg.e_fmt.frac, cfg.g_fmt.frac
        accb = cfg.accumulator_bits
        # dedicated arrays: BW (stage 1) and WU (stage 2) of one weight read overlap, one issue per cycle
        overlap = cfg.multipliers == "dedicated"
        m = Module()

        def lanes(word, bits):
            return [word[k * bits:(k + 1) * bits].as_signed() for k in range(P)]

        # -- memories -------------------------------------------------------
        wmem = [Memory(shape=unsigned(P * wbits), depth=cfg.layers[l + 1] * mp.chunks[l], init=[])
                for l in range(L)]
        bmem = [Memory(shape=unsigned(wbits), depth=cfg.layers[l + 1], init=[]) for l in range(L)]
        amem = [Memory(shape=unsigned(P * abits), depth=_ceil_div(cfg.layers[l], P), init=[])
                for l in range(L + 1)]
        dmem = [Memory(shape=unsigned(P * ebits), depth=_ceil_div(cfg.layers[l + 1], P), init=[])
                for l in range(L)]
        emem = Memory(shape=unsigned(P * accb), depth=max([1] + mp.chunks[1:]), init=[])
        for k, mem in enumerate(wmem + bmem + amem + dmem + [emem]):
            m.submodules[f"mem{k}"] = mem
        w_rd = [mem.read_port() for mem in wmem]
        b_rd = [mem.read_port() for mem in bmem]
        a_rd = [mem.read_port() for mem in amem]
        d_rd = [mem.read_port() for mem in dmem]
        if not overlap:
            e_rd = emem.read_port()
        w_wr = [mem.write_port() for mem in wmem]
        b_wr = [mem.write_port() for mem in bmem]
        a_wr = [mem.write_port(granularity=abits) for mem in amem]
        d_wr = [mem.write_port() for mem in dmem]
        e_wr = emem.write_port()
        if overlap:
            # Issuing every cycle, a single-chunk layer input reads e[0] in the cycle the previous
            # row's BW writes it: the read must see that write.
            e_rd = emem.read_port(transparent_for=(e_wr,))

        # -- host access (while idle) ---------------------------------------
        host_rd = w_rd + b_rd + a_rd
        host_wr = w_wr + b_wr + a_wr
        host_sel_q = Signal.like(self.mem_sel)
        m.d.sync += host_sel_q.eq(self.mem_sel)
        with m.Switch(host_sel_q):
            for k, port in enumerate(host_rd):
                with m.Case(k):
                    m.d.comb += self.mem_rdata.eq(port.data)
        idle = ~self.busy
        for k, port in enumerate(host_wr):
            with m.If(idle & self.mem_we & (self.mem_sel == k)):
                m.d.comb += [port.addr.eq(self.mem_addr), port.data.eq(self.mem_wdata),
                             port.en.eq(-1)]
        with m.If(idle):
            for port in host_rd:
                m.d.comb += port.addr.eq(self.mem_addr)

        # -- multipliers: one shared array (TaxoNN) or one per phase (baseline)
        xw = max(wbits, abits, ebits)
        yw = max(abits + 1, ebits)
        arrays = {}

        def multipliers(phase):
            key = "shared" if cfg.multipliers == "shared" else phase
            if key not in arrays:
                unit = Multipliers(P, xw, yw)
                m.submodules[f"pe_{key}"] = unit
                arrays[key] = (list(unit.x), list(unit.y), list(unit.p))
            return arrays[key]

        # -- LFSR bank for the learning-rate shifter ------------------------
        rand = None
        lfsr_en = Signal()
        if cfg.rounding == "stochastic":
            m.submodules.lfsr = lfsr = LFSR(cfg.lfsr_seed, P + 1)
            m.d.comb += lfsr.en.eq(lfsr_en)
            rand = [lfsr.bits[k * RAND_BITS:(k + 1) * RAND_BITS] for k in range(P + 1)]

        # -- controller -----------------------------------------------------
        lay = Signal(range(max(2, L)))
        row = Signal(range(max(cfg.layers) + 1))
        chunk = Signal(range(max(mp.chunks + [_ceil_div(n, P) for n in cfg.layers]) + 1))
        waddr = Signal(self.addr_bits)
        drain = Signal(range(max(FW_DRAIN, ERR_DRAIN, BWU_DRAIN, DERIV_DRAIN) + 1))
        slot = Signal()      # second cycle of a two-cycle issue (BW+WU, sigmoid DERIV)
        count = Signal(32)
        training = Signal()
        label = Signal.like(self.label)
        n_out, n_chunks, n_in_chunks = Signal.like(row), Signal.like(chunk), Signal.like(chunk)
        with m.Switch(lay):
            for l in range(L):
                with m.Case(l):
                    m.d.comb += [n_out.eq(cfg.layers[l + 1]), n_chunks.eq(mp.chunks[l]),
                                 n_in_chunks.eq(_ceil_div(cfg.layers[l], P))]
        out_chunks = _ceil_div(cfg.layers[-1], P)
        two_cycle_deriv = cfg.hidden_activation == "sigmoid"

        fw_issue, err_issue, bwu_issue, der_issue = Signal(), Signal(), Signal(), Signal()
        first, last = Signal(), Signal()
        m.d.comb += [first.eq(chunk == 0), last.eq(chunk == n_chunks - 1)]
        m.d.sync += self.done.eq(0)
        with m.If(self.busy):
            m.d.sync += count.eq(count + 1)

        def finish():
            m.d.sync += [self.busy.eq(0), self.done.eq(1), self.cycles.eq(count + 1)]
            m.next = "IDLE"

        def begin_layer(l, state):
            m.d.sync += [lay.eq(l), row.eq(0), chunk.eq(0), waddr.eq(0), slot.eq(0)]
            m.next = state

        def next_weight_word(drain_cycles, drain_state):
            """Step to the next (row, chunk) of the layer's weights; drain after the last row."""
            m.d.sync += waddr.eq(waddr + 1)
            with m.If(last):
                m.d.sync += [chunk.eq(0), row.eq(row + 1)]
                with m.If(row == n_out - 1):
                    m.d.sync += drain.eq(drain_cycles - 1)
                    m.next = drain_state
            with m.Else():
                m.d.sync += chunk.eq(chunk + 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.busy.eq(1), count.eq(0), training.eq(self.train),
                                 label.eq(self.label), self.checksum.eq(0)]
                    begin_layer(0, "FW")
            with m.State("FW"):
                m.d.comb += [fw_issue.eq(1), self.phase.eq(1)]
                next_weight_word(FW_DRAIN, "FW_DRAIN")
            with m.State("FW_DRAIN"):
                m.d.comb += self.phase.eq(1)
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 0):
                    with m.If(lay != L - 1):
                        begin_layer(lay + 1, "FW")
                    with m.Elif(training):
                        m.d.sync += chunk.eq(0)
                        m.next = "ERR"
                    with m.Else():
                        finish()
            with m.State("ERR"):
                m.d.comb += [err_issue.eq(1), self.phase.eq(2)]
                m.d.sync += chunk.eq(chunk + 1)
                with m.If(chunk == out_chunks - 1):
                    m.d.sync += drain.eq(ERR_DRAIN - 1)
                    m.next = "ERR_DRAIN"
            with m.State("ERR_DRAIN"):
                m.d.comb += self.phase.eq(2)
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 0):
                    begin_layer(L - 1, "BWU")
            with m.State("BWU"):
                if overlap:
                    # dedicated arrays: one (row, chunk) per cycle, BW and WU overlapped (update cycles)
                    m.d.comb += [bwu_issue.eq(1), self.phase.eq(3)]
                    next_weight_word(BWU_DRAIN, "BWU_DRAIN")
                else:
                    # shared multipliers, layers above the first: a BW slot then a WU slot per (row, chunk)
                    with m.If((lay == 0) | slot):
                        m.d.comb += [bwu_issue.eq(lay == 0), self.phase.eq(3)]
                        m.d.sync += slot.eq(0)
                        next_weight_word(BWU_DRAIN, "BWU_DRAIN")
                    with m.Else():
                        m.d.comb += [bwu_issue.eq(1), self.phase.eq(2)]
                        m.d.sync += slot.eq(1)
            with m.State("BWU_DRAIN"):
                m.d.comb += self.phase.eq(3)
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 0):
                    with m.If(lay == 0):
                        finish()
                    with m.Else():
                        m.d.sync += [chunk.eq(0), slot.eq(0)]
                        m.next = "DERIV"
            with m.State("DERIV"):
                m.d.comb += self.phase.eq(2)
                if two_cycle_deriv:
                    m.d.sync += slot.eq(~slot)
                    m.d.comb += der_issue.eq(~slot)
                    advance = slot
                else:
                    m.d.comb += der_issue.eq(1)
                    advance = Const(1)
                with m.If(advance):
                    m.d.sync += chunk.eq(chunk + 1)
                    with m.If(chunk == n_in_chunks - 1):
                        m.d.sync += drain.eq(DERIV_DRAIN - 1)
                        m.next = "DERIV_DRAIN"
            with m.State("DERIV_DRAIN"):
                m.d.comb += self.phase.eq(2)
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 0):
                    begin_layer(lay - 1, "BWU")

        # read enables: a memory is read only in the cycles that use it (and by the host while idle)
        reading = fw_issue | bwu_issue
        for l in range(L):
            here = lay == l
            m.d.comb += [w_rd[l].en.eq(idle | (reading & here)), b_rd[l].en.eq(idle | (reading & here)),
                         a_rd[l].en.eq(idle | ((reading | der_issue) & here)), d_rd[l].en.eq(bwu_issue & here)]
        m.d.comb += [a_rd[L].en.eq(idle | err_issue), e_rd.en.eq(bwu_issue | der_issue)]

        # read addresses by phase (the FSM's issue signals)
        with m.If(fw_issue):
            for l in range(L):
                m.d.comb += [w_rd[l].addr.eq(waddr), a_rd[l].addr.eq(chunk), b_rd[l].addr.eq(row)]
        with m.If(err_issue):
            m.d.comb += a_rd[L].addr.eq(chunk)
        with m.If(bwu_issue):
            for l in range(L):
                m.d.comb += [w_rd[l].addr.eq(waddr), a_rd[l].addr.eq(chunk), b_rd[l].addr.eq(row),
                             d_rd[l].addr.eq(row // P)]
            m.d.comb += e_rd.addr.eq(chunk)
        with m.If(der_issue):
            m.d.comb += e_rd.addr.eq(chunk)
            for l in range(L):
                m.d.comb += a_rd[l].addr.eq(chunk)

        # stage-1 tags shared by the phases
        row1, lay1, chunk1 = Signal.like(row), Signal.like(lay), Signal.like(chunk)
        first1, last1 = Signal(), Signal()
        m.d.sync += [row1.eq(row), lay1.eq(lay), chunk1.eq(chunk), first1.eq(first), last1.eq(last)]
        w_word, a_word, bias = Signal(P * wbits), Signal(P * abits), Signal(signed(wbits))
        d_word = Signal(P * ebits)
        with m.Switch(lay1):
            for l in range(L):
                with m.Case(l):
                    m.d.comb += [w_word.eq(w_rd[l].data), a_word.eq(a_rd[l].data),
                                 bias.eq(b_rd[l].data), d_word.eq(d_rd[l].data)]
        w_lanes, a_lanes = lanes(w_word, wbits), lanes(a_word, abits)

        # -- FW: products, adder tree + accumulator, bias/requantize/activation
        fw1 = Signal()
        m.d.sync += fw1.eq(fw_issue)
        fw_prods = [Signal(signed(wbits + abits), name=f"fwp{k}") for k in range(P)]
        mx, my, prod = multipliers("fw")
        with m.If(fw1):
            for k in range(P):
                m.d.comb += [mx[k].eq(w_lanes[k]), my[k].eq(a_lanes[k])]
        for k in range(P):
            m.d.sync += fw_prods[k].eq(prod[k])
        v2, first2, last2, row2, lay2 = Signal(), Signal(), Signal(), Signal.like(row), Signal.like(lay)
        bias2 = Signal(signed(wbits))
        m.d.sync += [v2.eq(fw1), first2.eq(first1), last2.eq(last1), row2.eq(row1), lay2.eq(lay1),
                     bias2.eq(bias)]
        acc = Signal(signed(accb))
        m.submodules.adder_tree = tree = AdderTree(P, wbits + abits)
        m.d.comb += [tree.x[k].eq(fw_prods[k]) for k in range(P)]
        v3, row3, lay3, bias3 = Signal(), Signal.like(row), Signal.like(lay), Signal(signed(wbits))
        with m.If(v2):
            m.d.sync += acc.eq(Mux(first2, 0, acc) + tree.y)
        m.d.sync += [v3.eq(v2 & last2), row3.eq(row2), lay3.eq(lay2), bias3.eq(bias2)]
        z = Signal(signed(abits))
        m.d.comb += z.eq(requantize_hw(acc + (bias3 << af), wf + af, cfg.a_fmt, "nearest", "saturate"))
        hidden = self._activation(m, z, cfg.hidden_activation, "hidden")
        output = self._activation(m, z, cfg.output, "output")
        result = Signal(signed(abits))
        m.d.comb += result.eq(Mux(lay3 == L - 1, output, hidden))
        with m.If(v3):
            with m.Switch(lay3):
                for l in range(L):
                    with m.Case(l):
                        port = a_wr[l + 1]
                        m.d.comb += [port.addr.eq(row3 // P), port.data.eq(result.replicate(P)),
                                     port.en.eq(1 << (row3 % P))]
        best = Signal(signed(abits))
        with m.If(v3 & (lay3 == L - 1)):
            with m.If((row3 == 0) | (result > best)):
                m.d.sync += [best.eq(result), self.pred.eq(row3)]

        # -- ERR: d_L = rq(a_L - onehot(label)) -------------------------------
        err1 = Signal()
        m.d.sync += err1.eq(err_issue)
        with m.If(err1):
            out_lanes = lanes(a_rd[L].data, abits)
            d_vals = []
            for k in range(P):
                target = Mux(chunk1 * P + k == label, 1 << af, 0)
                d_vals.append(requantize_hw(out_lanes[k] - target, af, cfg.e_fmt, "nearest", "saturate"))
            m.d.comb += [d_wr[L - 1].addr.eq(chunk1), d_wr[L - 1].data.eq(Cat(*d_vals)),
                         d_wr[L - 1].en.eq(1)]

        # -- BWU: BW at stage 1, WU at stage 2 ---------------------------------
        bwu1 = Signal()
        m.d.sync += bwu1.eq(bwu_issue)
        d_row = Signal(signed(ebits))
        d_cur = Signal(signed(ebits))
        d_sel = Signal(signed(ebits))
        with m.Switch(row1 % P):
            for k in range(P):
                with m.Case(k):
                    m.d.comb += d_sel.eq(lanes(d_word, ebits)[k])
        m.d.comb += d_cur.eq(Mux(first1, d_sel, d_row))
        with m.If(bwu1 & first1):
            m.d.sync += d_row.eq(d_sel)
        mx, my, prod = multipliers("bw")
        with m.If(bwu1 & (lay1 != 0)):  # BW: e[cP+k] += W[i, cP+k] * d_i
            e_old = lanes(e_rd.data, accb)
            e_new = []
            for k in range(P):
                m.d.comb += [mx[k].eq(w_lanes[k]), my[k].eq(d_cur)]
                e_new.append((Mux(row1 == 0, 0, e_old[k]) + prod[k])[:accb])
            m.d.comb += [e_wr.addr.eq(chunk1), e_wr.data.eq(Cat(*e_new)), e_wr.en.eq(1)]
        wu2, first2w, lay2w = Signal(), Signal(), Signal.like(lay)
        waddr2, row2w = Signal.like(waddr), Signal.like(row)
        w2, a2, d2, b2 = Signal(P * wbits), Signal(P * abits), Signal(signed(ebits)), Signal(signed(wbits))
        waddr1 = Signal.like(waddr)
        m.d.sync += waddr1.eq(waddr)
        m.d.sync += [wu2.eq(bwu1), first2w.eq(first1), lay2w.eq(lay1), waddr2.eq(waddr1),
                     row2w.eq(row1), w2.eq(w_word), a2.eq(a_word), d2.eq(d_cur), b2.eq(bias)]
        shift = gf + cfg.lr_shift - wf
        mx, my, prod = multipliers("wu")
        with m.If(wu2):
            m.d.comb += lfsr_en.eq(1)
            new_w = []
            for k, (w_old, a_k) in enumerate(zip(lanes(w2, wbits), lanes(a2, abits))):
                m.d.comb += [mx[k].eq(d2), my[k].eq(a_k)]
                g = requantize_hw(prod[k], ef + af, cfg.g_fmt, "nearest", "saturate")
                delta = shift_round_hw(g, shift, cfg.rounding, rand[k] if rand else None)
                new_w.append(overflow_hw(w_old - delta, cfg.w_fmt, "saturate"))
            gb = requantize_hw(d2, ef, cfg.g_fmt, "nearest", "saturate")
            delta_b = shift_round_hw(gb, shift, cfg.rounding, rand[P] if rand else None)
            new_b = overflow_hw(b2 - delta_b, cfg.w_fmt, "saturate")
            w_new_word = Cat(*new_w)
            b_new_bits = Signal(wbits)
            m.d.comb += b_new_bits.eq(new_b)
            m.d.sync += self.checksum.eq(self.checksum + w_new_word[:32] + Mux(first2w, b_new_bits, 0))
            with m.Switch(lay2w):
                for l in range(L):
                    with m.Case(l):
                        m.d.comb += [w_wr[l].addr.eq(waddr2), w_wr[l].data.eq(w_new_word),
                                     w_wr[l].en.eq(1)]
                        with m.If(first2w):
                            m.d.comb += [b_wr[l].addr.eq(row2w), b_wr[l].data.eq(new_b),
                                         b_wr[l].en.eq(1)]

        # -- DERIV: d_{l-1} = rq(e) * f'(z) ------------------------------------
        der1 = Signal()
        m.d.sync += der1.eq(der_issue)
        e_q = [requantize_hw(v, wf + ef, cfg.e_fmt, "nearest", "saturate") for v in lanes(e_rd.data, accb)]
        if not two_cycle_deriv:
            with m.If(der1):
                d_vals = [Mux(a_lanes[k] > 0, e_q[k], 0) for k in range(P)]
                self._write_d(m, d_wr, lay1, chunk1, d_vals)
        else:
            der2, lay2d, chunk2d = Signal(), Signal.like(lay), Signal.like(chunk)
            eq2 = [Signal(signed(ebits), name=f"eq{k}") for k in range(P)]
            p2 = [Signal(signed(abits), name=f"dp{k}") for k in range(P)]
            m.d.sync += [der2.eq(der1), lay2d.eq(lay1), chunk2d.eq(chunk1)]
            mx, my, prod = multipliers("deriv")
            with m.If(der1):  # p = rq(a (1 - a))
                for k in range(P):
                    m.d.comb += [mx[k].eq(a_lanes[k]), my[k].eq((1 << af) - a_lanes[k])]
                    m.d.sync += [p2[k].eq(requantize_hw(prod[k], 2 * af, cfg.a_fmt, "nearest", "saturate")),
                                 eq2[k].eq(e_q[k])]
            with m.If(der2):  # d = rq(e p)
                d_vals = []
                for k in range(P):
                    m.d.comb += [mx[k].eq(eq2[k]), my[k].eq(p2[k])]
                    d_vals.append(requantize_hw(prod[k], ef + af, cfg.e_fmt, "nearest", "saturate"))
                self._write_d(m, d_wr, lay2d, chunk2d, d_vals)
        return m

    def _write_d(self, m, d_wr, lay, chunk, values):
        """Write the d chunk of the layer below ``lay`` (DERIV runs with ``lay`` the upper layer)."""
        with m.Switch(lay):
            for l in range(1, self.config.n_layers):
                with m.Case(l):
                    m.d.comb += [d_wr[l - 1].addr.eq(chunk), d_wr[l - 1].data.eq(Cat(*values)),
                                 d_wr[l - 1].en.eq(1)]

    def _activation(self, m, z, kind, name):
        if kind == "relu":
            return Mux(z > 0, z, 0)
        if kind == "linear":
            return z
        unit = PWLUnit(self.config.sigmoid)
        m.submodules[f"act_{name}"] = unit
        m.d.comb += unit.x.eq(z)
        return unit.y
