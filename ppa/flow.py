"""``bitforge ppa``: power, performance and area of any synthesizable Verilog.

`estimate_verilog` synthesizes the files (`rtl.synth.synthesize_verilog`,
timing-driven, memories planned as for the designs), times the netlist with
OpenSTA, simulates it on a stimulus and writes the same report files as the
design reports: report.json/md/html, the mapped netlist, its SDC and the SAIF
activity. Stimulus:

- ``random``: a seeded random value on every input each cycle (`ppa.stimulus`);
- ``zeros``: every input held at 0 (reset released after `RESET_CYCLES`): the
  clock-only floor;
- a cocotb test module (importable name): the user's own testbench drives the
  netlist (top module ``top``) on Icarus or Verilator.

Every cycle is a step: energies are per cycle.
"""

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

from quant.fsio import ensure_dir
from rtl.liberty import read_liberty
from rtl.synth import check_clock_mhz, synthesize_verilog
from .estimate import measure, memory_mode
from .memories import macros_for
from .pages import write_report
from .stimulus import RESET_CYCLES, STIMULUS_METHOD, clock_port, random_testbench

__all__ = ["estimate_verilog", "check_stimulus", "MAX_CYCLES"]

#: the most cycles a stimulus may run (a VCD of a large netlist grows by megabytes per thousand cycles)
MAX_CYCLES = 1_000_000


def check_stimulus(stimulus):
    """``stimulus`` if it is ``random``, ``zeros`` or an importable cocotb module; ValueError otherwise."""
    if stimulus in ("random", "zeros"):
        return stimulus
    if not isinstance(stimulus, str) or not all(p.isidentifier() for p in stimulus.split(".")):
        raise ValueError(f"--stimulus must be random, zeros or a cocotb module name, not {stimulus!r}")
    try:
        found = importlib.util.find_spec(stimulus)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise ValueError(f"--stimulus {stimulus!r} is not an importable cocotb test module (is it on PYTHONPATH?)")
    return stimulus


def estimate_verilog(paths, top, liberty, out_dir, *, clock_mhz=None, require_timing=False, cycles=1000,
                     stimulus="random", seed=0, sim="icarus", sram_liberty=None, progress=None):
    """Synthesize, time and measure the Verilog ``paths`` (top module ``top``); write the report into
    ``out_dir`` and return its dict. Every argument is checked before synthesis starts."""
    say = progress or (lambda message: None)
    t0 = time.monotonic()
    if clock_mhz is not None:
        check_clock_mhz(clock_mhz, "--clock-mhz")
    if isinstance(cycles, bool) or not isinstance(cycles, int) or not 1 <= cycles <= MAX_CYCLES:
        raise ValueError(f"--cycles must be an integer in [1, {MAX_CYCLES}], not {cycles!r}")
    check_stimulus(stimulus)
    if stimulus in ("random", "zeros") and sim != "icarus":
        raise ValueError(f"the {stimulus} stimulus runs on icarus, not {sim!r}")
    if shutil.which("iverilog") is None and sim == "icarus":
        raise ValueError("Icarus Verilog not found; install it with: sudo apt-get install -y iverilog")
    out = ensure_dir(out_dir).resolve()  # the simulators run in subfolders: absolute names
    macros = macros_for(read_liberty(liberty), sram_liberty)
    synth = synthesize_verilog(paths, liberty, top=top, clock_mhz=clock_mhz, memories=memory_mode(macros),
                               progress=say)
    scopes = [".".join(path) for path, _ in synth.instances()]

    def run_random(netlist_paths):
        work = ensure_dir(out / "sim")
        period = 10.0
        text = random_testbench(synth.top, synth.modules[synth.top]["ports"], cycles=cycles, seed=seed,
                                period_ns=period, dump_scopes=scopes)
        if stimulus == "zeros":
            text = text.replace("$random(seed)", "0")
        (work / "tb.v").write_text(text)
        say(f"simulating the netlist on icarus: {cycles} cycles of {stimulus} stimulus")
        for argv in (["iverilog", "-g2005", "-o", "tb.vvp", "-s", "bitforge_tb", "tb.v"]
                     + [str(p) for p in netlist_paths], ["vvp", "-n", "tb.vvp"]):
            proc = subprocess.run(argv, cwd=work, capture_output=True, text=True)
            if proc.returncode != 0:
                lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
                first = next((line for line in lines if "error" in line.lower()), lines[-1] if lines else "")
                raise RuntimeError(f"{argv[0]} failed on the netlist of {top} (in {work}): {first.strip()}")
        return work / "dump.vcd", "dut"

    def run_cocotb(netlist_paths):
        from sim.runner import run_cocotb as run
        say(f"simulating the netlist on {sim} with cocotb module {stimulus}")
        result = run(netlist_paths, sim=sim, test_module=stimulus, toplevel=synth.top, name="ppa", waves=True,
                     dump_scopes=[".".join((synth.top,) + p) for p, _ in synth.instances()]
                     if sim == "icarus" else None)
        if not result.passed:
            raise RuntimeError(f"the cocotb stimulus {stimulus} failed on the netlist: {result.summary()}")
        return result.vcd, None

    if stimulus in ("random", "zeros"):
        description = (STIMULUS_METHOD.format(reset=RESET_CYCLES) + f", seed {seed}, {cycles} cycles"
                       if stimulus == "random" else f"every input held at 0 for {cycles} cycles")
        run, check = run_random, "none (no reference model for arbitrary Verilog)"
    else:
        description, run, check = f"cocotb test module {stimulus}", run_cocotb, f"the tests of {stimulus} passed"
    workload = {"description": description, "step": "cycle", "phases": None, "simulator": sim, "check": check}
    report = measure(synth, run, workload, out, clock_mhz=clock_mhz, require_timing=require_timing, macros=macros,
                     per_cycle=True, clock_port=clock_port(synth.modules[synth.top]["ports"]), progress=say,
                     started=t0)
    report["design"] = top
    report["sources"] = [Path(p).name for p in paths]
    write_report(report, out, progress)
    return report
