"""Stimulus for a netlist of any design: a seeded random value on every input each cycle.

`random_testbench` writes a Verilog-2005 testbench for Icarus around the top
module of a netlist: the clock toggles every half period; a reset input, if
the design has one, is held active for `RESET_CYCLES` cycles and then released;
every other input gets a new value from ``$random`` (seeded) half a period
before each rising edge, so the design samples settled values. The VCD holds
the scopes the caller names (the netlist's module instances) from the first
edge on.
"""

import re

__all__ = ["random_testbench", "clock_port", "reset_port", "RESET_CYCLES", "STIMULUS_METHOD"]

RESET_CYCLES = 2
STIMULUS_METHOD = ("a seeded random value on every input each cycle (Verilog $random, applied at the falling "
                   "edge), reset held active for the first {reset} cycles when the design has a reset input")

_CLOCKS = ("clk", "clock", "clk_i", "i_clk", "aclk")
_RESETS = {"rst": 1, "reset": 1, "rst_i": 1, "i_rst": 1, "areset": 1,
           "rst_n": 0, "reset_n": 0, "rstn": 0, "resetn": 0, "aresetn": 0, "rst_ni": 0, "i_rst_n": 0}


def clock_port(ports):
    """The name of the clock among ``ports`` ({name: {"direction", "bits"}}), or None."""
    for name in _CLOCKS:
        if name in ports and ports[name]["direction"] == "input" and len(ports[name]["bits"]) == 1:
            return name
    return None


def reset_port(ports):
    """``(name, active level)`` of the reset among ``ports``, or None."""
    for name, level in _RESETS.items():
        if name in ports and ports[name]["direction"] == "input" and len(ports[name]["bits"]) == 1:
            return name, level
    return None


def _ident(name):
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name) else "\\" + name + " "


def random_testbench(top, ports, *, cycles, seed, period_ns, dump_scopes, vcd="dump.vcd", clock=None):
    """Verilog text of the testbench (module ``bitforge_tb``) for ``top`` with ``ports``.

    ``ports``: {name: {"direction": "input"|"output"|"inout", "bits": [...]}} as in Yosys's JSON netlist;
    ``clock``: the clock port (default: found by name, `clock_port`); a design without one is driven
    on a virtual clock of ``period_ns`` all the same (a combinational design)."""
    if cycles < 1:
        raise ValueError(f"`cycles` must be a positive integer, not {cycles}")
    clock = clock or clock_port(ports)
    reset = reset_port(ports)
    half = period_ns / 2
    lines = ["`timescale 1ns/1ps", "module bitforge_tb;", "  reg clk = 0;", f"  integer seed = {int(seed)};",
             "  integer cycle;"]
    conns, drives = [], []
    for name, info in ports.items():
        width = len(info["bits"])
        rng = f" [{width - 1}:0]" if width > 1 else ""
        sig = "p_" + re.sub(r"\W", "_", name)
        if info["direction"] == "input" and name != clock:
            lines.append(f"  reg{rng} {sig} = 0;")
            if reset and name == reset[0]:
                continue
            words = (width + 31) // 32
            value = ", ".join("$random(seed)" for _ in range(words))
            drives.append(f"      {sig} = {{{value}}};" if words > 1 else f"      {sig} = $random(seed);")
        elif name != clock:
            lines.append(f"  wire{rng} {sig};")
        conns.append(f".{_ident(name)}({'clk' if name == clock else sig})")
    lines.append(f"  {_ident(top)} dut ({', '.join(conns)});")
    lines.append(f"  always #{half} clk = ~clk;")
    reset_lines = []
    if reset:
        sig = "p_" + re.sub(r"\W", "_", reset[0])
        reset_lines = [f"    {sig} = {reset[1]};",
                       f"    repeat ({RESET_CYCLES}) @(posedge clk);",
                       f"    #{half} {sig} = {1 - reset[1]};"]
    scopes = ", ".join(["bitforge_tb.clk"] + [f"bitforge_tb.dut{'.' + s if s else ''}" for s in dump_scopes])
    lines += ["  initial begin",
              f'    $dumpfile("{vcd}");',
              f"    $dumpvars(1, {scopes});",
              *reset_lines,
              f"    for (cycle = 0; cycle < {int(cycles)}; cycle = cycle + 1) begin",
              "      @(negedge clk);",
              *drives,
              "    end",
              "    @(posedge clk);",
              "    $finish;",
              "  end",
              "endmodule", ""]
    return "\n".join(lines)
