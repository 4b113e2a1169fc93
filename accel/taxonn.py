"""TaxoNN accelerator (Amaranth), built from `models.taxonn.TaxoNNConfig`.

This revision implements the inference datapath and the host interface; the
training phases (ERR, BWU, DERIV) of the golden model's schedule come next.

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

Host interface
--------------
``mem_sel``, ``mem_addr``, ``mem_wdata``, ``mem_we``: while idle, write word
``mem_addr`` of memory ``mem_sel``; ``mem_rdata`` holds the word addressed in
the previous cycle. Memories: `sel_weights(l)`, `sel_bias(l)` (l = 0..L-1),
`sel_act(l)` (l = 0 is the input buffer, l = L the outputs).
``start`` (one cycle, while idle) runs one inference on the input buffer;
``busy`` is high while it runs; ``done`` pulses for one cycle at the end;
``cycles`` then holds the cycles the run took and ``pred`` the argmax of the
outputs (first maximum).
"""

from amaranth.hdl import Module, Signal, Const, Mux, Cat, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from models.taxonn import TaxoNNConfig, FW_DRAIN
from ._fixed import requantize_hw
from .ternary_dot import adder_tree

__all__ = ["TaxoNN", "MemoryMap"]


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
        bits, mask = self.cfg.a_fmt.total, (1 << self.cfg.a_fmt.total) - 1
        words = []
        for c in range(_ceil_div(len(codes), self.P)):
            word = 0
            for p, v in enumerate(codes[c * self.P:(c + 1) * self.P]):
                word |= (int(v) & mask) << (p * bits)
            words.append(word)
        return words

    def act_codes(self, words, n):
        """Signed codes from activation-buffer words."""
        bits = self.cfg.a_fmt.total
        out = []
        for word in words:
            for p in range(self.P):
                v = (word >> (p * bits)) & ((1 << bits) - 1)
                out.append(v - (1 << bits) if v >> (bits - 1) else v)
        return out[:n]


class TaxoNN(wiring.Component):
    """The TaxoNN accelerator for one `TaxoNNConfig` (inference datapath)."""

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
            "busy": Out(1),
            "done": Out(1),
            "cycles": Out(32),
            "pred": Out(range(max(2, cfg.layers[-1]))),
        })

    def elaborate(self, platform):
        cfg, mp = self.config, self.map
        P, L = cfg.pes, cfg.n_layers
        wbits, abits = cfg.w_fmt.total, cfg.a_fmt.total
        wf, af = cfg.w_fmt.frac, cfg.a_fmt.frac
        m = Module()

        # -- memories -------------------------------------------------------
        wmem, bmem, amem = [], [], []
        for l in range(L):
            wmem.append(Memory(shape=unsigned(P * wbits), depth=cfg.layers[l + 1] * mp.chunks[l], init=[]))
            bmem.append(Memory(shape=unsigned(wbits), depth=cfg.layers[l + 1], init=[]))
        for l in range(L + 1):
            amem.append(Memory(shape=unsigned(P * abits), depth=_ceil_div(cfg.layers[l], P), init=[]))
        for k, mem in enumerate(wmem + bmem + amem):
            m.submodules[f"mem{k}"] = mem
        w_rd = [mem.read_port() for mem in wmem]
        b_rd = [mem.read_port() for mem in bmem]
        a_rd = [mem.read_port() for mem in amem]
        w_wr = [mem.write_port() for mem in wmem]
        b_wr = [mem.write_port() for mem in bmem]
        a_wr = [mem.write_port(granularity=abits) for mem in amem]

        # -- host access (while idle) ---------------------------------------
        rd_ports = w_rd + b_rd + a_rd
        wr_ports = w_wr + b_wr + a_wr
        host_sel_q = Signal.like(self.mem_sel)
        m.d.sync += host_sel_q.eq(self.mem_sel)
        with m.Switch(host_sel_q):
            for k, port in enumerate(rd_ports):
                with m.Case(k):
                    m.d.comb += self.mem_rdata.eq(port.data)
        idle = ~self.busy
        for k, port in enumerate(wr_ports):
            with m.If(idle & self.mem_we & (self.mem_sel == k)):
                m.d.comb += [port.addr.eq(self.mem_addr), port.data.eq(self.mem_wdata),
                             port.en.eq(-1)]
        with m.If(idle):
            for port in rd_ports:
                m.d.comb += port.addr.eq(self.mem_addr)

        # -- controller -----------------------------------------------------
        lay = Signal(range(max(2, L)))
        row = Signal(range(max(cfg.layers) + 1))
        chunk = Signal(range(max(mp.chunks) + 1))
        waddr = Signal(self.addr_bits)
        drain = Signal(range(FW_DRAIN + 1))
        count = Signal(32)
        n_out = Signal.like(row)
        n_chunks = Signal.like(chunk)
        with m.Switch(lay):
            for l in range(L):
                with m.Case(l):
                    m.d.comb += [n_out.eq(cfg.layers[l + 1]), n_chunks.eq(mp.chunks[l])]

        issue = Signal()
        first, last = Signal(), Signal()
        m.d.comb += [first.eq(chunk == 0), last.eq(chunk == n_chunks - 1)]
        m.d.sync += self.done.eq(0)
        with m.If(self.busy):
            m.d.sync += count.eq(count + 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.busy.eq(1), count.eq(0), lay.eq(0), row.eq(0), chunk.eq(0),
                                 waddr.eq(0)]
                    m.next = "FW"
            with m.State("FW"):
                m.d.comb += issue.eq(1)
                m.d.sync += waddr.eq(waddr + 1)
                with m.If(last):
                    m.d.sync += [chunk.eq(0), row.eq(row + 1)]
                    with m.If(row == n_out - 1):
                        m.d.sync += drain.eq(FW_DRAIN - 1)
                        m.next = "FW_DRAIN"
                with m.Else():
                    m.d.sync += chunk.eq(chunk + 1)
            with m.State("FW_DRAIN"):
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 0):
                    with m.If(lay == L - 1):
                        m.d.sync += [self.busy.eq(0), self.done.eq(1), self.cycles.eq(count + 1)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [lay.eq(lay + 1), row.eq(0), chunk.eq(0), waddr.eq(0)]
                        m.next = "FW"

        with m.If(self.busy):
            for l in range(L):
                m.d.comb += [w_rd[l].addr.eq(waddr), a_rd[l].addr.eq(chunk), b_rd[l].addr.eq(row)]

        # -- pipeline -------------------------------------------------------
        # stage 1: memory data -> products
        v1, first1, last1, row1, lay1 = Signal(), Signal(), Signal(), Signal.like(row), Signal.like(lay)
        m.d.sync += [v1.eq(issue), first1.eq(first), last1.eq(last), row1.eq(row), lay1.eq(lay)]
        w_word, a_word, bias = Signal(P * wbits), Signal(P * abits), Signal(signed(wbits))
        with m.Switch(lay1):
            for l in range(L):
                with m.Case(l):
                    m.d.comb += [w_word.eq(w_rd[l].data), a_word.eq(a_rd[l].data),
                                 bias.eq(b_rd[l].data)]
        prod_shape = signed(wbits + abits)
        prods = [Signal(prod_shape, name=f"prod{p}") for p in range(P)]
        v2, first2, last2, row2, lay2 = Signal(), Signal(), Signal(), Signal.like(row), Signal.like(lay)
        bias2 = Signal(signed(wbits))
        m.d.sync += [v2.eq(v1), first2.eq(first1), last2.eq(last1), row2.eq(row1), lay2.eq(lay1),
                     bias2.eq(bias)]
        for p in range(P):
            w = w_word[p * wbits:(p + 1) * wbits].as_signed()
            a = a_word[p * abits:(p + 1) * abits].as_signed()
            m.d.sync += prods[p].eq(w * a)

        # stage 2: adder tree into the row accumulator
        acc = Signal(signed(cfg.accumulator_bits))
        v3, row3, lay3, bias3 = Signal(), Signal.like(row), Signal.like(lay), Signal(signed(wbits))
        with m.If(v2):
            m.d.sync += acc.eq(Mux(first2, 0, acc) + adder_tree(prods))
        m.d.sync += [v3.eq(v2 & last2), row3.eq(row2), lay3.eq(lay2), bias3.eq(bias2)]

        # stage 3: bias, requantize, activation, write-back, argmax
        total = acc + (bias3 << af)
        z = requantize_hw(total, wf + af, cfg.a_fmt, "nearest", "saturate")
        z_sig = Signal(signed(abits))
        m.d.comb += z_sig.eq(z)
        hidden = self._activation(m, z_sig, cfg.hidden_activation, "hidden")
        output = self._activation(m, z_sig, cfg.output, "output")
        result = Signal(signed(abits))
        m.d.comb += result.eq(Mux(lay3 == L - 1, output, hidden))
        lane = Signal(range(P))
        word = Signal(range(max(2, _ceil_div(max(cfg.layers), P))))
        m.d.comb += [lane.eq(row3 % P), word.eq(row3 // P)]
        with m.If(v3):
            with m.Switch(lay3):
                for l in range(L):
                    with m.Case(l):
                        port = a_wr[l + 1]
                        m.d.comb += [port.addr.eq(word), port.data.eq(result.replicate(P)),
                                     port.en.eq(1 << lane)]
        best = Signal(signed(abits))
        with m.If(v3 & (lay3 == L - 1)):
            with m.If((row3 == 0) | (result > best)):
                m.d.sync += [best.eq(result), self.pred.eq(row3)]
        return m

    def _activation(self, m, z, kind, name):
        cfg = self.config
        if kind == "relu":
            return Mux(z > 0, z, 0)
        if kind == "linear":
            return z
        unit = _CombPWL(cfg.sigmoid)
        m.submodules[f"sigmoid_{name}"] = unit
        m.d.comb += unit.x.eq(z)
        return unit.y


class _CombPWL(wiring.Component):
    """Combinational quant.PWLActivation (the ActivationUnit without its output register)."""

    def __init__(self, pwl):
        from ._fixed import shape_of
        self.pwl = pwl
        super().__init__({"x": In(shape_of(pwl.in_fmt)), "y": Out(shape_of(pwl.out_fmt))})

    def elaborate(self, platform):
        from .activation import pwl_hw
        m = Module()
        m.d.comb += self.y.eq(pwl_hw(m, self.pwl, self.x))
        return m
