"""Gate-level activity at compiled speed: the mapped netlist under Verilator, toggles counted in C++.

`NativeNetlist` turns a `rtl.synth.Synthesis` into a shared library: the simulation netlist with every
standard cell computed in place (`Synthesis.write_sim_netlist(inline_cells=True)`), a wrapper module that
exposes every net of every module instance on one wide ``bitforge_probe`` output (hierarchical
references, so the netlist itself is unchanged) and feeds the netlist's inputs from registers the harness
loads after the host sets them, and a small C++ harness (`_HARNESS`) that Python drives through ctypes.
The build is cached by the hash of everything that goes into it.

The harness keeps the zero-delay semantics of `ppa.activity` exactly as `ppa.power.analyze_vcd` applies
them to a VCD, so the two simulators give the same count for every net (a test checks it):

- time advances in half periods (`HALF_PS`); the clock is low in the first time step, t = 0 (as in
  `sim.tb.clock_and_reset`), and every later step alternates rising, falling;
- inputs change only in falling steps, before the step settles (the drivers of `sim.drivers` write
  after a falling edge, as the cocotb testbenches do);
- a step's settled values are the probe after ``eval()``; a toggle is a bit whose settled value differs
  from the previous step's (values at t = 0 are the baseline: every net is known from the first step,
  flops and memories starting at zero, every host input driven before the first edge);
- the first rising step starts counting cycles; every later one closes a cycle: its energy per block,
  and the values the edge samples of the watched bits (``busy``, ``phase``, memory enables), become one row;
- per net: toggles and the time spent at 1 (T1), for SAIF.

`NativeHost` is the host interface of `sim.drivers` on a loaded netlist; `native_activity` runs a driver on
it and returns the same `ppa.power.Activity` that `analyze_vcd` returns for a VCD.
"""

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from quant.errors import VerificationError
from quant.fsio import default_build_root
from rtl.synth import module_nets, verilog_identifier
from .activity import BitActivity, SignalActivity, SwitchingActivity, VcdVar
from .power import Activity, busy_runs, net_energies

__all__ = ["NativeNetlist", "NativeHost", "native_activity", "HALF_PS", "VERILATOR_OPTIONS"]

#: half a clock period in picoseconds: the time base of T0/T1 (the cocotb testbenches' 10 ns clock)
HALF_PS = 5000
#: what Verilator is asked for. Measured on a 28k-net sky130 LSTM netlist (2 cores): Verilator's DFG
#: optimizer doubles its own time (56 s against 25 s) for no run-time gain on a mapped netlist; the
#: model's C++ at -O1 builds as fast as at -O0 (54 s against 72 s, smaller functions) and runs twice as
#: fast (5.1k against 2.4k cycles/s); functions split at 500 statements keep gcc linear
VERILATOR_OPTIONS = ["-O3", "-fno-dfg", "--x-assign", "0", "--x-initial", "0", "--output-split", "20000",
                     "--output-split-cfuncs", "500"]
#: make variables of the model's C++ build: run-time code at -O1, the once-only initialization at -O0
CXX_MAKE = ["OPT_FAST=-O1", "OPT_SLOW=-O0", "OPT_GLOBAL=-O1"]
_VERSION = 4  # bumped when the harness or the netlist rendering changes


def _verilator_env():
    """``(executable, environment)`` of a Verilator build (`sim.runner.verilator_env` on top of this process's
    environment, which stays untouched), with the compiler optimization of `CXX_MAKE`."""
    from sim.runner import verilator_env
    exe, overlay = verilator_env(make=CXX_MAKE)
    env = dict(os.environ)
    for name, value in overlay.items():
        env[name] = os.pathsep.join([value, env.get("PATH", "")]) if name == "PATH" else value
    return exe, env


class NativeNetlist:
    """A synthesized netlist built under Verilator with the toggle-counting harness, loaded.

    ``probe``: ``[(instance path, net bit)]`` in probe order; ``inputs``/``outputs``: the top ports
    ``{name: width}``; ``build_s``: seconds the build took (0 when it came from the cache)."""

    def __init__(self, synth, *, build_root=None, progress=None):
        say = progress or (lambda message: None)
        self.synth = synth
        top = synth.modules[synth.top]
        self.ports = top["ports"]
        self.inputs = {p: len(i["bits"]) for p, i in self.ports.items() if i["direction"] == "input" and p != "clk"}
        self.outputs = {p: len(i["bits"]) for p, i in self.ports.items() if i["direction"] == "output"}
        if "clk" not in self.ports:
            raise ValueError(f"the netlist of {synth.top} has no clk input; the compiled simulator needs one")
        self.probe = [(path, b) for path, module in synth.instances() for b in sorted(module_nets(synth.modules[module]))]
        self.index = {key: i for i, key in enumerate(self.probe)}
        self.words = max(3, -(-len(self.probe) // 32))       # at least 65 bits: Verilator makes it a VlWide
        netlist_dir = Path(build_root or default_build_root()) / "gate-native" / "src"
        work = netlist_dir.parent
        text = self._sources(work / "tmp-src")
        harness = self._harness()
        exe, env = _verilator_env()
        version = subprocess.run([exe, "--version"], capture_output=True, text=True, env=env).stdout.strip()
        key = hashlib.sha256(json.dumps([_VERSION, version, VERILATOR_OPTIONS, CXX_MAKE, text, harness]).encode())
        self.build_dir = work / key.hexdigest()[:16]
        self.library_path = self.build_dir / "libgl.so"
        self.build_s = 0.0
        if not self.library_path.is_file():
            say(f"building the netlist under Verilator ({len(self.probe):,} nets): cached for the next run")
            t0 = time.monotonic()
            self._build(text, harness, exe, env)
            self.build_s = time.monotonic() - t0
        shutil.rmtree(work / "tmp-src", ignore_errors=True)
        self.lib = ctypes.CDLL(str(self.library_path))
        self.lib.bf_new.restype = ctypes.c_void_p
        self.lib.bf_new.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        for name in ("bf_set", "bf_get"):
            getattr(self.lib, name).argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        for name in ("bf_fall", "bf_finish", "bf_free"):
            getattr(self.lib, name).argtypes = [ctypes.c_void_p]
        self.lib.bf_rows.restype = ctypes.c_uint64
        self.lib.bf_rows.argtypes = [ctypes.c_void_p]
        self.lib.bf_now.restype = ctypes.c_uint64
        self.lib.bf_now.argtypes = [ctypes.c_void_p]
        self.lib.bf_results.argtypes = [ctypes.c_void_p] + [ctypes.c_void_p] * 4

    # -- sources ---------------------------------------------------------------------------
    def _sources(self, directory):
        """The Verilog text the build compiles (netlist, memory model, wrapper), one string."""
        paths = self.synth.write_sim_netlist(directory, inline_cells=True)
        parts = [p.read_text() for p in paths]
        lines = ["module bitforge_gl (clk, bitforge_capture, "
                 + ", ".join(verilog_identifier(p) for p in self.ports if p != "clk") + ", bitforge_probe);",
                 "  input clk;", "  input bitforge_capture;"]
        conns, captured = [], []
        for p, info in self.ports.items():
            width = len(info["bits"])
            rng = f" [{width - 1}:0]" if width > 1 else ""
            name = verilog_identifier(p)
            if p != "clk":
                lines.append(f"  {info['direction']}{rng} {name};")
            if p != "clk" and info["direction"] == "input":
                lines.append(f"  reg{rng} {verilog_identifier('bitforge_q_' + p)};")
                captured.append(name)
                conns.append(f".{name}({verilog_identifier('bitforge_q_' + p)})")
            else:
                conns.append(f".{name}({name})")
        lines.append(f"  output [{self.words * 32 - 1}:0] bitforge_probe;")
        lines.append(f"  {verilog_identifier(self.synth.top)} dut ({', '.join(conns)});")
        refs = [".".join(("dut",) + path + (f"n{b}",)) for path, b in self.probe]
        refs += ["1'b0"] * (self.words * 32 - len(refs))
        for w in range(self.words):
            chunk = refs[w * 32:(w + 1) * 32]
            lines.append(f"  assign bitforge_probe[{w * 32 + 31}:{w * 32}] = {{{', '.join(reversed(chunk))}}};")
        # the host's inputs reach the netlist through registers loaded on either edge of bitforge_capture,
        # which the harness toggles before an eval when an input changed: the same settled values, but no
        # logic depends on a top input, so Verilator builds no input-combinational copy of the logic that
        # the inputs reach (a quarter less C++ to compile: 46 s -> 37 s for the 26.7k-net TaxoNN netlist)
        lines.append("  always @(posedge bitforge_capture or negedge bitforge_capture) begin")
        lines += [f"    {verilog_identifier('bitforge_q_' + n)} <= {n};" for n in captured]
        lines += ["  end", "endmodule"]
        parts.append("\n".join(lines) + "\n")
        return "\n".join(parts)

    def _harness(self):
        sets, gets = [], []
        for k, (name, width) in enumerate(self.inputs.items()):
            sets.append(f"    case {k}: {_assign_port('s->top->' + verilog_identifier(name), width)} break;")
        for k, (name, width) in enumerate(self.outputs.items()):
            gets.append(f"    case {k}: {_read_port('s->top->' + verilog_identifier(name), width)} break;")
        return (_HARNESS.replace("@WORDS@", str(self.words)).replace("@HALF@", str(HALF_PS))
                .replace("@SETS@", "\n".join(sets)).replace("@GETS@", "\n".join(gets)))

    def _build(self, text, harness, exe, env):
        tmp = self.build_dir.with_name(self.build_dir.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / "gl.v").write_text(text)
        (tmp / "harness.cpp").write_text(harness)
        # `--build -j 2` groups the split C++ into a few large translation units (--output-groups). On a
        # 218k-net netlist (2 cores, busy) its two run-time groups compiled in 8 minutes; one unit per split
        # file instead (422 of them, each loading the 160 MB precompiled header of the model's members) ran
        # at 20 units a minute: about 20 minutes
        argv = [exe, "--cc", "--exe", "--build", "-j", str(min(2, os.cpu_count() or 1)), "--top-module",
                "bitforge_gl", "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN", *VERILATOR_OPTIONS,
                "-CFLAGS", "-fPIC", "-LDFLAGS", "-shared", "-o", "libgl.so", "-Mdir", "obj",
                "gl.v", "harness.cpp"]
        proc = subprocess.run(argv, cwd=tmp, capture_output=True, text=True, env=env)
        (tmp / "build.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
            first = next((line for line in lines if "error" in line.lower()), lines[-1] if lines else "")
            raise RuntimeError(f"Verilator build of the {self.synth.top} netlist failed (log {tmp / 'build.log'}): "
                               f"{first.strip()[:300]}")
        shutil.move(str(tmp / "obj" / "libgl.so"), str(tmp / "libgl.so"))
        shutil.rmtree(tmp / "obj", ignore_errors=True)           # hundreds of MB of objects for a large netlist
        shutil.rmtree(self.build_dir, ignore_errors=True)
        os.replace(tmp, self.build_dir)


def _assign_port(target, width):
    if width <= 32:
        return f"{target} = w[0];"
    if width <= 64:
        return f"{target} = (QData)w[0] | ((QData)w[1] << 32);"
    return f"for (int i = 0; i < {-(-width // 32)}; i++) {target}[i] = w[i];"


def _read_port(source, width):
    if width <= 32:
        return f"w[0] = {source};"
    if width <= 64:
        return f"w[0] = (uint32_t){source}; w[1] = (uint32_t)({source} >> 32);"
    return f"for (int i = 0; i < {-(-width // 32)}; i++) w[i] = {source}[i];"


_HARNESS = r"""// bitforge gate-level harness: zero-delay toggle counting of every probed net (see ppa/native.py)
#include "Vbitforge_gl.h"
#include "verilated.h"
#include <cstdint>
#include <cstring>
#include <vector>

namespace {
const int WORDS = @WORDS@;
const uint64_t HALF = @HALF@;

struct Sim {
    VerilatedContext* ctx;
    Vbitforge_gl* top;
    std::vector<uint32_t> prev;
    std::vector<double> energy;
    std::vector<int32_t> block;
    std::vector<int32_t> watch;
    std::vector<uint64_t> toggles, since, t1;
    std::vector<double> row, rows;
    std::vector<uint8_t> wrows;
    int nblocks;
    uint64_t now;
    uint64_t charged;
    bool based, started;
    bool dirty;                         // an input was set since the last eval
};

// evaluate, the inputs set since the last eval first captured (see the wrapper in NativeNetlist._sources)
void eval(Sim* s) {
    if (s->dirty) {
        s->top->bitforge_capture = !s->top->bitforge_capture;
        s->dirty = false;
    }
    s->top->eval();
}

// settle the open step and count what changed since the previous one
void settle(Sim* s) {
    eval(s);
    const uint32_t* p = s->top->bitforge_probe.data();
    if (!s->based) {                    // t = 0: the baseline
        s->prev.assign(p, p + WORDS);
        s->based = true;
        return;
    }
    for (int w = 0; w < WORDS; w++) {
        uint32_t d = p[w] ^ s->prev[w];
        if (!d) continue;
        s->prev[w] = p[w];
        while (d) {
            int b = __builtin_ctz(d);
            d &= d - 1;
            int i = w * 32 + b;
            s->toggles[i]++;
            if (!((p[w] >> b) & 1u)) s->t1[i] += s->now - s->since[i];
            s->since[i] = s->now;
            double e = s->energy[i];
            if (e > 0) {
                s->row[s->block[i]] += e;
                s->charged++;
            }
        }
    }
}
}  // namespace

extern "C" {
void* bf_new(const double* energy, const int32_t* block, int nblocks, const int32_t* watch, int nwatch) {
    Sim* s = new Sim;
    s->ctx = new VerilatedContext;
    s->top = new Vbitforge_gl{s->ctx};
    s->energy.assign(energy, energy + WORDS * 32);
    s->block.assign(block, block + WORDS * 32);
    s->watch.assign(watch, watch + nwatch);
    s->toggles.assign(WORDS * 32, 0);
    s->since.assign(WORDS * 32, 0);
    s->t1.assign(WORDS * 32, 0);
    s->row.assign(nblocks, 0.0);
    s->nblocks = nblocks;
    s->now = 0;
    s->charged = 0;
    s->based = s->started = false;
    s->dirty = false;
    s->top->clk = 0;                    // t = 0: clock low, the host sets its inputs, then the baseline
    s->top->eval();                     // initial values (capture edges count from here on)
    return s;
}

void bf_set(void* h, int port, const uint32_t* w) {
    Sim* s = static_cast<Sim*>(h);
    switch (port) {
@SETS@
    }
    s->dirty = true;
}

void bf_get(void* h, int port, uint32_t* w) {
    Sim* s = static_cast<Sim*>(h);
    eval(s);
    switch (port) {
@GETS@
    }
}

// from the open step to the next falling step, which is left open for the host's writes
void bf_fall(void* h) {
    Sim* s = static_cast<Sim*>(h);
    settle(s);                          // the open step (t = 0 or a falling step), with the host's writes
    s->now += HALF;                     // a rising step: the finished cycle becomes a row
    if (s->started) {
        s->rows.insert(s->rows.end(), s->row.begin(), s->row.end());
        std::fill(s->row.begin(), s->row.end(), 0.0);
        for (int32_t i : s->watch) s->wrows.push_back((s->prev[i >> 5] >> (i & 31)) & 1u);
    }
    s->started = true;
    s->top->clk = 1;
    settle(s);
    s->now += HALF;
    s->top->clk = 0;
}

void bf_finish(void* h) {
    Sim* s = static_cast<Sim*>(h);
    settle(s);
    for (int i = 0; i < WORDS * 32; i++)
        if ((s->prev[i >> 5] >> (i & 31)) & 1u) { s->t1[i] += s->now - s->since[i]; s->since[i] = s->now; }
}

uint64_t bf_rows(void* h) { return static_cast<Sim*>(h)->rows.size() / static_cast<Sim*>(h)->nblocks; }
uint64_t bf_now(void* h) { return static_cast<Sim*>(h)->now; }

void bf_results(void* h, double* rows, uint8_t* wrows, uint64_t* toggles, uint64_t* t1) {
    Sim* s = static_cast<Sim*>(h);
    std::memcpy(rows, s->rows.data(), s->rows.size() * sizeof(double));
    std::memcpy(wrows, s->wrows.data(), s->wrows.size());
    std::memcpy(toggles, s->toggles.data(), s->toggles.size() * sizeof(uint64_t));
    std::memcpy(t1, s->t1.data(), s->t1.size() * sizeof(uint64_t));
}

void bf_free(void* h) {
    Sim* s = static_cast<Sim*>(h);
    s->top->final();
    delete s->top;
    delete s->ctx;
    delete s;
}
}
"""


class NativeHost:
    """The host interface of `sim.drivers` on a `NativeNetlist` run (every operation completes at once).

    The timing is the cocotb testbenches' (`sim.tb`): clock low at t = 0, reset high for two rising
    edges, released at the following falling edge; writes and reads one cycle each; ``run`` with the expected count waits that
    many cycles plus two, then checks ``busy``."""

    def __init__(self, net, run):
        self.net, self.run_ = net, run
        self._inputs = {name: k for k, name in enumerate(net.inputs)}
        self._outputs = {name: k for k, name in enumerate(net.outputs)}
        self.falls = 0

    def set(self, port, value):
        k = self._inputs.get(port)
        if k is None:
            raise KeyError(f"`port` must be an input of the netlist ({', '.join(self._inputs)}), not {port!r}")
        width = self.net.inputs[port]
        value = int(value) & ((1 << width) - 1)
        words = (ctypes.c_uint32 * max(1, -(-width // 32)))(*[(value >> (32 * i)) & 0xFFFFFFFF
                                                                for i in range(max(1, -(-width // 32)))])
        self.net.lib.bf_set(self.run_, k, words)

    def get(self, port):
        k = self._outputs.get(port)
        if k is None:
            raise KeyError(f"`port` must be an output of the netlist ({', '.join(self._outputs)}), not {port!r}")
        n = max(1, -(-self.net.outputs[port] // 32))
        words = (ctypes.c_uint32 * n)()
        self.net.lib.bf_get(self.run_, k, words)
        return sum(int(w) << (32 * i) for i, w in enumerate(words))

    def fall(self, n=1):
        for _ in range(n):
            self.net.lib.bf_fall(self.run_)
        self.falls += n

    def reset(self):
        from sim.drivers import HOST_INPUTS
        for name in self.net.inputs:
            if name in HOST_INPUTS:
                self.set(name, 0)
        self.set("rst", 1)
        self.fall(2)                                  # rising edges at 5 and 15 ns, released at 20 ns
        self.set("rst", 0)

    async def write(self, sel, addr, data):
        self.set("mem_sel", sel)
        self.set("mem_addr", addr)
        self.set("mem_wdata", data)
        self.set("mem_we", 1)
        self.fall()
        self.set("mem_we", 0)

    async def read(self, sel, count):
        words = []
        for addr in range(count):
            self.set("mem_sel", sel)
            self.set("mem_addr", addr)
            self.fall()
            words.append(self.get("mem_rdata"))
        return words

    async def run(self, bound, what, expected_cycles=None):
        self.set("start", 1)
        self.fall()
        self.set("start", 0)
        if expected_cycles is not None:
            self.fall(expected_cycles + 2)
            if not self.get("busy"):
                return
        for _ in range(bound):
            if self.get("done"):
                self.fall()
                return
            self.fall()
        raise AssertionError(f"{what}: done never rose within {bound} cycles")


def native_activity(synth, driver, job, *, build_root=None, progress=None, net=None):
    """Run ``driver`` (`sim.drivers`) with ``job`` on the compiled netlist of ``synth``.

    Returns ``(Activity, report, info)``: the activity as `ppa.power.analyze_vcd` gives it for a VCD of
    the same run, the driver's report (every result checked against the golden model), and
    ``{"build_s", "run_s", "cycles_per_s", "nets"}``."""
    from sim.drivers import load, run_now
    say = progress or (lambda message: None)
    net = net or NativeNetlist(synth, build_root=build_root, progress=say)
    energies = net_energies(synth)
    inst = dict(synth.instances())
    blocks = sorted({synth.block_of(p) for p in inst})
    block_index = {b: k for k, b in enumerate(blocks)}
    size = net.words * 32
    energy = np.zeros(size)
    block = np.zeros(size, dtype=np.int32)
    for i, (path, b) in enumerate(net.probe):
        energy[i] = energies[inst[path]].get(b, 0.0)
        block[i] = block_index[synth.block_of(path)]

    memories = synth.memories()
    watch = []                                # probe bits whose per-cycle values are recorded
    columns = {}

    def top_port(name):
        info = net.ports.get(name)
        return None if info is None else info["bits"]

    def watched(path, bits):
        out = []
        for b in bits:
            if isinstance(b, int):
                watch.append(net.index[(path, b)])
                out.append(len(watch) - 1)
            else:
                out.append(b)
        return out

    for name in ("busy", "phase"):
        bits = top_port(name)
        columns[name] = watched((), bits) if bits is not None else None
    mem_cols = [{kind: watched(m["path"], m[en]) for kind, en in (("r", "rd_en"), ("w", "wr_en"))} for m in memories]

    watch_arr = np.array(watch or [0], dtype=np.int32)
    run = net.lib.bf_new(energy.ctypes.data, block.ctypes.data, len(blocks), watch_arr.ctypes.data, len(watch))
    try:
        host = NativeHost(net, run)
        t0 = time.monotonic()
        say(f"simulating the netlist (compiled, Verilator): {len(job.get('inputs', ()))} runs of the workload")
        host.reset()

        async def whole():
            await load(host, job)
            return await driver(host, job)

        report = run_now(whole())
        net.lib.bf_finish(run)
        run_s = time.monotonic() - t0
        rows = int(net.lib.bf_rows(run))
        e_rows = np.zeros((rows, len(blocks)))
        w_rows = np.zeros((rows, max(1, len(watch))), dtype=np.uint8)
        toggles = np.zeros(size, dtype=np.uint64)
        t1 = np.zeros(size, dtype=np.uint64)
        net.lib.bf_results(run, e_rows.ctypes.data, w_rows.ctypes.data, toggles.ctypes.data, t1.ctypes.data)
        end = int(net.lib.bf_now(run))
    finally:
        net.lib.bf_free(run)
    w_rows = w_rows[:, :len(watch)]

    def value(cols):
        """Per row, the number the bits ``cols`` (LSB first) held; constants as they are."""
        v = np.zeros(rows, dtype=np.int64)
        for k, c in enumerate(cols):
            bit = w_rows[:, c].astype(np.int64) if isinstance(c, int) else np.full(rows, int(c == "1"))
            v |= bit << k
        return v

    busy = value(columns["busy"]).astype(bool) if columns["busy"] else np.zeros(rows, bool)
    phase = value(columns["phase"]) if columns["phase"] else busy.astype(np.int64)
    reads = np.zeros((rows, len(memories)), bool)
    writes = np.zeros((rows, len(memories)), bool)
    for k, cols in enumerate(mem_cols):
        for kind, target in (("r", reads), ("w", writes)):
            for c in cols[kind]:
                target[:, k] |= (w_rows[:, c].astype(bool) if isinstance(c, int) else np.full(rows, c == "1"))
    top_scope = (synth.top,)
    signals = []
    for i, (path, b) in enumerate(net.probe):
        var = VcdVar(ident=str(i), scope=top_scope + path, name=f"n{b}", width=1)
        high = int(t1[i])
        signals.append(SignalActivity(var, (BitActivity(t0=end - high, t1=high, tx=0, tz=0, tc=int(toggles[i])),)))
    switching = SwitchingActivity(timescale=1e-12, start=0, end=end, signals=tuple(signals))
    costed = energy[:len(net.probe)] > 0
    charged = int(costed.sum())
    act = Activity(blocks=blocks, energy=e_rows, busy=busy, phase=phase, memories=memories, reads=reads,
                   writes=writes, toggles=int(toggles[:len(net.probe)][costed].sum()),
                   runs=busy_runs(busy), switching=switching,
                   accounting={"charged": charged, "no_cell_pins": len(net.probe) - charged, "port_names": 0,
                               "outside": 0},
                   top_scope=top_scope)
    info = {"simulator": "verilator (compiled netlist, toggles counted in the harness)", "build_s": round(net.build_s, 1),
            "run_s": round(run_s, 2), "cycles": rows, "cycles_per_s": round(rows / run_s, 1) if run_s else None,
            "nets": len(net.probe)}
    if report.get("mismatches"):
        raise VerificationError(f"the gate-level netlist disagrees with the golden model: {report['first_mismatch']}")
    return act, report, info
