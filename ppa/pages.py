"""The pages of a power, performance and area report: report.json, report.md, report.html and plots.

`write_report` renders any report dict the flows produce (`ppa.estimate` figures, plus the optional
sections a design report adds: energy model, comparison, sweep, inventory). The HTML is self-contained
(plots embedded) and opens from disk.
"""

import base64
import io

import numpy as np

from quant.fsio import atomic_write_json, atomic_write_text, atomic_write_bytes

__all__ = ["write_report"]


def _say(progress, message):
    if progress:
        progress(message)


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return buf.getvalue()


def _plots(report):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plots = {}
    blocks = report["blocks"]
    names = list(blocks)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].barh(names, [blocks[n]["area_um2"] / 1e3 for n in names], color="#4c72b0")
    axes[0].set_xlabel("area (1000 um^2)")
    axes[0].set_title("area by block")
    axes[1].barh(names, [blocks[n]["dynamic_mw"] for n in names], color="#dd8452", label="dynamic")
    axes[1].barh(names, [blocks[n]["leakage_mw"] for n in names], left=[blocks[n]["dynamic_mw"] for n in names],
                 color="#55a868", label="leakage")
    axes[1].set_xlabel(f"power (mW at {report['clock_mhz']:g} MHz)")
    axes[1].set_title("power by block (zero-delay: lower bound)")
    axes[1].legend(fontsize=8)
    axes[1].set_yticklabels([])
    fig.tight_layout()
    plots["breakdown"] = _png(fig)
    phases = report["energy"]["phases"]
    if phases:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.bar(list(phases), [p["dynamic_energy_pj"] / 1e3 for p in phases.values()], color="#8172b3")
        ax.set_ylabel("energy per step (nJ)")
        ax.set_title("energy per training step by phase")
        fig.tight_layout()
        plots["phases"] = _png(fig)
    comp = report.get("comparison")
    if comp:
        designs = comp["designs"]
        keys = [("area_um2", "area (mm^2)", 1e-6), ("power_mw", "power (mW)", 1.0),
                ("energy_per_step_pj", "energy/step (nJ)", 1e-3)]
        fig, axes = plt.subplots(1, len(keys), figsize=(11, 3.4))
        for ax, (key, label, scale) in zip(axes, keys):
            ax.bar(list(designs), [d[key] * scale for d in designs.values()],
                   color=["#4c72b0", "#c44e52", "#55a868", "#8172b3"][:len(designs)])
            ax.set_title(label)
            ax.tick_params(axis="x", labelsize=8)
        fig.tight_layout()
        plots["comparison"] = _png(fig)
    sweep = report.get("sweep")
    if sweep:
        pts = sweep["points"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
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
        fig.suptitle("sweep: multipliers P x bitwidth")
        fig.tight_layout()
        plots["pareto"] = _png(fig)
    return plots


def _fmt(v, digits=3):
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e5 else f"{v:,.0f}"
    return str(v)


def _markdown(report, plots):
    r = report
    lines = [f"# {r['design']} power, performance and area report", "",
             f"- library: {r['library']['name']} ({r['library']['voltage']} V), `{r['library']['path']}`",
             f"- clock: {r['clock_mhz']:g} MHz; synthesis: {r['synthesis']['tool']}, {r['synthesis']['flow']}",
             f"- workload: {r['workload']['description']}; {r['workload']['cycles_per_step']:.0f} cycles per "
             f"{r['workload']['step']}",
             f"- area method: {r['method']['area']}",
             f"- power method: {r['method']['power']}",
             f"- memories: {r['method']['memories']}", ""]
    tm = r.get("timing")
    if tm:
        lines += ["## Timing", "",
                  f"- clock: {tm['clock_used_mhz']:g} MHz ({tm['clock_source']}); fmax {tm['fmax_mhz']:.1f} MHz"
                  + ("" if tm["met"] else " **(the clock is above fmax: timing NOT met)**"),
                  f"- critical path: {tm['critical_path_ns']:.3f} ns, {tm['levels']} cells, from {tm['startpoint']} "
                  f"to {tm['endpoint']}, through {' -> '.join(tm['blocks'])}",
                  f"- worst slack at {tm['clock_mhz'] or 1000 / tm['period_ns']:g} MHz: {tm['worst_slack_ns']:.3f} ns; "
                  f"max-transition violations {tm['slew_violations']}, max-capacitance violations "
                  f"{tm['capacitance_violations']}",
                  f"- {tm['memories_timing']}", f"- method: {tm['method']}; {tm['tool']}, wire load {tm['wire_load']}",
                  ""]
    act = r.get("activity")
    if act:
        lines += ["## Switching activity", "",
                  f"Every net accounted for ({act['simulator']}); SAIF: `{r.get('files', {}).get('saif', '')}`.", "",
                  "| nets | count | meaning |", "| --- | ---: | --- |"]
        lines += [f"| {k} | {v} | {act['meaning'].get(k, '')} |" for k, v in act["nets"].items()]
        lines += [""]
        sim = r["workload"].get("simulation")
        if sim:
            build = "" if sim.get("build_s") is None else f", build {sim['build_s']:.1f} s (0: cached)"
            lines += [f"Simulated by {sim['simulator']}: {sim['cycles']:,} cycles in {sim['run_s']:.2f} s "
                      f"({sim['cycles_per_s']:,.0f} cycles/s){build}, {sim['nets']:,} nets.", ""]
        g = r.get("glitches")
        if g:
            lines += ["## Glitches (timing-annotated window)", "",
                      f"Dynamic power {g['dynamic_mw_zero_delay']:.4g} mW at zero delay (the whole workload, a lower "
                      f"bound); {g['dynamic_mw_with_glitches']:.4g} mW with glitches: the standard cells use "
                      f"{g['ratio']:.3f}x the zero-delay energy on {g['window']} "
                      f"({g['cells_pj_per_step_with_delays']:,.1f} against {g['cells_pj_per_step_zero_delay']:,.1f} pJ "
                      f"per step; {g['toggles_with_delays']:,} against {g['toggles_zero_delay']:,} toggles; clock "
                      f"period {g['period_ns']} ns).", "", f"Method: {g['method']}.", ""]
        spread = r["energy"].get("spread")
        if spread:
            lines += [f"Dynamic energy per {r['workload']['step']} over the workload ({spread['count']} of them): "
                      f"mean {spread['mean_pj']:,.1f} pJ, min {spread['min_pj']:,.1f} pJ, max {spread['max_pj']:,.1f} pJ, "
                      f"standard deviation {spread['std_pj']:,.1f} pJ.", ""]
    lines += [
             "| block | area (um^2) | cells | flops | dynamic (mW) | leakage (mW) | energy/step (pJ) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, b in r["blocks"].items():
        lines.append(f"| {name} | {b['area_um2']:,.0f} | {b['cells']} | {b['flops']} | {b['dynamic_mw']:.4g} | "
                     f"{b['leakage_mw']:.3g} | {b['energy_per_step_pj']:,.0f} |")
    lines.append(f"| **total** | **{r['area_um2']['total']:,.0f}** | | {r['flops']} | "
                 f"**{r['power_mw']['dynamic']:.4g}** | **{r['power_mw']['leakage']:.3g}** | "
                 f"**{r['energy']['dynamic_per_step_pj']:,.0f}** |")
    lines += ["", f"Energy per {r['energy']['step']}: {r['energy']['per_step_pj']:,.0f} pJ "
                  f"(dynamic {r['energy']['dynamic_per_step_pj']:,.0f}, leakage {r['energy']['leakage_per_step_pj']:.3g}); "
                  "zero-delay activity: a lower bound."]
    if r["energy"]["phases"]:
        lines += ["", "| phase | cycles/step | dynamic energy/step (pJ) |", "| --- | ---: | ---: |"]
        lines += [f"| {k} | {p['cycles_per_step']:.0f} | {p['dynamic_energy_pj']:,.0f} |"
                  for k, p in r["energy"]["phases"].items()]
    em = r.get("energy_model")
    if em:
        lines += _energy_model_lines(em)
    return _more_sections(r, lines, plots)


def _energy_model_lines(em):
    lines = ["", "## Energy model vs gate level (same workload)", "", em["method"], "",
              "| term | pJ per step |", "| --- | ---: |"]
    lines += [f"| {k} | {v:,.0f} |" for k, v in em["terms"].items()]
    lines += [f"| **model total** | **{em['per_step_pj']:,.0f}** |",
              f"| gate level | {em['gate_level_pj']:,.0f} |", "",
              f"Difference: {100 * em['difference']:+.1f}% in total; standard cells alone (model "
              f"{em['logic_model_pj']:,.0f} pJ vs gate level {em['logic_gate_level_pj']:,.0f} pJ): "
              f"{100 * (em['logic_difference'] or 0):+.1f}%. Goal: within 25%."]
    return lines


def _more_sections(r, lines, plots):
    comp = r.get("comparison")
    if comp:
        lines += ["", "## Comparison", "", comp["baseline"], ""]
        if comp.get("equal"):
            lines += [f"- equal: {comp['equal']}", f"- not equal: {comp['not_equal']}", ""]
        designs = comp["designs"]
        lines += ["| design | area (um^2) | power (mW) | energy/step (pJ) | cycles/step |" +
                  (" weight memory (bits) |" if "weight_memory_bits" in next(iter(designs.values())) else ""),
                  "| --- | ---: | ---: | ---: | ---: |" +
                  (" ---: |" if "weight_memory_bits" in next(iter(designs.values())) else "")]
        for name, d in designs.items():
            row = (f"| {name} | {d['area_um2']:,.0f} | {d['power_mw']:.4g} | {d['energy_per_step_pj']:,.0f} | "
                   f"{d['cycles_per_step']:.0f} |")
            if "weight_memory_bits" in d:
                row += f" {d['weight_memory_bits']} |"
            lines.append(row)
        if "power_ratio" in comp:
            lines += ["", f"Baseline / TaxoNN: power {comp['power_ratio']:.2f}x (paper: {comp['paper']['power_ratio']}x), "
                          f"area {comp['area_ratio']:.2f}x (paper: {comp['paper']['area_ratio']}x; standard cells alone "
                          f"{comp['logic_area_ratio']:.2f}x), energy per step {comp['energy_per_step_ratio']:.2f}x."]
        else:
            lines += ["", "| vs fixed12 | area | power | energy/step | weight memory | speedup (own fmax) | "
                          "throughput at equal area |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for m, v in comp["vs_fixed12"].items():
                lines.append(f"| {m} | {v['area_ratio']:.2f}x | {v['power_ratio']:.2f}x | "
                             f"{v['energy_per_step_ratio']:.2f}x | {v['weight_memory_ratio']:.1f}x | "
                             f"{v['speedup']:.2f}x | {v['throughput_at_equal_area_ratio']:.2f}x |")
            lines += ["", f"Paper's claims: up to {comp['paper']['memory_saving']}x memory saving and "
                          f"{comp['paper']['speedup']}x speedup over full precision."]
    sweep = r.get("sweep")
    if sweep:
        lines += ["", "## Sweep: P x bitwidth", "", sweep["method"], "",
                  "| P | bits | area (um^2) | energy/step (pJ) | cycles/step | accuracy | Pareto |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | :---: |"]
        lines += [f"| {p['pes']} | {p['bits']} | {p['area_um2']:,.0f} | {p['energy_per_step_pj']:,.0f} | "
                  f"{p['cycles_per_step']} | {100 * p['accuracy']:.2f}% | {'yes' if p['pareto'] else ''} |"
                  for p in sweep["points"]]
    if r.get("memories"):
        lines += ["", "## Memories", "", "| memory | words x width | implementation | area (um^2) | reads/step | "
                  "writes/step | energy/step (pJ) |", "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
        for m in r["memories"]:
            if m.get("area_um2") is None:
                lines.append(f"| {m['name']} | {m['words']} x {m['width']} | cells | (in its block) | | | |")
            else:
                lines.append(f"| {m['name']} | {m['words']} x {m['width']} | {m['implementation']} | "
                             f"{m['area_um2']:,.0f} | {m['reads_per_step']:.0f} | {m['writes_per_step']:.0f} | "
                             f"{m['energy_per_step_pj']:,.0f} |")
    inv = r.get("inventory")
    if inv:
        lines += ["", "## Design inventory (pyverilog, generated Verilog)", "",
                  "| module | ports | reg declarations (bits) | memories |", "| --- | ---: | ---: | --- |"]
        for mod in inv["modules"]:
            mems = ", ".join(f"{m['name']} {m['words']}x{m['width']}" for m in mod["memories"]) or "-"
            lines.append(f"| {mod['name'].lstrip(chr(92))} | {len(mod['ports'])} | {mod['registers']['count']} "
                         f"({mod['registers']['bits']}) | {mems} |")
    lines += [""] + [f"![{name}]({name}.png)" for name in plots] + [""]
    return "\n".join(lines)


def _html(markdown_text, plots):
    import html as _h
    body = []
    in_table = False
    for line in markdown_text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<td>{_h.escape(c).replace('**', '')}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("![") and "](" in line:
            name = line[2:line.index("]")]
            data = base64.b64encode(plots[name]).decode()
            body.append(f'<p><img alt="{name}" src="data:image/png;base64,{data}"></p>')
        elif line.startswith("# "):
            body.append(f"<h1>{_h.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{_h.escape(line[3:])}</h2>")
        elif line.startswith("- "):
            body.append(f"<li>{_h.escape(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{_h.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td{border:1px solid #ccc;padding:3px 8px}"
             "tr:first-child td{font-weight:bold;background:#f0f0f0}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>bitforge report</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def write_report(report, out, progress=None):
    """Write report.json, report.md, report.html and the plots (PNG) of ``report`` into ``out``."""
    plots = _plots(report)
    for name, data in plots.items():
        atomic_write_bytes(out / f"{name}.png", data)
    text = _markdown(report, plots)
    atomic_write_text(out / "report.md", text)
    atomic_write_text(out / "report.html", _html(text, plots))
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
