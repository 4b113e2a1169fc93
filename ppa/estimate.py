"""Area, gate-level power and the fast energy model of one design on one workload.

`estimate` runs the whole flow for an Amaranth design: synthesis (`rtl.synth`),
the netlist simulated on the workload with Icarus (the workload's testbench
still checks every result against the golden model, so the netlist is
verified too), toggles to energy (`ppa.power`), memories from the SRAM model
(`ppa.sram`). The result is a plain dict that `bitforge.report` writes out.
"""

import time
from pathlib import Path

import numpy as np

from .power import analyze_vcd, METHOD
from .sram import fit_sram_model
from rtl.synth import synthesize

__all__ = ["estimate", "block_label", "Workload"]

_LABELS = (("pe_", "PE array (multipliers)"), ("adder_tree", "adder trees"), ("tree_", "adder trees"),
           ("act_", "activation units"), ("lfsr", "LFSR (stochastic rounding)"),
           ("top", "controller, state and glue"))
MEMORIES = "memories (SRAM macros)"


def block_label(block):
    """The report's name for a netlist block (first-level instance)."""
    for prefix, label in _LABELS:
        if block.startswith(prefix):
            return label
    return block


class Workload:
    """What to run on the netlist: a testbench job and how to name its steps and phases."""

    def __init__(self, *, job, test_module, description, step_name, phases=None):
        self.job, self.test_module, self.description = job, test_module, description
        self.step_name, self.phases = step_name, phases   # phases: names of phase-port values 1..n


def estimate(component, workload, liberty, *, clock_mhz, sim="icarus", out_dir, progress=None):
    """Synthesize, simulate ``workload`` on the netlist, and return the figures (dict)."""
    from sim.runner import run_job
    say = progress or (lambda message: None)
    t0 = time.monotonic()
    synth = synthesize(component, liberty, progress=say)
    out = Path(out_dir)
    paths = synth.write_sim_netlist(out / "netlist")
    say(f"simulating the netlist on {sim}: {workload.description}")
    # Icarus dumps each module instance's own nets only (not the cells' internals): a VCD several times smaller
    scopes = [".".join((synth.top,) + path) for path, _ in synth.instances()] if sim == "icarus" else None
    result, report = run_job(paths, workload.job, out, sim=sim, test_module=workload.test_module,
                             name="gate-level", waves=True, dump_scopes=scopes)
    if not result.passed or report.get("mismatches"):
        raise RuntimeError(f"the gate-level netlist disagrees with the golden model: {report.get('first_mismatch')} "
                           f"({result.summary()})")
    vcd = Path(result.build_dir) / "dump.vcd"
    act = analyze_vcd(synth, vcd, progress=say)
    vcd.unlink(missing_ok=True)
    return _figures(synth, act, workload, clock_mhz, sim, time.monotonic() - t0)


def _figures(synth, act, workload, clock_mhz, sim, wall_s):
    sram = fit_sram_model()
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
    for k, m in enumerate(act.memories):
        cost = sram.cost(m["words"], m["width"])
        e = act.reads[:, k] * cost["read_pj"] + act.writes[:, k] * cost["write_pj"]
        mem_energy += e
        mem_rows.append({"name": m["name"], "words": m["words"], "width": m["width"],
                         "bits": m["words"] * m["width"], "area_um2": cost["area_um2"],
                         "leakage_mw": cost["leakage_nw"] * 1e-6,
                         "reads_per_step": float(act.reads[busy, k].sum()) / runs,
                         "writes_per_step": float(act.writes[busy, k].sum()) / runs,
                         "energy_per_step_pj": float(e[busy].sum()) / runs})
    if mem_rows:
        blocks[MEMORIES] = {"area_um2": sum(r["area_um2"] for r in mem_rows), "cells": len(mem_rows), "flops": 0,
                            "leakage_mw": sum(r["leakage_mw"] for r in mem_rows),
                            "energy_per_step_pj": sum(r["energy_per_step_pj"] for r in mem_rows),
                            "instances": [r["name"] for r in mem_rows]}
    cycles_per_step = cycles_busy / runs
    step_time_ns = cycles_per_step * period_ns
    for entry in blocks.values():
        entry["dynamic_mw"] = entry["energy_per_step_pj"] / step_time_ns
    dynamic = sum(e["dynamic_mw"] for e in blocks.values())
    leakage = sum(e["leakage_mw"] for e in blocks.values())
    per_step = sum(e["energy_per_step_pj"] for e in blocks.values())
    phases = {}
    if workload.phases:
        total_cells = act.energy.sum(1) + mem_energy
        for value, name in enumerate(workload.phases, start=1):
            sel = busy & (act.phase == value)
            phases[name] = {"cycles_per_step": float(sel.sum()) / runs,
                            "dynamic_energy_pj": float(total_cells[sel].sum()) / runs,
                            "leakage_energy_pj": leakage * float(sel.sum()) / runs * period_ns}
    lib = synth.library
    return {
        "library": {"name": lib.name, "path": synth.liberty, "voltage": lib.voltage},
        "synthesis": {"tool": synth.tool, "flow": "synth (memories kept) -> techmap -> dfflibmap -> abc -fast, "
                      "hierarchy kept", "work_dir": str(synth.work_dir)},
        "clock_mhz": clock_mhz,
        "method": {"area": "sum of Liberty cell areas of the mapped netlist (no placement or routing) plus "
                           "SRAM macros for memories", "power": METHOD, "sram": sram.describe(),
                   "activity": "zero-delay simulation: dynamic power is a lower bound (no glitches)",
                   "simulator": sim},
        "workload": {"description": workload.description, "steps": runs, "step": workload.step_name,
                     "cycles_per_step": cycles_per_step, "cycles_simulated": act.cycles,
                     "toggles": act.toggles, "wall_s": round(wall_s, 1)},
        "area_um2": {"total": sum(e["area_um2"] for e in blocks.values()),
                     "logic": sum(e["area_um2"] for k, e in blocks.items() if k != MEMORIES),
                     "blocks": {k: e["area_um2"] for k, e in blocks.items()}},
        "power_mw": {"dynamic": dynamic, "leakage": leakage, "total": dynamic + leakage,
                     "blocks": {k: {"dynamic": e["dynamic_mw"], "leakage": e["leakage_mw"]}
                                for k, e in blocks.items()}},
        "energy": {"per_step_pj": per_step + leakage * step_time_ns,
                   "dynamic_per_step_pj": per_step, "leakage_per_step_pj": leakage * step_time_ns,
                   "logic_dynamic_per_step_pj": per_step - blocks.get(MEMORIES, {}).get("energy_per_step_pj", 0.0),
                   "step": workload.step_name, "phases": phases},
        "blocks": blocks,
        "memories": mem_rows,
        "flops": sum(e["flops"] for e in blocks.values()),
    }
