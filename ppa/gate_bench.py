"""Random-stimulus runs of small synthesized units: per-operation energies for the fast energy model.

`characterize` synthesizes a unit wrapped in input and output registers,
simulates its netlist on Icarus with random operands every cycle (then with
the operands held, which leaves only the clock), and returns the energy per
cycle of the unit's submodule and per flip-flop of the registers. Results are
cached per library and unit under the build directory.
"""

import hashlib
import json
import subprocess

from amaranth.hdl import Module, Signal, Cat, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from quant.fsio import atomic_write_json, exclusive_lock

__all__ = ["characterize", "Bench"]


class Bench(wiring.Component):
    """``unit`` with every input port fed from a register and every output registered."""

    def __init__(self, unit_factory):
        self._factory = unit_factory
        probe = unit_factory()
        probe._MustUse__silence = True  # only its signature is read
        self._ports = [(name, member) for name, member in probe.signature.members.items()]
        width_in = sum(_width(m) for _, m in self._ports if m.flow == In)
        width_out = sum(_width(m) for _, m in self._ports if m.flow == Out)
        super().__init__({"din": In(width_in), "dout": Out(width_out)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self._factory()
        din_q = Signal.like(self.din)
        m.d.sync += din_q.eq(self.din)
        pos_in = 0
        outs = []
        for name, member in self._ports:
            value = getattr(unit, name)
            elems = _elements(value)
            if member.flow == In:
                for e in elems:
                    m.d.comb += e.eq(din_q[pos_in:pos_in + len(e)])
                    pos_in += len(e)
            else:
                outs.extend(elems)
        m.d.sync += self.dout.eq(Cat(*outs))
        return m


def _elements(value):
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            out.extend(_elements(v))
        return out
    return [Value.cast(value)]


def _width(member):
    from amaranth.hdl import Shape
    shape = Shape.cast(member.shape)
    n = 1
    for d in member.dimensions:
        n *= d
    return shape.width * n


_TB = """`timescale 1ns/1ps
module bench_tb;
  reg clk = 0, rst = 1;
  reg [{w}-1:0] din = 0;
  wire [{wo}-1:0] dout;
  top dut (.clk(clk), .rst(rst), .din(din), .dout(dout));
  always #5 clk = ~clk;
  integer i, k;
  initial begin
    $dumpfile("bench.vcd");
    $dumpvars(0, dut);
    repeat (2) @(posedge clk);
    #1 rst = 0;
    for (i = 0; i < {n}; i = i + 1) begin
      @(posedge clk); #1;
      for (k = 0; k < {w}; k = k + 32) din = (din << 32) | $random;
    end
    for (i = 0; i < {n}; i = i + 1) @(posedge clk);
    $finish;
  end
endmodule
"""


def characterize(name, unit_factory, liberty, *, cycles=400, progress=None):
    """``{"unit_pj", "flop_clock_pj", "flop_data_pj", "cycles"}``: per cycle with random operands, the
    unit's energy, and per flip-flop per cycle the clock-only and data-toggling energy of the registers."""
    from rtl.synth import synthesize
    from quant.fsio import default_build_root
    say = progress or (lambda message: None)
    bench = Bench(unit_factory)
    synth = synthesize(bench, liberty, progress=say)
    from .power import METHOD_VERSION
    key = hashlib.sha256(json.dumps([str(synth.work_dir), cycles, _TB, METHOD_VERSION]).encode()).hexdigest()[:16]
    work = default_build_root() / "bench" / f"{name}-{key}"
    with exclusive_lock(work.parent / f"{name}-{key}.lock"):  # a second process characterizing it waits, then reads
        return _characterize(name, bench, synth, work, cycles, say)


def _characterize(name, bench, synth, work, cycles, say):
    import shutil
    from rtl.synth import ToolNotFound
    from .power import analyze_vcd
    result_path = work / "result.json"
    if result_path.is_file():
        return json.loads(result_path.read_text())
    if shutil.which("iverilog") is None:
        raise ToolNotFound("Icarus Verilog not found; install it with: sudo apt-get install -y iverilog")
    say(f"characterizing {name} on random operands ({cycles} cycles)")
    work.mkdir(parents=True, exist_ok=True)
    paths = synth.write_sim_netlist(work)
    w_in, w_out = len(bench.din), len(bench.dout)
    (work / "tb.v").write_text(_TB.format(w=w_in, wo=w_out, n=cycles))
    subprocess.run(["iverilog", "-g2005", "-o", "bench.vvp", "tb.v"] + [str(p) for p in paths],
                   cwd=work, check=True, capture_output=True)
    subprocess.run(["vvp", "-n", "bench.vvp"], cwd=work, check=True, capture_output=True)
    act = analyze_vcd(synth, work / "bench.vcd", top_scope="dut")
    # a unit that synthesizes to no cells (a one-input adder tree is a wire) has no block of its own: 0 pJ, 0 um^2
    unit_col = act.blocks.index("unit") if "unit" in act.blocks else None
    top_col = act.blocks.index("top")
    area = synth.area_by_block()
    flops = area["top"]["flops"]
    first = slice(4, 2 + cycles)                  # random operands every cycle
    held = slice(6 + cycles, 2 * cycles)          # operands held: clock only
    unit = float(act.energy[first, unit_col].mean()) if unit_col is not None else 0.0
    clock = float(act.energy[held, top_col].mean()) / flops
    data = float(act.energy[first, top_col].mean()) / flops - clock
    result = {"unit_pj": unit, "flop_clock_pj": clock, "flop_data_pj": max(0.0, data), "cycles": cycles,
              "unit_area_um2": area["unit"]["area_um2"] if "unit" in area else 0.0, "library": synth.library.name}
    (work / "bench.vcd").unlink(missing_ok=True)
    atomic_write_json(result_path, result)
    return result
