"""The pages of a power, performance and area report: report.json, report.md, report.html and plots.

`write_report` renders any report dict the flows produce (`ppa.estimate` figures, plus the optional
sections a design report adds: energy model, comparison, sweep, inventory) as one `ppa.page.Page`:
the headline first (what was verified, the key figures with their clock and method, the ratios
against the papers' claims), then the sections. The HTML is self-contained (plots embedded) and opens
from disk; the Markdown links the PNG files written beside it.
"""

import re
from pathlib import Path

import numpy as np

from quant.fsio import atomic_write_json, atomic_write_text, atomic_write_bytes

from .page import Page, Section, Table, Figure, Bullets, Links, to_markdown, to_html, plot_png

__all__ = ["write_report", "report_page"]

_COLORS = ["#4c72b0", "#c44e52", "#55a868", "#8172b3", "#dd8452"]


def _say(progress, message):
    if progress:
        progress(message)


def _plots(report):
    """{name: Figure} of the report's plots, all at `ppa.page.FIGURE_SIZE`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plots = {}
    blocks = report["blocks"]
    names = list(blocks)
    clock = f"{report['clock_mhz']:g} MHz"
    fig, axes = plt.subplots(1, 2)
    axes[0].barh(names, [blocks[n]["area_um2"] / 1e3 for n in names], color=_COLORS[0])
    axes[0].set_xlabel("area (1000 um^2)")
    axes[0].set_title("area by block")
    axes[1].barh(names, [blocks[n]["dynamic_mw"] for n in names], color=_COLORS[4], label="dynamic")
    axes[1].barh(names, [blocks[n]["leakage_mw"] for n in names], left=[blocks[n]["dynamic_mw"] for n in names],
                 color=_COLORS[2], label="leakage")
    axes[1].set_xlabel(f"power (mW at {clock})")
    axes[1].set_title("power by block")
    axes[1].legend(fontsize=8)
    axes[1].set_yticklabels([])
    plots["breakdown"] = Figure(plot_png(fig), f"Area (1000 um^2, Liberty cell areas plus SRAM macros) and power "
                                               f"(mW at {clock}: zero-delay dynamic, a lower bound, plus leakage) "
                                               f"of each block of the {report['design']} netlist.", "breakdown.png")
    phases = report["energy"]["phases"]
    if phases:
        fig, ax = plt.subplots()
        ax.bar(list(phases), [p["dynamic_energy_pj"] / 1e3 for p in phases.values()], color=_COLORS[3])
        ax.set_ylabel("dynamic energy per step (nJ)")
        ax.set_title(f"energy per {report['energy']['step']} by phase")
        plots["phases"] = Figure(plot_png(fig), f"Dynamic energy (nJ) of one {report['energy']['step']} spent in "
                                                "each phase of the schedule, cells and memories together.",
                                 "phases.png")
    comp = report.get("comparison")
    if comp:
        designs = comp["designs"]
        keys = [("area_um2", "area (mm^2)", 1e-6), ("power_mw", "power (mW)", 1.0),
                ("energy_per_step_pj", f"energy per {report['energy']['step']} (nJ)", 1e-3)]
        fig, axes = plt.subplots(1, len(keys))
        for ax, (key, label, scale) in zip(axes, keys):
            ax.bar(list(designs), [d[key] * scale for d in designs.values()], color=_COLORS[:len(designs)])
            ax.set_title(label)
            ax.tick_params(axis="x", labelsize=8)
        clocks = ", ".join(f"{name} {d['clock_mhz']:g} MHz" for name, d in designs.items())
        plots["comparison"] = Figure(plot_png(fig), f"Area (mm^2), total power (mW) and energy per "
                                                    f"{report['energy']['step']} (nJ) of the compared designs, each "
                                                    f"at its own clock ({clocks}).", "comparison.png")
    sweep = report.get("sweep")
    if sweep:
        pts = sweep["points"]
        fig, axes = plt.subplots(1, 2)
        for ax, key, label in ((axes[0], "area_um2", "area (mm^2)"), (axes[1], "energy_per_step_pj", "energy per step (nJ)")):
            scale = 1e-6 if key == "area_um2" else 1e-3
            for bits in sorted({p["bits"] for p in pts}):
                sel = [p for p in pts if p["bits"] == bits]
                ax.scatter([p[key] * scale for p in sel], [100 * p["accuracy"] for p in sel], s=40,
                           label=f"{bits}-bit", marker="o")
                for p in sel:
                    ax.annotate(f"P={p['pes']}", (p[key] * scale, 100 * p["accuracy"]), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
            front = sorted([p for p in pts if p["pareto"]], key=lambda p: p[key])
            ax.plot([p[key] * scale for p in front], [100 * p["accuracy"] for p in front], "k--", lw=0.8,
                    label="Pareto points")
            ax.set_xlabel(label)
            ax.set_ylabel("test accuracy (%)")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        plots["pareto"] = Figure(plot_png(fig), "Sweep of multipliers P x bitwidth: test accuracy (%) against area "
                                                "(mm^2, left) and energy per training step (nJ, right); the dashed "
                                                "line joins the Pareto points.", "pareto.png")
    return plots


def _n(v, digits=4):
    """A figure for a table cell: grouped thousands for large values, ``digits`` significant otherwise."""
    if v is None:
        return "-"
    if isinstance(v, (int, np.integer)):
        return f"{v:,}"
    return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.{digits}g}"


def _timing_note(r):
    tm = r.get("timing")
    if not tm:
        return f"{r['clock_mhz']:g} MHz (no timing analysis)"
    met = "met" if tm["met"] else "NOT met"
    return f"{tm['clock_used_mhz']:g} MHz ({tm['clock_source']}; timing {met}, fmax {tm['fmax_mhz']:.1f} MHz)"


def _clock_short(r):
    tm = r.get("timing")
    if not tm:
        return f"{r['clock_mhz']:g} MHz, not timed"
    return f"{tm['clock_used_mhz']:g} MHz, timing {'met' if tm['met'] else 'NOT met'}"


def _verified(r):
    w = r["workload"]
    sim = (w.get("simulation") or {}).get("simulator") or r["method"].get("simulator", "")
    run = f"{w['steps']:,} {w['step']}(s), {w['cycles_simulated']:,} cycles simulated on {sim}"
    if "golden model" in w["check"]:
        text = (f"Verified: {w['check']}, 0 mismatches (a mismatch stops the report). Workload: "
                f"{w['description']}; {run}.")
    else:
        text = f"Result check: {w['check']}. Workload: {w['description']}; {run}."
    model = w.get("cycles_model")
    if model is not None:
        agree = "equal" if model == w["cycles_per_step"] else "DIFFERENT"
        text += (f" Cycles per {w['step']}: {w['cycles_per_step']:g} on the netlist, {model:g} by the golden "
                 f"model's schedule ({agree}).")
    return text


def _key_figures(r):
    step = r["energy"]["step"]
    clock = _clock_short(r)
    lib = f"{r['library']['name']} ({r['library']['voltage']} V)"
    rows = [("area", f"{r['area_um2']['total'] / 1e6:.4g} mm^2", "-", f"Liberty cell areas + SRAM macros; {lib}"),
            ("power", f"{r['power_mw']['total']:.4g} mW (dynamic {r['power_mw']['dynamic']:.4g}, leakage "
                      f"{r['power_mw']['leakage']:.3g})", clock, "gate-level, zero-delay activity (a lower bound)"),
            (f"energy per {step}", f"{r['energy']['per_step_pj'] / 1e3:.4g} nJ", clock,
             f"gate-level, {r['workload']['cycles_per_step']:g} cycles per {step}")]
    g = r.get("glitches")
    if g:
        rows.append(("dynamic power with glitches", f"{g['dynamic_mw_with_glitches']:.4g} mW ({g['ratio']:.3f}x "
                                                    f"zero-delay)", f"{g['period_ns']} ns period",
                     "timing-annotated simulation (SDF from OpenSTA) of a window"))
    if r.get("throughput_per_mm2"):
        rows.append(("throughput", f"{r['throughput_steps_per_s'] / 1e6:.4g} M {step}s/s, "
                                   f"{r['throughput_per_mm2'] / 1e6:.4g} M {step}s/s per mm^2", clock,
                     "golden-model schedule x clock"))
    return Table(("figure", "value", "clock", "method"), tuple(rows),
                 caption=f"Key figures of {r['design']} on {lib}.")


def _claims(r):
    comp = r.get("comparison")
    if not comp:
        return []
    if "power_ratio" in comp:
        rows = (("area", f"{comp['area_ratio']:.2f}x", f"{comp['paper']['area_ratio']}x",
                 f"standard cells alone {comp['logic_area_ratio']:.2f}x"),
                ("power", f"{comp['power_ratio']:.2f}x", f"{comp['paper']['power_ratio']}x",
                 "each design at its own clock"),
                ("energy per step", f"{comp['energy_per_step_ratio']:.2f}x", "-", ""))
        return [Table(("baseline / TaxoNN", "measured", "paper", "note"), rows, numeric=(False, True, True, False),
                      caption="Ratios of the dedicated-arrays 16-bit baseline to TaxoNN, measured against the "
                              "paper's claims.")]
    paper, vs = comp["paper"], comp["vs_fixed12"]
    claims = (("weight memory saving", f"up to {paper['memory_saving']:g}x", "weight_memory_ratio", "{:.1f}x"),
              ("speedup (each at its own fmax)", f"up to {paper['speedup']:g}x", "speedup", "{:.2f}x"),
              ("throughput per mm^2", "-", "throughput_at_equal_area_ratio", "{:.2f}x"),
              ("area saving", "-", "area_ratio", "{:.2f}x"),
              ("power saving", "-", "power_ratio", "{:.2f}x"),
              ("energy per step saving", "-", "energy_per_step_ratio", "{:.2f}x"))
    rows = tuple((name, claim) + tuple(fmt.format(v[key]) for v in vs.values()) for name, claim, key, fmt in claims)
    return [Table(("fixed12 / mode", "paper") + tuple(vs), rows, numeric=(False, True) + (True,) * len(vs),
                  caption="Each mode against the 12-bit design of the same generator, each network trained in its "
                          "own mode, each design at its own clock.")]


def _tool(text):
    """A tool's name and version without the path it ran from (pages leave the writer's machine)."""
    return re.sub(r" \(/[^)]*\)", "", text)


def _setup(r):
    items = [f"library: {r['library']['name']} ({r['library']['voltage']} V), {r['library']['path']}",
             f"clock: {_timing_note(r)}",
             f"synthesis: {_tool(r['synthesis']['tool'])}, {r['synthesis']['flow']}",
             f"workload: {r['workload']['description']}; {r['workload']['cycles_per_step']:.0f} cycles per "
             f"{r['workload']['step']}",
             f"area method: {r['method']['area']}", f"power method: {r['method']['power']}",
             f"memories: {r['method']['memories']}"]
    if r.get("weights"):
        items.append(f"weights: {r['weights']}")
    if r.get("sources"):
        items.append(f"sources: {', '.join(r['sources'])}")
    return Section("Setup", (Bullets(tuple(items)),))


def goal_line(goal):
    """The sentence a report gives its ``clock_goal`` (`bitforge.report.clock_goal`; '' for None): met or not
    at its pipeline depth, and where not the path that prevents it and what ``--target-mhz`` would try."""
    if not goal:
        return ""
    at = "" if goal["depth"] is None else f" at pipeline depth {goal['depth']}"
    if goal["met"]:
        return f"clock goal {goal['goal_mhz']:g} MHz: met{at} (fmax {goal['fmax_mhz']:.1f} MHz)"
    line = (f"clock goal {goal['goal_mhz']:g} MHz: not met{at} (fmax {goal['fmax_mhz']:.1f} MHz): the critical path is "
            f"{goal['critical_path_ns']:.3f} ns, {goal['levels']} cells, from {goal['startpoint']} to "
            f"{goal['endpoint']}")
    if goal["deeper"]:
        return line + (f"; --target-mhz {goal['goal_mhz']:g} tries pipeline depths "
                       f"{', '.join(map(str, goal['deeper']))} and builds the shallowest that meets it")
    return line + ("; no deeper pipeline to try" if goal["depth"] is not None
                   else "; this design has no pipeline option yet")


def _timing(tm, goal=None):
    goal_item = (goal_line(goal),) if goal else ()
    return Section("Timing", (Bullets(goal_item + (
        f"clock: {tm['clock_used_mhz']:g} MHz ({tm['clock_source']}); fmax {tm['fmax_mhz']:.1f} MHz"
        + ("" if tm["met"] else " (the clock is above fmax: timing NOT met)"),
        f"critical path: {tm['critical_path_ns']:.3f} ns, {tm['levels']} cells, from {tm['startpoint']} to "
        f"{tm['endpoint']}, through {' -> '.join(tm['blocks'])}",
        f"worst slack at {tm['clock_mhz'] or 1000 / tm['period_ns']:g} MHz: {tm['worst_slack_ns']:.3f} ns; "
        f"max-transition violations {tm['slew_violations']}, max-capacitance violations {tm['capacitance_violations']}",
        tm["memories_timing"], f"method: {tm['method']}; {tm['tool']}, wire load {tm['wire_load']}")),))


def _activity(r, act):
    blocks = [f"Every net accounted for ({act['simulator']}); SAIF: {r.get('files', {}).get('saif', '-')}.",
              Table(("nets", "count", "meaning"), tuple((k, _n(v), act["meaning"].get(k, ""))
                                                        for k, v in act["nets"].items()), numeric=(False, True, False))]
    sim = r["workload"].get("simulation")
    if sim:
        build = "" if sim.get("build_s") is None else f", build {sim['build_s']:.1f} s (0: cached)"
        blocks.append(f"Simulated by {sim['simulator']}: {sim['cycles']:,} cycles in {sim['run_s']:.2f} s "
                      f"({sim['cycles_per_s']:,.0f} cycles/s){build}, {sim['nets']:,} nets.")
    spread = r["energy"].get("spread")
    if spread:
        blocks.append(f"Dynamic energy per {r['workload']['step']} over the workload ({spread['count']} of them): "
                      f"mean {spread['mean_pj']:,.1f} pJ, min {spread['min_pj']:,.1f} pJ, max {spread['max_pj']:,.1f} "
                      f"pJ, standard deviation {spread['std_pj']:,.1f} pJ.")
    return Section("Switching activity", tuple(blocks))


def _glitches(g):
    return Section("Glitches (timing-annotated window)", (
        f"Dynamic power {g['dynamic_mw_zero_delay']:.4g} mW at zero delay (the whole workload, a lower bound); "
        f"{g['dynamic_mw_with_glitches']:.4g} mW with glitches: the standard cells use {g['ratio']:.3f}x the "
        f"zero-delay energy on {g['window']} ({g['cells_pj_per_step_with_delays']:,.1f} against "
        f"{g['cells_pj_per_step_zero_delay']:,.1f} pJ per step; {g['toggles_with_delays']:,} against "
        f"{g['toggles_zero_delay']:,} toggles; clock period {g['period_ns']} ns).", f"Method: {g['method']}."))


def _blocks(r, plots):
    rows = [(name, _n(b["area_um2"]), _n(b["cells"]), _n(b["flops"]), f"{b['dynamic_mw']:.4g}",
             f"{b['leakage_mw']:.3g}", _n(b["energy_per_step_pj"])) for name, b in r["blocks"].items()]
    rows.append(("total", _n(r["area_um2"]["total"]), "", _n(r["flops"]), f"{r['power_mw']['dynamic']:.4g}",
                 f"{r['power_mw']['leakage']:.3g}", _n(r["energy"]["dynamic_per_step_pj"])))
    e = r["energy"]
    blocks = [Table(("block", "area (um^2)", "cells", "flops", "dynamic (mW)", "leakage (mW)",
                     f"energy per {e['step']} (pJ)"), tuple(rows), numeric=(False,) + (True,) * 6,
                    strong=(len(rows) - 1,)),
              f"Energy per {e['step']}: {e['per_step_pj']:,.0f} pJ (dynamic {e['dynamic_per_step_pj']:,.0f}, leakage "
              f"{e['leakage_per_step_pj']:.3g}); zero-delay activity: a lower bound.", plots["breakdown"]]
    if e["phases"]:
        blocks.append(Table(("phase", f"cycles per {e['step']}", "dynamic energy per step (pJ)"),
                            tuple((k, f"{p['cycles_per_step']:.0f}", _n(p["dynamic_energy_pj"]))
                                  for k, p in e["phases"].items()), numeric=(False, True, True)))
        blocks.append(plots["phases"])
    return Section("Area and power by block", tuple(blocks))


def _energy_model(em):
    rows = tuple((k, _n(v)) for k, v in em["terms"].items()) + (("model total", _n(em["per_step_pj"])),
                                                                ("gate level", _n(em["gate_level_pj"])))
    return Section("Energy model vs gate level (same workload)", (
        em["method"], Table(("term", "pJ per step"), rows, numeric=(False, True), strong=(len(rows) - 2,)),
        f"Difference: {100 * em['difference']:+.1f}% in total; standard cells alone (model "
        f"{em['logic_model_pj']:,.0f} pJ vs gate level {em['logic_gate_level_pj']:,.0f} pJ): "
        f"{100 * (em['logic_difference'] or 0):+.1f}%. Goal: within 25%."))


def _comparison(comp, plots):
    blocks = [comp["baseline"]]
    if comp.get("equal"):
        blocks.append(Bullets((f"equal: {comp['equal']}", f"not equal: {comp['not_equal']}")))
    designs = comp["designs"]
    memory = "weight_memory_bits" in next(iter(designs.values()))
    header = ("design", "clock (MHz)", "area (um^2)", "power (mW)", "energy per step (pJ)", "cycles per step") \
        + (("weight memory (bits)",) if memory else ())
    rows = tuple((name, f"{d['clock_mhz']:g}", _n(d["area_um2"]), f"{d['power_mw']:.4g}", _n(d["energy_per_step_pj"]),
                  f"{d['cycles_per_step']:.0f}") + ((_n(d["weight_memory_bits"]),) if memory else ())
                 for name, d in designs.items())
    blocks += [Table(header, rows, numeric=(False,) + (True,) * (len(header) - 1)), plots["comparison"]]
    return Section("Comparison", tuple(blocks))


def _sweep(sweep, plots):
    rows = tuple((str(p["pes"]), str(p["bits"]), _n(p["area_um2"]), _n(p["energy_per_step_pj"]),
                  str(p["cycles_per_step"]), f"{100 * p['accuracy']:.2f}%", "yes" if p["pareto"] else "")
                 for p in sweep["points"])
    return Section("Sweep: P x bitwidth", (sweep["method"], Table(
        ("P", "bits", "area (um^2)", "energy per step (pJ)", "cycles per step", "accuracy", "Pareto"), rows,
        numeric=(True,) * 6 + (False,)), plots["pareto"]))


def _zero_skip(z):
    return Section("Zero weights skipped (ternary)", (
        Table(("weights", "energy of the add/subtract/skip trees per step", "all energy per step"),
              ((f"trained: {100 * z['sparsity']:.1f}% zeros ({z['zero_weights']:,} of {z['weights']:,})",
                f"{z['trees_pj_per_step']:,.0f} pJ", f"{z['total_pj_per_step']:,.0f} pJ"),
               ("the same with every zero set to +1", f"{z['trees_pj_per_step_no_zeros']:,.0f} pJ",
                f"{z['total_pj_per_step_no_zeros']:,.0f} pJ")), numeric=(False, True, True)),
        f"Skipping the zeros saves {100 * (z['saving'] or 0):.1f}% of the trees' energy at "
        f"{100 * z['sparsity']:.1f}% sparsity. Method: {z['method']}."))


def _memories(mems):
    rows = []
    for m in mems:
        if m.get("area_um2") is None:
            rows.append((m["name"], f"{m['words']} x {m['width']}", "cells", "(in its block)", "", "", ""))
        else:
            rows.append((m["name"], f"{m['words']} x {m['width']}", m["implementation"], _n(m["area_um2"]),
                         f"{m['reads_per_step']:.0f}", f"{m['writes_per_step']:.0f}", _n(m["energy_per_step_pj"])))
    return Section("Memories", (Table(("memory", "words x width", "implementation", "area (um^2)", "reads per step",
                                       "writes per step", "energy per step (pJ)"), tuple(rows),
                                      numeric=(False, False, False, True, True, True, True)),))


def _inventory(inv):
    rows = tuple((mod["name"].lstrip("\\"), str(len(mod["ports"])),
                  f"{mod['registers']['count']} ({mod['registers']['bits']})",
                  ", ".join(f"{m['name']} {m['words']}x{m['width']}" for m in mod["memories"]) or "-")
                 for mod in inv["modules"])
    return Section("Design inventory (pyverilog, generated Verilog)", (Table(
        ("module", "ports", "reg declarations (bits)", "memories"), rows, numeric=(False, True, True, False)),))


def report_page(report, plots, out=None):
    """The `ppa.page.Page` of a report dict, with its ``plots`` ({name: Figure}, `_plots`); ``out``: the
    directory the page is written to (the report's files found there are linked)."""
    r = report
    headline = [_verified(r), _key_figures(r)] + _claims(r)
    sections = [_setup(r)]
    if r.get("timing"):
        sections.append(_timing(r["timing"], r.get("clock_goal")))
    sections.append(_blocks(r, plots))
    if r.get("activity"):
        sections.append(_activity(r, r["activity"]))
    if r.get("glitches"):
        sections.append(_glitches(r["glitches"]))
    if r.get("energy_model"):
        sections.append(_energy_model(r["energy_model"]))
    if r.get("comparison"):
        sections.append(_comparison(r["comparison"], plots))
    if r.get("sweep"):
        sections.append(_sweep(r["sweep"], plots))
    if r.get("zero_skip"):
        sections.append(_zero_skip(r["zero_skip"]))
    if r.get("memories"):
        sections.append(_memories(r["memories"]))
    if r.get("inventory"):
        sections.append(_inventory(r["inventory"]))
    files = [("report.json: every figure above, machine-readable", "report.json"),
             ("report.md: this page as Markdown", "report.md")] + [(p.name, p.name) for p in plots.values()]
    if out is not None:
        files += [(f, f) for f in (r.get("files") or {}).values() if (out / f).exists()]
    sections.append(Section("Files", (Links(tuple(files)),)))
    return Page(f"{r['design']}: power, performance and area", tuple(headline), tuple(sections),
                subtitle=f"{r['library']['name']}, {_timing_note(r)}")


def write_report(report, out, progress=None):
    """Write report.json, report.md, report.html and the plots (PNG) of ``report`` into ``out``."""
    plots = _plots(report)
    for fig in plots.values():
        atomic_write_bytes(out / fig.name, fig.png)
    page = report_page(report, plots, Path(out))
    atomic_write_text(out / "report.md", to_markdown(page))
    atomic_write_text(out / "report.html", to_html(page))
    atomic_write_json(out / "report.json", _jsonable(report))
    _say(progress, f"wrote {out / 'report.json'}, report.md, report.html")


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value
