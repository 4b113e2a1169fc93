"""One sweep trial, as a Ray task runs it: train with the hardware's arithmetic, generate the Verilog,
synthesize to the library, time it (OpenSTA), price its memories, and the fast energy model at the fmax found;
on request, the trained network checked on the RTL against the golden model, and (``front_power``) gate-level
power on the design's workload.

A trial works only inside its own directory (``request["work_dir"]``) and, for simulator builds, its own build
directory below it; synthesis results and unit characterizations are content-addressed caches under the build
root, shared between trials and locked while written (two trials synthesizing one netlist: the second waits and
reads). Nothing in the process environment is changed. Every failure is caught and returned with its message:
a failed trial is a result, not a crashed sweep.
"""

import json
import time
import traceback
from pathlib import Path

__all__ = ["run_trial", "front_power", "METHOD"]

METHOD = {
    "accuracy": "the design's training with the hardware's arithmetic (golden model), test split",
    "area": "Yosys synthesis to the library (minimum-delay mapping) + memories planned as the library's SRAM "
            "macros or cells (ppa.memories)",
    "fmax": "OpenSTA on the synthesized netlist (the library file's corner, its wire-load model; memories as macros "
            "timed with the slowest macro's own clock-to-output and setup), as `bitforge report` times it",
    "energy": "the fast energy model (ppa.energy_model): operation counts of the golden model's schedule x unit "
              "energies characterized at gate level in the same library",
    "throughput_per_mm2": "steps per second at fmax (the golden model's exact cycles per step) per mm^2 of area",
}


def _design(name):
    from bitforge.designs import DESIGNS
    return DESIGNS[name]


def run_trial(request):
    """Run the trial ``request`` (a JSON-able dict: design, config, budget, liberty, sram_liberty, work_dir,
    build_dir, verify, verify_sim, verify_samples, cpus); returns its result dict (``status`` "ok" or
    "failed" with ``error``)."""
    start = time.monotonic()
    work = Path(request["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    result = {"key": request["key"], "point": request["point"], "config": request["config"], "status": "failed",
              "work_dir": str(work)}
    try:
        _limit_threads(request.get("cpus", 1))
        result.update(_measure(request, work))
        result["status"] = "ok"
    except BaseException as e:  # a trial's failure is its result; the sweep goes on
        if isinstance(e, KeyboardInterrupt):
            raise
        from quant.errors import first_line
        result["error"] = f"{type(e).__name__}: {first_line(e, 400)}"
        result["traceback"] = traceback.format_exc(limit=8)
    result["seconds"] = round(time.monotonic() - start, 2)
    result["node"] = _node()
    (work / "trial.json").write_text(json.dumps(result, indent=1, sort_keys=True, default=str))
    return result


def _node():
    """The Ray node this trial ran on (None outside Ray)."""
    try:
        import ray
        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    except ImportError:
        return None


def _limit_threads(cpus):
    try:
        import torch
        torch.set_num_threads(max(1, int(cpus)))
    except ImportError:
        pass


def _measure(request, work):
    from ppa.estimate import memory_mode, time_with_memories
    from ppa.memories import macros_for
    from rtl.liberty import read_liberty
    from rtl.synth import synthesize
    from bitforge.jobs import write_generated
    design = _design(request["design"])
    cfg = design.config.from_json(request["config"])
    liberty, seconds = request["liberty"], {}

    t = time.monotonic()
    trained = design.train(cfg, request["budget"], work / "train")
    seconds["train"] = time.monotonic() - t

    t = time.monotonic()
    cycles = design.cycles_per_step(cfg)
    figures = design.figures(cfg)  # what `bitforge generate` records: the schedule's figures
    write_generated(lambda: design.component(cfg), design.name, cfg, work / "rtl", figures)
    macros = macros_for(read_liberty(liberty), request.get("sram_liberty"))
    synth = synthesize(design.component(cfg), liberty, memories=memory_mode(macros))
    seconds["synthesis"] = time.monotonic() - t

    t = time.monotonic()
    timing, plans, memories_timing = time_with_memories(synth, macros, work_dir=work / "sta")
    seconds["timing"] = time.monotonic() - t

    blocks = synth.area_by_block()
    logic = sum(b["area_um2"] for b in blocks.values())
    flops = sum(b["flops"] for b in blocks.values())
    memory = sum(p.area_um2 for p in plans.values())

    t = time.monotonic()
    model = design.energy(cfg, liberty, flops=flops, macros=macros)
    seconds["energy_model"] = time.monotonic() - t

    area = logic + memory
    fmax = timing.fmax_mhz
    throughput = fmax * 1e6 / cycles
    out = {
        **figures,
        "accuracy": trained["accuracy"], "accuracy_method": trained["accuracy_method"],
        "trained": trained.get("trained"),
        "area_um2": area, "logic_area_um2": logic, "memory_area_um2": memory, "cells": sum(len(synth.cells(m)) for _, m in synth.instances()),
        "fmax_mhz": fmax, "critical_path_ns": timing.critical_path_ns, "critical_path": f"{' > '.join(timing.blocks) or 'top'}, "
        f"{timing.levels} levels ({timing.startpoint} -> {timing.endpoint})",
        "energy_per_step_pj": model["per_step_pj"], "cycles_per_step": cycles, "step": design.step,
        "time_per_step_us": cycles / fmax, "throughput_steps_per_s": throughput,
        "throughput_per_mm2": throughput / (area * 1e-6),
        "library": synth.library.name, "clock": f"fmax {fmax:.1f} MHz (OpenSTA, no clock assumed; {memories_timing})",
        "verilog": str(work / "rtl" / f"{design.name}.v"),
    }
    if request.get("verify"):
        t = time.monotonic()
        out["verification"] = design.verify(cfg, trained.get("trained"), request["budget"], work / "verify",
                                            request["verify_sim"], request["verify_samples"],
                                            build_root=work / "build")
        seconds["verification"] = time.monotonic() - t
        if not out["verification"]["passed"]:
            raise RuntimeError(f"the RTL disagrees with the golden model on {request['verify_sim']}: "
                               f"{out['verification']['mismatches']} mismatches, first: "
                               f"{out['verification']['first_mismatch']}")
    out["seconds_by_stage"] = {k: round(v, 2) for k, v in seconds.items()}
    return out


def front_power(request):
    """Gate-level power of a finished trial on its design's workload (``request["trial"]``: its result): the
    netlist simulated on the compiled path (`ppa.estimate`), checked against the golden model, at fmax."""
    from ppa.estimate import estimate
    start = time.monotonic()
    trial = request["trial"]
    design = _design(request["design"])
    cfg = design.config.from_json(trial["config"])
    work = Path(trial["work_dir"]) / "power"
    try:
        _limit_threads(request.get("cpus", 1))
        workload = design.workload(cfg, trial.get("trained"), request["workload_size"], 0)
        fig = estimate(design.component(cfg), workload, request["liberty"], sim="verilator", out_dir=work,
                       sram_liberty=request.get("sram_liberty"), glitch_window=0)
        out = {"status": "ok", "power_mw": fig["power_mw"]["total"], "gate_energy_per_step_pj":
               fig["energy"]["per_step_pj"], "clock_mhz": fig["clock_mhz"],
               "workload": fig["workload"]["description"], "simulator": fig["workload"].get("simulator", "verilator")}
    except Exception as e:
        from quant.errors import first_line
        out = {"status": "failed", "error": f"{type(e).__name__}: {first_line(e, 400)}"}
    out["seconds"] = round(time.monotonic() - start, 2)
    return out
