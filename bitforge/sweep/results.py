"""What a sweep leaves in its directory: ``trials.json`` (every trial's config and figures), ``trials.csv``
(one row per trial), ``pareto.json`` (the non-dominated trials of the chosen objectives), the plots (every
pair of objectives with the front highlighted; accuracy against energy and against area), a page per trial
(``trials/<key>/report.html``) and ``index.html``/``index.md`` linking the front's trials first."""

import csv
import io
import json
from pathlib import Path

from ppa.page import Page, Section, Table, Figure, Bullets, Links, to_markdown, to_html, plot_png, relative_href
from quant.fsio import atomic_write_json, atomic_write_text, atomic_write_bytes

from .pareto import OBJECTIVES

__all__ = ["write_results", "CSV_FIGURES"]

CSV_FIGURES = ("accuracy", "area_um2", "logic_area_um2", "memory_area_um2", "fmax_mhz", "energy_per_step_pj",
               "cycles_per_step", "time_per_step_us", "throughput_per_mm2", "weight_memory_bits", "cells", "seconds")


def _fmt(field, v):
    if v is None:
        return ""
    if field == "accuracy":
        return f"{100 * v:.2f}%"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _point_text(point):
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in point.items())


def write_results(summary, out_dir, progress=None):
    """Write every file of the sweep ``summary`` (`bitforge.sweep.engine.run_sweep`) into ``out_dir``."""
    out = Path(out_dir)
    rows = summary["trials"]
    params = list(summary["space"]["params"])
    atomic_write_json(out / "trials.json", summary)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["index", "key", "status", "pareto", *params, *CSV_FIGURES, "verified", "error"])
    for r in rows:
        ver = r.get("verification")
        writer.writerow([r.get("index"), r["key"], r["status"], r.get("pareto", False),
                         *[json.dumps(r["point"].get(p)) for p in params],
                         *[r.get(f) for f in CSV_FIGURES],
                         "" if not ver else ("passed" if ver["passed"] else "FAILED"), r.get("error", "")])
    atomic_write_text(out / "trials.csv", buf.getvalue())
    front = [r for r in rows if r.get("pareto")]
    atomic_write_json(out / "pareto.json", {
        "objectives": summary["objectives"], "directions": summary["directions"],
        "trials": [{"key": r["key"], "point": r["point"], "config": r["config"],
                    **{OBJECTIVES[o][0]: r.get(OBJECTIVES[o][0]) for o in summary["objectives"]},
                    **({"gate_level": r["gate_level"]} if "gate_level" in r else {})} for r in front]})
    figures = _plots(summary)
    for fig in figures:
        atomic_write_bytes(out / fig.name, fig.png)
    for r in rows:
        if r["status"] == "ok":
            _trial_page(summary, r, out / "trials" / r["key"])
    index = _index(summary, figures)
    atomic_write_text(out / "index.md", to_markdown(index))
    atomic_write_text(out / "index.html", to_html(index))
    if progress:
        progress(f"wrote {out / 'index.html'}, trials.json, trials.csv, pareto.json")


# -- plots --------------------------------------------------------------------------

def _scatter(ax, rows, x, y):
    ok = [r for r in rows if r["status"] == "ok"]
    fx, fy = OBJECTIVES[x][0], OBJECTIVES[y][0]
    scale = {"accuracy": 100.0}
    other = [r for r in ok if not r.get("pareto")]
    front = sorted([r for r in ok if r.get("pareto")], key=lambda r: r[fx])
    ax.scatter([r[fx] * scale.get(x, 1) for r in other], [r[fy] * scale.get(y, 1) for r in other], s=18,
               color="#9aa5b1", label="trials")
    ax.scatter([r[fx] * scale.get(x, 1) for r in front], [r[fy] * scale.get(y, 1) for r in front], s=30,
               color="#c0392b", label="Pareto front", zorder=3)
    ax.set_xlabel(OBJECTIVES[x][2] + (" (%)" if x == "accuracy" else ""))
    ax.set_ylabel(OBJECTIVES[y][2] + (" (%)" if y == "accuracy" else ""))
    ax.grid(alpha=0.3)


def _plots(summary):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows, objectives = summary["trials"], summary["objectives"]
    if not any(r["status"] == "ok" for r in rows):
        return []
    out = []
    pairs = [(a, b) for i, a in enumerate(objectives) for b in objectives[i + 1:]]
    if pairs:
        cols = min(3, len(pairs))
        fig, axes = plt.subplots(1, cols, squeeze=False)
        for ax, (a, b) in zip(axes[0], pairs[:cols]):
            _scatter(ax, rows, a, b)
        axes[0][0].legend(fontsize=8)
        out.append(Figure(plot_png(fig), f"Objectives pairwise ({len(pairs)} pairs; the first {cols} shown), "
                                         f"the Pareto front of {', '.join(objectives)} in red", "pairs.png"))
        for k in range(cols, len(pairs), 3):
            fig, axes = plt.subplots(1, 3, squeeze=False)
            for ax, (a, b) in zip(axes[0], pairs[k:k + 3]):
                _scatter(ax, rows, a, b)
            for ax in axes[0][len(pairs[k:k + 3]):]:
                ax.axis("off")
            out.append(Figure(plot_png(fig), f"Objectives pairwise, pairs {k + 1} to {min(k + 3, len(pairs))}",
                              f"pairs-{k // 3}.png"))
    fig, axes = plt.subplots(1, 2, squeeze=False)
    _scatter(axes[0][0], rows, "energy", "accuracy")
    _scatter(axes[0][1], rows, "area", "accuracy")
    axes[0][0].legend(fontsize=8)
    out.append(Figure(plot_png(fig), "Accuracy against energy per step (left) and against area (right); red: "
                                     "the front of the chosen objectives", "accuracy.png"))
    return out


# -- pages --------------------------------------------------------------------------

def _figures_table(r):
    shown = [("accuracy", "accuracy"), ("area_um2", "area (um^2)"), ("logic_area_um2", "standard cells (um^2)"),
             ("memory_area_um2", "memories (um^2)"), ("fmax_mhz", "fmax (MHz)"),
             ("energy_per_step_pj", f"energy per {r.get('step', 'step')} (pJ)"),
             ("cycles_per_step", f"cycles per {r.get('step', 'step')}"), ("throughput_per_mm2", "steps/s per mm^2"),
             ("weight_memory_bits", "weight memory (bits)"), ("cells", "cells")]
    return Table(("figure", "value"), tuple((label, _fmt(f, r.get(f))) for f, label in shown if r.get(f) is not None),
                 numeric=(False, True))


def _trial_page(summary, r, directory):
    blocks = [f"Trial {r['key']} of the {summary['design']} sweep: {_point_text(r['point'])}.",
              _figures_table(r)]
    ver = r.get("verification")
    facts = [f"Library: {r.get('library')}; clock: {r.get('clock')}; critical path {r.get('critical_path_ns', 0):.3f} "
             f"ns, {r.get('critical_path')}",
             f"Accuracy: {r.get('accuracy_method')}",
             "Verified on the RTL: " + ("not sampled" if not ver else
                                        f"{ver['what']} on {ver['simulator']}, {ver['mismatches']} mismatches, "
                                        f"{ver['cycles']} cycles (model {ver['cycles_model']})"),
             f"Stages (s): {', '.join(f'{k} {v:g}' for k, v in (r.get('seconds_by_stage') or {}).items())}"]
    if r.get("gate_level", {}).get("status") == "ok":
        g = r["gate_level"]
        facts.append(f"Gate-level power: {g['power_mw']:.3f} mW at {g['clock_mhz']:.1f} MHz, "
                     f"{g['gate_energy_per_step_pj']:,.1f} pJ per step ({g['workload']})")
    files = [("trial.json", "trial.json")]
    if r.get("verilog") and Path(r["verilog"]).is_file():
        try:
            files.append((Path(r["verilog"]).name, relative_href(r["verilog"], directory)))
        except ValueError:
            pass
    page = Page(title=f"{summary['design']} sweep trial {r['key']}", headline=tuple(blocks),
                sections=(Section("Method and checks", (Bullets(tuple(facts)),)),
                          Section("Configuration", (Table(("field", "value"), tuple(
                              (k, json.dumps(v)) for k, v in r["config"].items())),)),
                          Section("Files", (Links(tuple(files)),))))
    atomic_write_text(directory / "report.md", to_markdown(page))
    atomic_write_text(directory / "report.html", to_html(page))


def _library(rows):
    names = sorted({r["library"] for r in rows if r.get("library")})
    return ", ".join(names) or "(no trial finished)"


def _objectives_text(summary):
    return ", ".join(f"{o} ({summary['directions'][o]})" for o in summary["objectives"])


def _index(summary, figures):
    rows, objectives = summary["trials"], summary["objectives"]
    c = summary["counts"]
    params = list(summary["space"]["params"])
    verified = [r for r in rows if r.get("verification")]
    headline = [
        f"{c['total']} trials of {summary['design']} ({summary['search']} search): {c['ok']} finished "
        f"({c['cached']} from the cache), {c['failed']} failed; {c['on_front']} on the Pareto front of "
        f"{_objectives_text(summary)}. "
        f"RTL checked against the golden model on {len(verified)} sampled trial(s): "
        f"{sum(r['verification']['mismatches'] or 0 for r in verified)} mismatches. Ray: "
        f"{summary['ray']['parallel_trials']} trial(s) at a time ({summary['ray']['cpus_per_trial']} CPU each, "
        f"{summary['ray']['address']}), {summary['seconds']:,.0f} s.",
        f"Library {_library(rows)} (the corner its file characterizes); every trial at its own fmax from OpenSTA (no clock assumed): area from "
        f"synthesis plus planned memories, energy per step from the energy model of that library, accuracy "
        f"through the hardware's arithmetic (see Method)."]

    def table(selected, caption):
        header = ("trial", *params, *[OBJECTIVES[o][2] for o in objectives], "fmax (MHz)", "verified")
        body = []
        for r in selected:
            ver = r.get("verification")
            body.append((r["key"], *[json.dumps(r["point"].get(p)) for p in params],
                         *[_fmt(OBJECTIVES[o][0], r.get(OBJECTIVES[o][0])) for o in objectives],
                         _fmt("fmax_mhz", r.get("fmax_mhz")), "" if not ver else
                         ("yes, 0 mismatches" if ver["passed"] else "FAILED")))
        return Table(header, tuple(body), numeric=(False, *[False] * len(params), *[True] * len(objectives), True,
                                                       False), caption=caption)

    front = [r for r in rows if r.get("pareto")]
    headline.append(table(front, "The Pareto front"))
    sections = []
    if figures:
        sections.append(Section("Plots", tuple(figures)))
    ok = [r for r in rows if r["status"] == "ok"]
    sections.append(Section("Every finished trial", (table(ok, f"{len(ok)} trials"),)))
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        sections.append(Section("Failed trials", (Table(("trial", "point", "error"), tuple(
            (r["key"], _point_text(r["point"]), r["error"]) for r in failed)),)))
    sections.append(Section("Method", (Bullets(tuple(f"{k}: {v}" for k, v in summary["method"].items())),
                                        f"Space: {json.dumps(summary['space'], sort_keys=True)}")))
    links = [(f"trial {r['key']} (front)", f"trials/{r['key']}/report.html") for r in front]
    links += [(f"trial {r['key']}", f"trials/{r['key']}/report.html") for r in ok if not r.get("pareto")]
    links += [(n, n) for n in ("trials.json", "trials.csv", "pareto.json")]
    sections.append(Section("Files", (Links(tuple(links)),)))
    return Page(title=f"Sweep of {summary['design']}", headline=tuple(headline), sections=tuple(sections))
