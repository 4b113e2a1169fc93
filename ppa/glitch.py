"""A glitch-aware dynamic-power figure: a window of the workload simulated with the netlist's delays.

Zero-delay activity (`ppa.native`, `ppa.power.analyze_vcd`) counts one settled value per time step, so
it misses the glitches that unequal path delays make: it is a lower bound. `glitch_figure` measures how
much it misses on a window of the workload (its first runs):

1. OpenSTA reads the simulation netlist itself (`Synthesis.write_sim_netlist`: the instance names the
   simulator sees; memories are black boxes to it), with the report's constraints, and writes SDF:
   every cell's IOPATH delays at its load and input slew (`write_sdf_for`). This OpenSTA writes one corner
   as ``(min::max)`` triples without a typical value; the file is rewritten with typ = max, which Icarus
   selects.
2. Icarus runs the window's cocotb testbench on cell models with specify paths, annotated with the SDF
   (``$sdf_annotate``), at the report's clock period rounded up to a whole nanosecond; every result is
   checked against the golden model as in the zero-delay run. Icarus ignores the SDF's INTERCONNECT
   (wire) delays, which the default wire-load model makes a few picoseconds.
3. The VCD's toggles now include every intermediate value a net takes inside a cycle
   (`ppa.power.analyze_vcd` counts each time step's settled value, and with delays the steps are
   picoseconds apart); the standard cells' dynamic energy per step over the window, against the same
   window at zero delay, gives the ratio the report applies to its zero-delay cell power.
"""

import math
import re
import subprocess
import time
from pathlib import Path

from quant.errors import VerificationError
from quant.fsio import ensure_dir
from .power import analyze_vcd
from .timing import _sta_liberty, find_sta

__all__ = ["write_sdf_for", "glitch_figure", "GLITCH_METHOD"]

GLITCH_METHOD = ("a window of the workload on Icarus with the netlist's delays: OpenSTA write_sdf of the "
                 "simulation netlist (cell IOPATH delays at their loads and slews, the report's constraints), "
                 "$sdf_annotate on cell models with specify paths (Icarus's path delays); every "
                 "intermediate value a net settles to inside a cycle is a toggle. Wire (INTERCONNECT) delays "
                 "are not applied (Icarus does not support them). Ratio = standard-cell dynamic energy per step "
                 "with delays / at zero delay, same window")

_TRIPLE = re.compile(r"\((-?[\d.]+)::(-?[\d.]+)\)")


#: a module name and the parameter assignment ``#( .NAME(value), ... )`` of an instance (values hold at most one
#: level of parentheses)
_PARAMETERIZED = re.compile(r"(\\?[\w$]+)\s*#\((?:[^()]|\([^()]*\))*\)")


def _without_parameters(text):
    """The netlist with each parameterized instance made an instance of a black box of its own (OpenSTA's
    Verilog reader takes no parameters, and gives a black box the port widths of its first instance). Only
    the kept memories (instances of the parameterized memory model) have parameters; STA has no timing for
    them either way, so every standard cell's delays are unchanged."""
    count = iter(range(1 << 62))
    return _PARAMETERIZED.sub(lambda m: f"{m.group(1)}_blackbox{next(count)}", text)


def write_sdf_for(synth, netlist, sdc, work_dir):
    """SDF of the simulation netlist file ``netlist`` (written by `Synthesis.write_sim_netlist`) under the
    constraints ``sdc``, from OpenSTA; returns its path (typ values filled in)."""
    work = ensure_dir(work_dir).resolve()
    lib = _sta_liberty(synth.liberty, work, "library")
    raw, sdf = work / "raw.sdf", work / "netlist.sdf"
    sta_netlist = work / "netlist.v"
    sta_netlist.write_text(_without_parameters(Path(netlist).read_text()))
    script = work / "sdf.tcl"
    script.write_text(f"read_liberty {lib}\nread_verilog {sta_netlist}\nlink_design {synth.top}\n"
                      f"read_sdc {Path(sdc).resolve()}\nwrite_sdf -divider . -digits 4 {raw}\n")
    proc = subprocess.run([find_sta(), "-no_init", "-no_splash", "-exit", str(script)], cwd=work,
                          capture_output=True, text=True)
    (work / "sdf.log").write_text(proc.stdout + proc.stderr)
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("Error")]
    if proc.returncode != 0 or errors or not raw.is_file():
        raise RuntimeError(f"OpenSTA could not write SDF for {synth.top} (log {work / 'sdf.log'}): "
                           f"{(errors or ['no SDF written'])[0]}")
    sta_netlist.unlink()
    text = raw.read_text()
    sdf.write_text(_TRIPLE.sub(lambda m: f"({m.group(1)}:{max(float(m.group(1)), float(m.group(2))):g}:{m.group(2)})",
                               text))
    raw.unlink()
    return sdf


def glitch_figure(synth, workload, window_runs, clock_mhz, zero_delay, out_dir, *, progress=None):
    """Run the first ``window_runs`` runs (`sim.drivers.job_window`: its steps) of ``workload``
    (`ppa.estimate.Workload`) with delays and compare with ``zero_delay(job) -> Activity`` on the same window. Returns the report's ``glitches`` entry."""
    from sim.drivers import job_window
    from sim.runner import run_job
    say = progress or (lambda message: None)
    out = ensure_dir(out_dir).resolve()
    t0 = time.monotonic()
    job = job_window(workload.driver, workload.job, window_runs)
    period = math.ceil(1000.0 / clock_mhz - 1e-9)
    paths = synth.write_sim_netlist(out / "netlist", specify=True)
    sdf = write_sdf_for(synth, paths[0], out.parent / "timing" / "constraints.sdc", out / "sdf")
    unit = workload.step_name + ("s" if window_runs > 1 else "")
    say(f"glitch-aware window: the first {window_runs} {unit} on Icarus with SDF delays at {period} ns")
    scopes = [".".join((synth.top,) + p) for p, _ in synth.instances()]
    result, report = run_job(paths, job, out, sim="icarus", test_module=workload.test_module, name="gate-level-sdf",
                             waves=True, dump_scopes=scopes, sdf=sdf, period_ns=period)
    if not result.passed or report.get("mismatches"):
        raise VerificationError(f"the netlist with its delays disagrees with the golden model at {period} ns: "
                                f"{report.get('first_mismatch')} ({result.summary()})")
    delayed = analyze_vcd(synth, result.vcd, progress=say)
    result.vcd.unlink(missing_ok=True)
    plain = zero_delay(job)
    if len(delayed.runs) != len(plain.runs) or not delayed.runs:
        raise RuntimeError(f"the delayed window has {len(delayed.runs)} runs, the zero-delay one {len(plain.runs)}")

    def per_step(act):
        return float(act.energy[act.busy].sum()) / len(act.runs)

    with_delays, without = per_step(delayed), per_step(plain)
    return {"window": f"the workload's first {window_runs} {unit}",
            "steps": len(plain.runs), "period_ns": period, "cells_pj_per_step_zero_delay": without,
            "cells_pj_per_step_with_delays": with_delays, "ratio": with_delays / without if without else None,
            "toggles_zero_delay": plain.toggles, "toggles_with_delays": delayed.toggles,
            "method": GLITCH_METHOD, "wall_s": round(time.monotonic() - t0, 1)}
