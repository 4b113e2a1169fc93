"""Power, performance and area of one netlist on one workload: the flow every report uses.

`estimate` runs it for an Amaranth design and its workload (a testbench job that
checks every result against the golden model, so the gate-level netlist is
verified on the run that measures it); `ppa.flow.estimate_verilog` for any
Verilog and a stimulus. Both go through `measure`:

1. memories planned (`ppa.memories`): real macros of the cells' own process
   where one holds them, standard cells otherwise; synthesis (`rtl.synth`)
   keeps the macro memories and maps the rest to cells, timing-driven;
2. static timing (`ppa.timing`, OpenSTA) gives the critical path and fmax; the
   clock is the one asked for, or the design's own fmax when none is;
3. the netlist simulated on the workload; toggles counted (`ppa.power`,
   `ppa.activity`) and written as SAIF;
4. energy per block and phase, leakage, macro accesses, area.
"""

import math
import shutil
import time
from pathlib import Path

import numpy as np

from quant.errors import BadInput, VerificationError
from quant.fsio import atomic_write_json
from rtl.liberty import read_liberty
from rtl.synth import synthesize
from .memories import MIN_MACRO_WORDS_RULE, macros_for, macro_timing, plan_memory
from .power import ACCOUNTING, METHOD, Activity, analyze_vcd
from .saif import write_saif
from .timing import analyze_timing

__all__ = ["estimate", "measure", "fit_pipeline", "block_label", "Workload", "TimingNotMet", "MEMORIES", "memory_mode",
           "GATE_SIMULATORS"]

_LABELS = (("pe_", "PE array (multipliers)"), ("adder_tree", "adder trees"), ("tree_", "adder trees"),
           ("act_", "activation units"), ("lfsr", "LFSR (stochastic rounding)"),
           ("post", "post-accumulation units (shared)"),
           ("top", "controller, state and glue"))
MEMORIES = "memories (SRAM macros)"


class TimingNotMet(BadInput):
    """A clock above the design's fmax was required (``require_timing``)."""


def block_label(block):
    """The report's name for a netlist block (first-level instance)."""
    for prefix, label in _LABELS:
        if block.startswith(prefix):
            return label
    return block


class Workload:
    """What to run on the netlist: a job, its driver (`sim.drivers.DRIVERS`) and the cocotb testbench that
    runs the same driver, and how to name its steps and phases."""

    def __init__(self, *, job, driver, test_module, description, step_name, phases=None):
        from sim.drivers import DRIVERS
        if driver not in DRIVERS:
            raise ValueError(f"`driver` must be one of {', '.join(DRIVERS)}, not {driver!r}")
        self.job, self.driver, self.test_module, self.description = job, driver, test_module, description
        self.step_name, self.phases = step_name, phases   # phases: names of phase-port values 1..n


def memory_mode(macros):
    """`rtl.synth.synthesize`'s ``memories`` for a set of macros: keep what a macro can hold, else cells."""
    return min(m.words for m in macros) if macros else "cells"


#: the simulators a gate-level activity run can use: compiled (`ppa.native`) or Icarus with a VCD
GATE_SIMULATORS = ("verilator", "icarus")


def estimate(component, workload, liberty, *, clock_mhz=None, require_timing=False, sim="verilator", out_dir,
             sram_liberty=None, glitch_window=None, progress=None):
    """Synthesize, time, simulate ``workload`` on the netlist, and return the figures (dict).

    ``sim``: ``verilator`` runs the workload's driver on the netlist compiled with Verilator, toggles
    counted in the harness (`ppa.native`); ``icarus`` runs its cocotb testbench on Icarus and reads the
    VCD (`ppa.power.analyze_vcd`). Both count the same toggles (a test shows it). ``glitch_window``: the
    first that many runs of the workload are also simulated with the netlist's delays (`ppa.glitch`), and
    the report's ``glitches`` entry gives the dynamic power with glitches beside the zero-delay figure."""
    from sim.runner import run_job
    if sim not in GATE_SIMULATORS:
        raise ValueError(f"the gate-level simulator must be one of {', '.join(GATE_SIMULATORS)}, not {sim!r}")
    say = progress or (lambda message: None)
    t0 = time.monotonic()
    macros = macros_for(read_liberty(liberty), sram_liberty)
    synth = synthesize(component, liberty, clock_mhz=clock_mhz, memories=memory_mode(macros), progress=say)
    out = Path(out_dir).resolve()

    def run_native(paths):
        from sim.drivers import DRIVERS
        from .native import native_activity
        act, _, info = native_activity(synth, DRIVERS[workload.driver], workload.job, progress=say)
        workload_info["simulation"] = info
        return act

    def run(paths):
        say(f"simulating the netlist on {sim}: {workload.description}")
        # Icarus dumps each module instance's own nets only (not the cells' internals): a VCD several times smaller
        scopes = [".".join((synth.top,) + path) for path, _ in synth.instances()] if sim == "icarus" else None
        result, report = run_job(paths, workload.job, out, sim=sim, test_module=workload.test_module,
                                 name="gate-level", waves=True, dump_scopes=scopes)
        if not result.passed or report.get("mismatches"):
            raise VerificationError(f"the gate-level netlist disagrees with the golden model: "
                               f"{report.get('first_mismatch')} ({result.summary()})")
        return result.vcd, None

    workload_info = {"description": workload.description, "step": workload.step_name, "phases": workload.phases,
                     "simulator": sim, "check": "every result of the netlist checked against the golden model"}
    fig = measure(synth, run_native if sim == "verilator" else run, workload_info, out, clock_mhz=clock_mhz,
                  require_timing=require_timing, macros=macros, progress=say, started=t0)
    if glitch_window:
        fig["glitches"] = _glitches(synth, workload, glitch_window, fig, sim, out, say)
    return fig


def _glitches(synth, workload, window, fig, sim, out, say):
    """`ppa.glitch.glitch_figure` for the design's clock, with the zero-delay window on ``sim``."""
    from sim.drivers import DRIVERS
    from sim.runner import run_job
    from .glitch import glitch_figure
    from .native import native_activity

    def zero_delay(job):
        if sim == "verilator":
            return native_activity(synth, DRIVERS[workload.driver], job)[0]
        work = out / "glitch" / "zero-delay"
        paths = synth.write_sim_netlist(work / "netlist")
        scopes = [".".join((synth.top,) + p) for p, _ in synth.instances()]
        result, _ = run_job(paths, job, work, sim="icarus", test_module=workload.test_module, name="gate-level",
                            waves=True, dump_scopes=scopes)
        return analyze_vcd(synth, result.vcd)

    g = glitch_figure(synth, workload, window, fig["clock_mhz"], zero_delay, out / "glitch", progress=say)
    cells = sum(p["dynamic"] for k, p in fig["power_mw"]["blocks"].items() if k != MEMORIES)
    g["dynamic_mw_zero_delay"] = fig["power_mw"]["dynamic"]
    g["dynamic_mw_with_glitches"] = fig["power_mw"]["dynamic"] + cells * ((g["ratio"] or 1.0) - 1.0)
    return g


def time_with_memories(synth, macros, *, clock_mhz=None, work_dir=None, clock_port="clk"):
    """Static timing of ``synth`` with its kept memories planned as ``macros`` (or cells) and timed with the
    slowest used macro's own clock-to-output and setup: ``(TimingReport, {name: MemoryPlan}, how the memories
    were timed)``. The reports and the sweep's trials time a design this one way."""
    plans = {m["name"]: plan_memory(m["name"], m["words"], m["width"], macros if m["kept"] else ())
             for m in synth.memory_inventory}
    used = [p.macro for p in plans.values() if p.macro]
    mem_t = {"clk_to_q_ns": 0.0, "setup_ns": 0.0}
    for macro in {m.name: m for m in used}.values():
        t = macro_timing(macro)
        mem_t = {k: max(mem_t[k], t[k]) for k in mem_t}
    timing = analyze_timing(synth, clock_mhz=clock_mhz, work_dir=work_dir, clock_port=clock_port,
                            memory_clk_to_q_ns=mem_t["clk_to_q_ns"], memory_setup_ns=mem_t["setup_ns"])
    if used:
        how = (f"memories as macros, timed with the slowest macro's own arcs: clock-to-output "
               f"{mem_t['clk_to_q_ns']:.3f} ns, setup {mem_t['setup_ns']:.3f} ns")
    else:
        how = timing.memories_timing
    return timing, plans, how


def fit_pipeline(component_for, depths, liberty, target_mhz, *, sram_liberty=None, progress=None):
    """The shallowest pipeline depth whose netlist meets ``target_mhz``: each depth in ``depths`` (in order)
    synthesized for that clock (``component_for(depth)``) and timed as the reports time it
    (`time_with_memories`) until one meets it. Returns ``{"target_mhz", "met", "depth"`` (the first that
    meets it, else the last tried), ``"attempts"``: per depth its fmax, critical path, start and end
    point and how many cells deep``}``: where none meets the clock, the last attempt's path is the one that
    prevents it. The synthesis of the chosen depth is cached for the report that follows."""
    from rtl.synth import check_clock_mhz
    target = check_clock_mhz(target_mhz, "target_mhz")
    depths = list(depths)
    if not depths:
        raise ValueError("fit_pipeline needs at least one pipeline depth to try")
    say = progress or (lambda message: None)
    macros = macros_for(read_liberty(liberty), sram_liberty)
    attempts = []
    for depth in depths:
        say(f"pipeline depth {depth}: synthesis and timing for {target:g} MHz")
        synth = synthesize(component_for(depth), liberty, clock_mhz=target, memories=memory_mode(macros),
                           progress=say)
        timing, _, _ = time_with_memories(synth, macros, clock_mhz=target)
        attempts.append({"depth": depth, "fmax_mhz": timing.fmax_mhz, "critical_path_ns": timing.critical_path_ns,
                         "startpoint": timing.startpoint, "endpoint": timing.endpoint, "levels": timing.levels,
                         "blocks": list(timing.blocks), "met": timing.fmax_mhz >= target})
        if attempts[-1]["met"]:
            break
    return {"target_mhz": target, "met": attempts[-1]["met"], "depth": attempts[-1]["depth"], "attempts": attempts,
            "method": "each depth synthesized for the target clock and timed by OpenSTA (the reports' timing)"}


def measure(synth, run, workload, out_dir, *, clock_mhz=None, require_timing=False, macros=(), per_cycle=False,
            clock_port="clk", progress=None, started=None):
    """Time ``synth``, run its netlist (``run(paths) -> (vcd path, top scope or None)`` or an `Activity`) and
    return the figures.

    ``workload``: {"description", "step", "phases", "simulator", "check"}. ``per_cycle``: every cycle is a
    step (designs without a ``busy`` port). ``clock_port``: the design's clock input, or None for a design
    without one (then ``run`` must dump the testbench's clock as ``bitforge_tb.clk``)."""
    say = progress or (lambda message: None)
    t0 = started or time.monotonic()
    out = Path(out_dir).resolve()
    say("static timing with OpenSTA")
    timing, plans, timing_memories = time_with_memories(synth, macros, clock_mhz=clock_mhz,
                                                        work_dir=out / "timing", clock_port=clock_port or "clk")
    fmax = timing.fmax_mhz
    if clock_mhz is None:
        clock, clock_source = math.floor(fmax * 10) / 10, "the design's own fmax (static timing), rounded down"
    else:
        clock, clock_source = float(clock_mhz), "requested"
    met = clock <= fmax
    if not met and require_timing:
        raise TimingNotMet(f"the clock {clock:g} MHz is above the design's fmax {fmax:.1f} MHz (critical path "
                           f"{timing.critical_path_ns:.3f} ns from {timing.startpoint} to {timing.endpoint})")
    paths = synth.write_sim_netlist(out / "netlist")
    t_sim = time.monotonic()
    result = run(paths)
    if isinstance(result, Activity):
        act, vcd = result, None
    else:
        vcd, top_scope = result
        act = analyze_vcd(synth, vcd, top_scope=top_scope, clock=clock_port or "clk",
                          clock_path=None if clock_port else ("bitforge_tb", "clk"), progress=say)
        workload.setdefault("simulation", {"simulator": f"{workload['simulator']} (VCD read by ppa.power)",
                                           "build_s": None, "run_s": round(time.monotonic() - t_sim, 2),
                                           "cycles": act.cycles, "nets": act.accounting.get("charged", 0)
                                           + act.accounting.get("no_cell_pins", 0)})
        workload["simulation"]["cycles_per_s"] = round(act.cycles / max(1e-9, workload["simulation"]["run_s"]), 1)
    if per_cycle:
        act.busy[:] = True
        act.runs = [(c, c + 1) for c in range(act.cycles)]
    saif = out / "activity.saif"
    write_saif(saif, act.switching, design=synth.top, top_scope_path=act.top_scope)
    if vcd is not None:
        Path(vcd).unlink(missing_ok=True)
    shutil.copy(synth.verilog_path, out / "netlist" / "netlist_mapped.v")
    shutil.copy(out / "timing" / "constraints.sdc", out / "netlist" / "constraints.sdc")
    fig = _figures(synth, act, workload, clock, plans, time.monotonic() - t0)
    fig["timing"] = {**timing.to_json(), "memories_timing": timing_memories, "clock_used_mhz": clock,
                     "clock_source": clock_source, "met": met,
                     "method": "OpenSTA static timing of the mapped netlist: ideal clock, the library's "
                               "delay tables and default wire-load model, inputs driven by the synthesis "
                               "driving cell"}
    fig["files"] = {"saif": saif.name, "netlist": "netlist/netlist_mapped.v", "sdc": "netlist/constraints.sdc"}
    atomic_write_json(out / "timing.json", fig["timing"])
    return fig


def _figures(synth, act, workload, clock_mhz, plans, wall_s):
    period_ns = 1e3 / clock_mhz
    busy = act.busy
    runs = len(act.runs)
    if runs == 0:
        raise RuntimeError("the workload never raised busy: nothing to measure")
    cycles_busy = int(busy.sum())
    area = synth.area_by_block()
    leak = synth.leakage_by_block()
    blocks = {}
    for k, b in enumerate(act.blocks):
        label = block_label(b)
        entry = blocks.setdefault(label, {"area_um2": 0.0, "cells": 0, "flops": 0, "leakage_mw": 0.0,
                                          "energy_per_step_pj": 0.0, "instances": []})
        entry["area_um2"] += area[b]["area_um2"]
        entry["cells"] += area[b]["cells"]
        entry["flops"] += area[b]["flops"]
        entry["leakage_mw"] += leak.get(b, 0.0) * 1e-6
        entry["energy_per_step_pj"] += float(act.energy[busy, k].sum()) / runs
        entry["instances"].append(b)
    mem_rows = []
    mem_energy = np.zeros(act.cycles)
    columns = {m["name"]: k for k, m in enumerate(act.memories)}
    for name, plan in plans.items():
        row = plan.to_json()
        if plan.macro is not None:
            k = columns[name]
            e = act.reads[:, k] * plan.read_pj + act.writes[:, k] * plan.write_pj
            mem_energy += e
            row.update(leakage_mw=plan.leakage_nw * 1e-6,
                       reads_per_step=float(act.reads[busy, k].sum()) / runs,
                       writes_per_step=float(act.writes[busy, k].sum()) / runs,
                       energy_per_step_pj=float(e[busy].sum()) / runs)
        else:
            row.update(area_um2=None, leakage_mw=None, energy_per_step_pj=None,
                       note="flip-flops and logic, counted with the standard cells of its block")
        mem_rows.append(row)
    macro_rows = [r for r in mem_rows if r["area_um2"] is not None]
    if macro_rows:
        blocks[MEMORIES] = {"area_um2": sum(r["area_um2"] for r in macro_rows), "cells": len(macro_rows), "flops": 0,
                            "leakage_mw": sum(r["leakage_mw"] for r in macro_rows),
                            "energy_per_step_pj": sum(r["energy_per_step_pj"] for r in macro_rows),
                            "instances": [r["name"] for r in macro_rows]}
    cycles_per_step = cycles_busy / runs
    step_time_ns = cycles_per_step * period_ns
    per_run = np.array([float(act.energy[a:b].sum() + mem_energy[a:b].sum()) for a, b in act.runs])
    spread = {"count": runs, "mean_pj": float(per_run.mean()), "min_pj": float(per_run.min()),
              "max_pj": float(per_run.max()), "std_pj": float(per_run.std()),
              "meaning": f"dynamic energy of each {workload['step']} of the workload (cells and memories)"}
    for entry in blocks.values():
        entry["dynamic_mw"] = entry["energy_per_step_pj"] / step_time_ns
    dynamic = sum(e["dynamic_mw"] for e in blocks.values())
    leakage = sum(e["leakage_mw"] for e in blocks.values())
    per_step = sum(e["energy_per_step_pj"] for e in blocks.values())
    phases = {}
    if workload.get("phases"):
        total_cells = act.energy.sum(1) + mem_energy
        for value, name in enumerate(workload["phases"], start=1):
            sel = busy & (act.phase == value)
            phases[name] = {"cycles_per_step": float(sel.sum()) / runs,
                            "dynamic_energy_pj": float(total_cells[sel].sum()) / runs,
                            "leakage_energy_pj": leakage * float(sel.sum()) / runs * period_ns}
    lib = synth.library
    memories = ("memories as real SRAM macros of the cells' process where one holds them (least-area tiling; "
                "the macro's own area, leakage and per-access energies), standard cells otherwise ("
                + MIN_MACRO_WORDS_RULE + "; no macro library of this process: all cells)")
    return {
        "library": {"name": lib.name, "path": Path(synth.liberty).name, "voltage": lib.voltage,
                    "corner": lib.name},
        "synthesis": {"tool": synth.tool, "flow": f"synth -> memories ({synth.memories_mode}) -> techmap -> "
                      f"dfflibmap -> abc -D {synth.abc_target_ps} ps (timing-driven: mapping, buffering, sizing), "
                      "hierarchy kept", "driving_cell": synth.driving_cell, "seconds": synth.seconds},
        "clock_mhz": clock_mhz,
        "method": {"area": "sum of Liberty cell areas of the mapped netlist (no placement or routing) plus "
                           "the SRAM macros' own areas", "power": METHOD, "memories": memories,
                   "activity": "zero-delay simulation: dynamic power is a lower bound (no glitches); a toggle is a "
                               "0<->1 change of a net's settled value between time steps (x and z: no toggle)",
                   "simulator": workload["simulator"]},
        "workload": {"description": workload["description"], "steps": runs, "step": workload["step"],
                     "cycles_per_step": cycles_per_step, "cycles_simulated": act.cycles, "check": workload["check"],
                     "toggles": act.toggles, "wall_s": round(wall_s, 1),
                     "simulation": workload.get("simulation")},
        "activity": {"nets": act.accounting, "meaning": ACCOUNTING, "simulator": workload["simulator"]},
        "area_um2": {"total": sum(e["area_um2"] for e in blocks.values()),
                     "logic": sum(e["area_um2"] for k, e in blocks.items() if k != MEMORIES),
                     "blocks": {k: e["area_um2"] for k, e in blocks.items()}},
        "power_mw": {"dynamic": dynamic, "leakage": leakage, "total": dynamic + leakage,
                     "blocks": {k: {"dynamic": e["dynamic_mw"], "leakage": e["leakage_mw"]}
                                for k, e in blocks.items()}},
        "energy": {"per_step_pj": per_step + leakage * step_time_ns,
                   "dynamic_per_step_pj": per_step, "leakage_per_step_pj": leakage * step_time_ns,
                   "logic_dynamic_per_step_pj": per_step - blocks.get(MEMORIES, {}).get("energy_per_step_pj", 0.0),
                   "step": workload["step"], "phases": phases, "spread": spread},
        "blocks": blocks,
        "memories": mem_rows,
        "flops": sum(e["flops"] for e in blocks.values()),
    }
