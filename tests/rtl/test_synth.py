"""Timing-driven synthesis: the script ABC gets, the driving cell found by function, structural Verilog,
memory modes and a cache that never mixes clock targets, memory modes or method versions."""

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl import synth as synth_mod
from rtl.liberty import default_liberty
from rtl.synth import MIN_DELAY_TARGET_PS, library_timing, synthesize, _rename_memories


class Add(wiring.Component):
    a: In(4)
    b: In(4)
    s: Out(5)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.s.eq(self.a + self.b)
        return m


class Top(wiring.Component):
    """A registered adder in a submodule ``add``."""
    a: In(4)
    b: In(4)
    s: Out(5)

    def elaborate(self, platform):
        m = Module()
        m.submodules.add = add = Add()
        m.d.sync += [add.a.eq(self.a), add.b.eq(self.b), self.s.eq(add.s)]
        return m


class Buffer(wiring.Component):
    waddr: In(3)
    wdata: In(4)
    we: In(1)
    raddr: In(3)
    rdata: Out(4)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=4, depth=8, init=[])
        wr, rd = mem.write_port(), mem.read_port()
        m.d.comb += [wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we), rd.addr.eq(self.raddr),
                     self.rdata.eq(rd.data)]
        return m


# -- the library's timing facts -------------------------------------------------------------------

_BUFFERS = r"""
library ("odd_names") {
  time_unit : "1ns"; capacitive_load_unit(1.0, "pf"); nom_voltage : 1.0;
  %s
}
"""
_CELL = r"""
  cell ("%s") { area : %s;
    pin ("I") { direction : input; capacitance : %s; }
    pin ("Z") { direction : output; function : "%s"; max_capacitance : %s;
      timing () { related_pin : "I"; cell_rise (scalar) { values ("0.1"); } cell_fall (scalar) { values ("0.1"); } } }
  }"""


def test_driving_cell_is_found_by_function(tmp_path, monkeypatch):
    monkeypatch.setenv("BITFORGE_CACHE", str(tmp_path / "cache"))
    cells = [("weak", 1, 0.001, "I", 0.1), ("mid", 2, 0.002, "(I)", 0.42), ("strong", 4, 0.004, "I", 1.6),
             ("not_a_buffer", 1.5, 0.002, "!I", 0.4), ("almost", 1.5, 0.002, "I", 0.19)]
    lib = tmp_path / "odd.lib"
    lib.write_text(_BUFFERS % "".join(_CELL % c for c in cells))
    facts = library_timing(lib)
    assert facts.has_tables and [b[0] for b in facts.buffers] == ["almost", "mid", "strong", "weak"]
    # the smallest with at least twice the weakest drive (0.1 pF): not "almost" (0.19 pF), not the inverter
    assert facts.driving_cell == ("mid", "I", "Z", 2.0, 0.002, 0.42)


def test_driving_cell_of_the_pdks(sky130):
    assert library_timing(sky130).driving_cell[0] == "sky130_fd_sc_hd__buf_2"
    try:
        ihp = default_liberty("ihp")
    except FileNotFoundError as e:
        pytest.skip(str(e))
    assert library_timing(ihp).driving_cell[0] == "sg13g2_buf_2"


# -- structural Verilog of kept memories ----------------------------------------------------------

_YOSYS_MEM = """  bitforge_mem #(
    .ABITS(32'd3),
    .MEMID("\\\\mem"),
    .RD_CLK_ENABLE(1'h1),
    .RD_CLK_POLARITY(1'h1),
    .RD_PORTS(32'd1),
    .SIZE(32'd8),
    .WIDTH(32'd4),
    .WR_CLK_ENABLE(1'h1),
    .WR_CLK_POLARITY(1'h1),
    .WR_PORTS(32'd1)
  ) \\mem$3  (
    .RD_ADDR(raddr),
    .RD_CLK(clk),
    .RD_DATA(rdata),
    .WR_ADDR(),
    .WR_DATA(wdata)
  );
"""


def test_memory_instances_are_renamed_by_shape():
    text, shapes = _rename_memories(_YOSYS_MEM)
    (name, shape), = shapes.items()
    assert name.startswith("bitforge_mem_8x4_")
    assert shape == {"ABITS": 3, "RD_CLK_ENABLE": 1, "RD_CLK_POLARITY": 1, "RD_PORTS": 1, "SIZE": 8, "WIDTH": 4,
                     "WR_CLK_ENABLE": 1, "WR_CLK_POLARITY": 1, "WR_PORTS": 1}
    assert text == (f"  {name} \\mem$3  (\n    .RD_ADDR(raddr),\n    .RD_CLK(clk),\n    .RD_DATA(rdata),\n"
                    "    .WR_DATA(wdata)\n  );\n")


# -- synthesis ------------------------------------------------------------------------------------

def test_abc_gets_the_clock_and_the_constraints(tools):
    synth = synthesize(Top(), tools, clock_mhz=200)
    script = (synth.work_dir / "synth.ys").read_text()
    assert "abc -D 5000 -constr abc.constr -script abc.script -liberty" in script and "abc -fast" not in script
    abc = (synth.work_dir / "abc.script").read_text()
    assert "&nf -D 5000; &put; buffer; upsize -D 5000; dnsize -D 5000" in abc  # maps for delay, buffers, sizes
    assert (synth.work_dir / "abc.constr").read_text() == "set_driving_cell sky130_fd_sc_hd__buf_2\nset_load 1.7270\n"
    log = (synth.work_dir / "yosys.log").read_text()
    assert log.count("ABC: + read_constr") == log.count("ABC: + source") >= 2  # once per module: hierarchy kept
    assert (synth.clock_mhz, synth.abc_target_ps, synth.driving_cell) == (200, 5000, "sky130_fd_sc_hd__buf_2")
    assert synth.seconds > 0


def test_structural_verilog_keeps_the_hierarchy(tools):
    synth = synthesize(Top(), tools)
    assert synth.abc_target_ps == MIN_DELAY_TARGET_PS and synth.clock_mhz is None
    text = synth.verilog_path.read_text()
    assert synth.verilog_path.parent == synth.work_dir and "(*" not in text and "always" not in text
    assert "module top(" in text and "module \\top.add " in text and " add (" in text
    assert set(synth.area_by_block()) == {"top", "add"}


def test_memories_kept_or_mapped_to_cells(tools):
    kept = synthesize(Buffer(), tools)
    assert len(kept.memories()) == 1 and len(kept.memory_cells) == 1 and kept.memories_mode == "keep"
    (name, shape), = kept.memory_cells.items()
    assert (shape["SIZE"], shape["WIDTH"]) == (8, 4) and f"  {name} " in kept.verilog_path.read_text()
    cells = synthesize(Buffer(), tools, memories="cells")
    assert cells.memories() == [] and cells.memory_cells == {} and cells.memories_mode == "cells"
    assert sum(b["flops"] for b in cells.area_by_block().values()) >= 8 * 4
    assert "bitforge_mem" not in cells.verilog_path.read_text()


def test_cache_key_covers_clock_memories_and_method(tools, monkeypatch):
    first = synthesize(Add(), tools)
    messages = []
    again = synthesize(Add(), tools, progress=messages.append)
    assert again.work_dir == first.work_dir and "cached" in messages[0]
    dirs = {first.work_dir, synthesize(Add(), tools, clock_mhz=100).work_dir,
            synthesize(Add(), tools, memories="cells").work_dir}
    monkeypatch.setattr(synth_mod, "METHOD_VERSION", synth_mod.METHOD_VERSION + 1)
    dirs.add(synthesize(Add(), tools).work_dir)
    assert len(dirs) == 4


class WideAdd(wiring.Component):
    """A registered 32-bit adder: flop to flop through the carry chain alone."""
    a: In(32)
    b: In(32)
    s: Out(32)

    def elaborate(self, platform):
        m = Module()
        a, b = Signal(32), Signal(32)
        m.d.sync += [a.eq(self.a), b.eq(self.b), self.s.eq(a + b)]
        return m


def test_an_adder_keeps_its_logarithmic_carry_depth(tools):
    """Yosys builds a Brent-Kung carry look-ahead; the mapping must not fold it back into a ripple (ABC's
    ``dc2`` did: 32-bit sums through about 30 cells). A ripple of 32 bits needs at least 31 carry cells;
    Brent-Kung's prefix tree is 2 log2(32) - 1 = 9 levels, plus the propagate and sum gates and the flops."""
    from ppa.timing import analyze_timing
    report = analyze_timing(synthesize(WideAdd(), tools))
    assert report.levels <= 2 * 5 - 1 + 6, (report.levels, report.critical_path_ns)
