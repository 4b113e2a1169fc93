"""Gate-level energy against truths computed by hand: a tiny netlist and a hand-written waveform,
and a free-running counter whose every bit's toggle count is known."""

import gzip
import shutil
import subprocess

import pytest

from ppa.power import analyze_vcd, net_energies
from ppa.saif import read_saif, write_saif
from rtl.liberty import read_liberty
from rtl.synth import Synthesis
from tests.hand_liberty import NAND2, library

# Round numbers (tests/hand_liberty.py), so every energy below is arithmetic on the page.
_LIB = library("hand", NAND2)

# top(clk, a, b, y): n4 = !(a & b) (c0), y = n5 = !(n4 & b) (c1); clk (n1) feeds no cell
_NETLIST = {"modules": {"top": {
    "ports": {"clk": {"direction": "input", "bits": [1]}, "a": {"direction": "input", "bits": [2]},
              "b": {"direction": "input", "bits": [3]}, "y": {"direction": "output", "bits": [5]}},
    "cells": {"c0": {"type": "nand2", "connections": {"A": [2], "B": [3], "Y": [4]}},
              "c1": {"type": "nand2", "connections": {"A": [4], "B": [3], "Y": [5]}}}}}}

# Energy per toggle, by hand (pJ): C V^2 / 2 of the sink pins + the driver's table at the net's load.
#   n2 (a):  c0.A, 0.002 pF                      -> 0.5 * 0.002 * 2.25                      = 0.00225
#   n3 (b):  c0.B + c1.B, 0.006 pF               -> 0.5 * 0.006 * 2.25                      = 0.00675
#   n4:      c1.A 0.002 pF; c0.Y at 0.002 pF: rise 0.010 + 0.020 * 0.002 / 0.1 = 0.0104, fall 0.006
#            -> 0.00225 + (0.0104 + 0.006) / 2                                              = 0.01045
#   n5 (y):  no sinks; c1.Y at 0 pF: (0.010 + 0.006) / 2                                    = 0.008
_E = {2: 0.00225, 3: 0.00675, 4: 0.01045, 5: 0.008}

# A waveform written by hand (as a simulator would for the netlist above, values consistent with the
# gates). Cycles start at the rising edges #10, #30, #50, #70.
_VCD = """$timescale 1ns $end
$scope module tb $end
$scope module top $end
$var wire 1 ! clk $end
$var wire 1 " n1 $end
$var wire 1 # n2 $end
$var wire 1 $ n3 $end
$var wire 1 % n4 $end
$var wire 1 & n5 $end
$var wire 1 ' a $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
0!
0"
x#
x$
x%
x&
x'
$end
#5
0#
0'
1$
1%
0&
#10
1!
1"
#15
1#
1'
0%
1&
#20
0!
0"
1#
#25
0$
1%
1&
#30
1!
1"
0$
#35
1$
0%
1%
#40
0!
0"
#45
0#
0'
1%
0&
#50
1!
1"
#55
1#
0#
#60
0!
0"
#70
1!
1"
"""
# Toggles (0 <-> 1 between time steps), by hand:
#   n2: x->0 (#5, not a toggle), 0->1 (#15), rewrite 1 (#20: none), 1->0 (#45), 1 then 0 in #55 (settles
#       at 0: none)                                                              -> 2, in cycles 1 and 2
#   n3: x->1 (#5: none), 1->0 (#25), rewrite 0 (#30: none), 0->1 (#35)           -> 2, in cycles 1 and 2
#   n4: x->1 (#5: none), 1->0 (#15), 0->1 (#25), 0 then 1 in #35 (settles at 1: none), rewrite 1 (#45)
#                                                                                -> 2, in cycle 1
#   n5: x->0 (#5: none), 0->1 (#15), rewrite 1 (#25: none), 1->0 (#45)           -> 2, in cycles 1 and 2
# Toggles before the first rising edge (#5) would not be charged (there are none); #70 opens cycle 4.
_CYCLES = {1: {2: 1, 3: 1, 4: 2, 5: 1}, 2: {2: 1, 3: 1, 5: 1}, 3: {}}


@pytest.fixture
def hand(tmp_path, monkeypatch):
    monkeypatch.setenv("BITFORGE_CACHE", str(tmp_path / "cache"))
    lib_path = tmp_path / "hand.lib.gz"
    lib_path.write_bytes(gzip.compress(_LIB.encode()))
    synth = Synthesis(_NETLIST, "top", read_liberty(lib_path), liberty=str(lib_path), tool="by hand",
                      work_dir=tmp_path)
    vcd = tmp_path / "hand.vcd"
    vcd.write_text(_VCD)
    return synth, vcd


def test_energy_per_toggle_by_hand(hand):
    synth, _ = hand
    assert net_energies(synth)["top"] == pytest.approx(_E, rel=1e-12)


def test_energy_per_cycle_by_hand(hand):
    synth, vcd = hand
    act = analyze_vcd(synth, vcd, top_scope="top")
    assert act.blocks == ["top"]
    # cycles close at each later rising edge: #10-#30, #30-#50, #50-#70 (#70 opens a fourth, unclosed)
    assert act.cycles == 3
    for cycle, toggles in _CYCLES.items():
        assert act.energy[cycle - 1, 0] == pytest.approx(sum(n * _E[net] for net, n in toggles.items()), rel=1e-12)
    assert act.toggles == 8
    assert act.accounting == {"charged": 4, "no_cell_pins": 1, "port_names": 1, "outside": 0}


def test_saif_of_the_hand_waveform(hand, tmp_path):
    synth, vcd = hand
    act = analyze_vcd(synth, vcd, top_scope="top")
    write_saif(tmp_path / "a.saif", act.switching, design="top", top_scope_path=act.top_scope)
    saif = read_saif(tmp_path / "a.saif")
    nets = {name: counts for (path, name), counts in saif.nets.items()}
    assert saif.duration == 70
    # n2: x on [0,5), 0 on [5,15), 1 on [15,45), 0 on [45,70)
    assert nets["n2"] == {"T0": 35, "T1": 30, "TX": 5, "TZ": 0, "TC": 2, "IG": 0}
    # n4: x [0,5), 1 [5,15), 0 [15,25), 1 [25,70)
    assert nets["n4"] == {"T0": 10, "T1": 55, "TX": 5, "TZ": 0, "TC": 2, "IG": 0}
    # clk: 0 [0,10), then 10 ns at each level; 7 toggles up to #70
    assert nets["clk"]["TC"] == 7 and nets["clk"]["T1"] == 30 and nets["clk"]["T0"] == 40
    for counts in nets.values():
        assert counts["T0"] + counts["T1"] + counts["TX"] + counts["TZ"] == 70


def test_unaccounted_nets_are_an_error(hand, tmp_path):
    synth, vcd = hand
    text = vcd.read_text()
    missing = tmp_path / "missing.vcd"
    missing.write_text(text.replace("$var wire 1 % n4 $end\n", "").replace("x%\n", "").replace("0%\n", "")
                       .replace("1%\n", ""))
    with pytest.raises(ValueError, match="1 nets of the netlist are not in the VCD \\(first: n4 of top\\)"):
        analyze_vcd(synth, missing, top_scope="top")
    stray = tmp_path / "stray.vcd"
    stray.write_text(text.replace("$var wire 1 ' a $end", "$var wire 1 ' a $end\n$var wire 1 ( mystery $end"))
    with pytest.raises(ValueError, match="neither nets nor ports \\(first: tb.top.mystery\\)"):
        analyze_vcd(synth, stray, top_scope="top")


_COUNTER_TB = """`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1;
  wire [{msb}:0] count;
  top dut (.clk(clk), .rst(rst), .count(count));
  always #5 clk = ~clk;
  initial begin
    $dumpfile("counter.vcd");
    $dumpvars(1, tb.dut);
    @(posedge clk); @(posedge clk); #1 rst = 0;
    repeat ({cycles}) @(posedge clk);
    #1 $finish;
  end
endmodule
"""


def test_free_running_counter_toggles_are_exact(tools, tmp_path):
    """An 8-bit counter synthesized to sky130, simulated at gate level: bit k of its register toggles
    exactly floor(C / 2**k) times in C increments, and nothing else in the design is counted twice."""
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import Out
    from rtl.synth import synthesize
    if shutil.which("iverilog") is None:
        pytest.skip("Icarus not found; install it with: apt-get install -y iverilog")

    class Counter(wiring.Component):
        count: Out(8)

        def elaborate(self, platform):
            m = Module()
            m.d.sync += self.count.eq(self.count + 1)
            return m

    synth = synthesize(Counter(), tools, top="top")
    paths = synth.write_sim_netlist(tmp_path)
    cycles = 300
    (tmp_path / "tb.v").write_text(_COUNTER_TB.format(msb=7, cycles=cycles))
    subprocess.run(["iverilog", "-g2005", "-o", "tb.vvp", "tb.v"] + [str(p) for p in paths],
                   cwd=tmp_path, check=True, capture_output=True)
    subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, check=True, capture_output=True)
    act = analyze_vcd(synth, tmp_path / "counter.vcd", top_scope="dut")
    bits = synth.modules["top"]["ports"]["count"]["bits"]
    tc = {s.var.name: s.bits[0].tc for s in act.switching.signals}
    # Amaranth's reset (rst) holds the count at 0 until it is released; then each of the `cycles` rising
    # edges of the testbench's repeat loop increments it once
    for k, net in enumerate(bits):
        assert tc[f"n{net}"] == cycles // 2 ** k, f"count[{k}] (n{net})"
    assert act.accounting["charged"] > 0 and act.accounting["outside"] >= 0
