"""``bitforge demo``: the whole toolkit end to end on embedded defaults.

Stages, each written under ``OUT/`` and recorded in ``OUT/stages/<name>.json``
(a demo run again with the same options reuses the finished stages, so a killed
demo resumes where it stopped):

``blocks``
    every building block generated to Verilog and checked, bit for bit, against
    its golden model on each chosen simulator;
``taxonn``
    a TaxoNN MLP trained on scikit-learn digits with the golden model's
    fixed-point arithmetic (beside a float32 reference), then trained again on
    the RTL with the same samples: weights, cycle counts and accuracy compared;
``lstm``
    a ternary BT-LSTM (and a float one for reference) trained on sequential
    digits, then run on the RTL over the test split, every h_t compared;
``verilog``
    the Verilog of both designs and of their comparison designs;
``reports``
    the power/area reports of both designs (gate-level on Yosys + a Liberty
    library; skipped with the install command when either is missing).

Then ``index.md``/``index.html`` link every artifact, and ``summary.json`` /
``summary.md`` hold the table printed on the terminal.
"""

import json
import time
from pathlib import Path

from quant.fsio import ensure_dir, atomic_write_json, atomic_write_text
from ppa.page import Page, Section, Table, Figure, Links, Bullets, to_markdown, to_html, relative_href

__all__ = ["run_demo", "format_summary", "DEMO"]

#: the embedded defaults (sizes chosen so the demo runs in about 15 minutes on 2 cores)
DEMO = {
    "taxonn": {"layers": (64, 32, 10), "pes": 4, "lr_shift": 4, "epochs": 2},
    "lstm": {"task": "seq-digits", "weights": "ternary", "hidden": 64, "epochs": 20},
    "icarus_taxonn_steps": 40,      # Icarus runs ~150x slower than Verilator: fewer RTL steps there
    "icarus_lstm_sequences": 20,
    "report": {"taxonn_steps": 20, "lstm_sequences": 20, "library": "ihp", "clock_mhz": None},
}


class _Stages:
    """Finished stages saved as JSON, keyed by their inputs; a run again reuses them."""

    def __init__(self, out, progress):
        self.dir = ensure_dir(out / "stages")
        self.progress = progress

    def run(self, name, key, fn):
        path = self.dir / f"{name}.json"
        if path.exists():
            try:
                saved = json.loads(path.read_text())
            except ValueError:
                saved = None
            if saved and saved.get("key") == key:
                self.progress(f"{name}: reusing the finished stage ({path})")
                return saved["result"]
        t0 = time.monotonic()
        result = fn()
        result["wall_s"] = round(time.monotonic() - t0, 1)
        if "skipped" not in result:  # a stage skipped for a missing tool runs again once it is there
            atomic_write_json(path, {"key": key, "result": result})
        return result


def run_demo(out_dir, sims=None, progress=print, *, reports=True, settings=None, quiet=False):
    """Run every stage into ``out_dir``; return summary.json's dict.

    ``settings`` overrides entries of `DEMO` (tests run a smaller demo); ``quiet`` silences the
    report workers, which print their progress on stderr themselves.
    """
    from sim.runner import SIMULATORS, simulator_status
    from .designs import DESIGNS

    s = {**DEMO, **(settings or {})}
    out = ensure_dir(out_dir)
    t_start = time.monotonic()
    available, skipped = [], {}
    for sim in sims or SIMULATORS:
        ok, message = simulator_status(sim)
        (available.append(sim) if ok else skipped.__setitem__(sim, message))
    for sim, message in skipped.items():
        progress(f"skipping {sim}: {message}")
    if not available:
        raise RuntimeError("no simulator available: " + "; ".join(skipped.values()))
    rtl_sim = "verilator" if "verilator" in available else available[0]
    stages = _Stages(out, progress)
    key = json.loads(json.dumps({"demo": s, "sims": available}))  # as saved: tuples read back as lists

    blocks = stages.run("blocks", key, lambda: {"rows": _blocks_stage(out, available, progress)})
    # each design's own stage (train, then the same work on the RTL), from the registry
    designs = {name: stages.run(name, key, lambda d=d, name=name: d.demo(s, out / name, rtl_sim, progress))
               for name, d in DESIGNS.items()}
    verilog = stages.run("verilog", key, lambda: _verilog_stage(out / "verilog", designs, progress))
    report = (stages.run("reports", key, lambda: _reports_stage(s, out / "reports", out / "lstm", progress, quiet))
              if reports else {"skipped": "--no-reports"})
    checks = [r["passed"] for r in blocks["rows"]] + [st["rtl"]["passed"] for st in designs.values()]
    stage_walls = [st.get("wall_s", 0) for st in (blocks, *designs.values(), verilog, report)]
    summary = {
        "simulators": available, "skipped_simulators": skipped, "rtl_simulator": rtl_sim,
        "blocks": blocks["rows"], **designs, "verilog": verilog, "reports": report,
        "all_passed": all(checks),
        "wall_s": round(time.monotonic() - t_start, 1),
        "stages_wall_s": round(sum(stage_walls), 1),  # what the stages took when they ran (resumed or not)
    }
    summary["table"] = _table(summary)
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "summary.md", format_summary(summary) + "\n")
    _write_index(out, summary)
    return summary


# -- stages ------------------------------------------------------------------------

def _blocks_stage(out, sims, progress):
    from accel.blocks import BLOCKS, build_block
    from rtl.verilog import write_design
    from .jobs import simulate_block
    rows = []
    for name, (config_cls, _, _) in BLOCKS.items():
        cfg = config_cls()
        block_dir = out / "blocks" / name
        progress(f"{name}: generating Verilog")
        write_design(build_block(name, cfg), name, block_dir, cfg.to_json())
        for sim in sims:
            progress(f"{name}: checking RTL against the golden model on {sim}")
            report = simulate_block(name, cfg, sim, block_dir / sim)
            rows.append({k: report[k] for k in ("block", "simulator", "vectors", "exhaustive",
                                                "mismatches", "passed", "wall_s")})
    return rows


def _verilog_stage(out, designs, progress):
    """The Verilog of every design of the registry and of its comparison designs (`Design.variants`), with the
    configuration its demo stage ran."""
    from .designs import DESIGNS
    from .jobs import write_generated
    rows = {}
    for name, stage in designs.items():
        design = DESIGNS[name]
        for label, c in design.variants(design.config.from_json(stage["config"])).items():
            progress(f"Verilog: {label}")
            figures = design.figures(c)
            manifest = write_generated(lambda: design.component(c), name, c, out / label, figures)
            text = Path(manifest["files"][0]).read_text()
            rows[label] = {"files": manifest["files"], "lines": text.count("\n"), **figures}
    return {"designs": rows}


def _say(message):
    import sys
    print(f"[bitforge] {message}", file=sys.stderr, flush=True)


def _reports_stage(s, out, lstm_dir, progress, quiet=False):
    """Both reports; the five designs are synthesized and run two at a time, one worker task each."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from models.lstm import LSTMConfig, LSTMWeights
    from rtl.liberty import default_liberty, read_liberty
    from rtl.synth import find_yosys, ToolNotFound
    from .report import (lstm_mode_in_worker, lstm_report, trained_lstm_modes, taxonn_design_in_worker,
                         taxonn_report, LSTM_MODES, TAXONN_DESIGNS)
    from .designs.taxonn import demo_config
    r = s["report"]
    try:
        find_yosys()
        liberty = default_liberty(r["library"])
    except (ToolNotFound, FileNotFoundError) as e:
        progress(f"reports skipped: {e}")
        return {"skipped": str(e)}
    read_liberty(liberty)  # parsed once here, cached for the workers
    # the network the demo trained, against the same training run in the other modes (each design runs its
    # own trained network; the float network the demo trained is that run's fixed12 network)
    d = s["lstm"]
    trained = lstm_dir / d["weights"] / "lstm.npz"
    weights = LSTMWeights.load(trained)
    metrics = json.loads((trained.parent / "metrics.json").read_text())
    lcfg = LSTMConfig(input_size=weights.input_size, hidden=weights.hidden, mode=weights.mode)
    nets, sources = trained_lstm_modes(lcfg, trained, lstm_dir / "report-modes",
                                       trained={"fixed12": lstm_dir / "float"}, progress=progress)
    gate_sim = "verilator"
    progress(f"reports: TaxoNN vs its 16-bit baseline, BT-LSTM H={lcfg.hidden} {', '.join(LSTM_MODES)} "
             f"(synthesis and gate-level power, two at a time)")

    lstm_job = dict(clock_mhz=r["clock_mhz"], sim=gate_sim, sequences=r["lstm_sequences"], glitch_window=0)
    taxonn_job = dict(clock_mhz=r["clock_mhz"], sim=gate_sim, steps=r["taxonn_steps"], glitch_window=0)
    tcfg = demo_config(s)

    def submit(pool, kind, which):
        if kind == "lstm":
            return pool.submit(lstm_mode_in_worker, lcfg.to_json(), which, nets[which], str(liberty), str(out / "lstm"),
                               {**lstm_job, "source": sources[which]}, not quiet)
        return pool.submit(taxonn_design_in_worker, tcfg.to_json(), which, str(liberty), str(out / "taxonn"),
                           taxonn_job, not quiet)

    # one worker task per design, the longest first (measured, cold caches: fixed12 about 7 minutes, the
    # 16-bit TaxoNN baseline 3, ternary and binary 3 each, TaxoNN 1.5), so that neither worker idles at the end
    order = [("lstm", "fixed12"), ("taxonn", "baseline"), ("lstm", "ternary"), ("lstm", "binary"),
             ("taxonn", "taxonn")]
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        running = {which: submit(pool, kind, which) for kind, which in order}
        done = {which: f.result() for which, f in running.items()}
    t = taxonn_report(tcfg, liberty, out / "taxonn", sweep=False, figures={k: done[k] for k in TAXONN_DESIGNS},
                      progress=None if quiet else progress, **taxonn_job)
    l = lstm_report(lcfg, nets, liberty, out / "lstm", sources=sources, clock_mhz=r["clock_mhz"], sim=gate_sim,
                    figures={m: done[m] for m in LSTM_MODES}, progress=progress)
    vs = l["comparison"]["vs_fixed12"]
    return {
        "library": t["library"]["name"], "gate_sim": gate_sim,
        "taxonn": {"area_um2": t["area_um2"]["total"], "power_mw": t["power_mw"]["total"],
                   "clock_mhz": t["clock_mhz"], "fmax_mhz": t["timing"]["fmax_mhz"],
                   "baseline_clock_mhz": t["comparison"]["designs"]["baseline"]["clock_mhz"],
                   "energy_per_step_nj": t["energy"]["per_step_pj"] / 1e3,
                   "model_difference": t["energy_model"]["difference"],
                   "area_ratio": t["comparison"]["area_ratio"], "power_ratio": t["comparison"]["power_ratio"],
                   "steps": r["taxonn_steps"],
                   "html": str(out / "taxonn" / "report.html")},
        "lstm": {"config": lcfg.to_json(), "trained_accuracy": metrics["hardware"]["test_accuracy"],
                 "sequences": r["lstm_sequences"], "cycles": l["workload"]["cycles_simulated"],
                 "area_um2": l["area_um2"]["total"], "power_mw": l["power_mw"]["total"],
                 "clock_mhz": l["clock_mhz"], "fmax_mhz": l["timing"]["fmax_mhz"],
                 "energy_per_step_nj": l["energy"]["per_step_pj"] / 1e3,
                 "model_difference": l["energy_model"]["difference"],
                 "vs_fixed12": {m: {k: v[k] for k in ("area_ratio", "power_ratio", "energy_per_step_ratio",
                                                      "weight_memory_ratio", "speedup",
                                                      "throughput_at_equal_area_ratio")}
                                for m, v in vs.items()},
                 "html": str(out / "lstm" / "report.html")},
    }


# -- summary -----------------------------------------------------------------------

def _pct(v):
    return "-" if v is None else f"{100 * v:.2f}%"


def _table(summary):
    """Rows of the terminal table (also in summary.json)."""
    t, l, rep = summary["taxonn"], summary["lstm"], summary["reports"]
    tr, lr = t["rtl"], l["rtl"]
    tx, lx = rep.get("taxonn"), rep.get("lstm")
    rows = [
        {"design": "TaxoNN " + "-".join(map(str, t["config"]["layers"])) + f" P={t['config']['pes']}",
         "task": f"digits, {t['steps']} training steps",
         "float": t["float_accuracy"], "quantized": t["golden_accuracy"],
         "rtl": tr["test_accuracy"] if tr["samples"] == t["steps"] else None,
         "rtl_run": f"{tr['samples']} training steps on {tr['simulator']}",
         "mismatches": tr["mismatches"], "cycles": tr["cycles"], "cycles_model": tr["cycles_model"],
         "area_um2": tx and tx["area_um2"], "power_mw": tx and tx["power_mw"],
         "ratios": tx and f"16-bit baseline / TaxoNN: area {tx['area_ratio']:.2f}x, power {tx['power_ratio']:.2f}x"},
        {"design": f"BT-LSTM {l['mode']} H={l['config']['hidden']}",
         "task": f"{l['task']}, test split",
         "float": l["float_accuracy"], "quantized": l["hardware_accuracy"], "rtl": lr.get("accuracy"),
         "rtl_run": f"{lr['samples']} test sequences on {lr['simulator']}",
         "mismatches": lr["mismatches"], "cycles": lr["cycles"], "cycles_model": lr["cycles_model"],
         "area_um2": lx and lx["area_um2"], "power_mw": lx and lx["power_mw"],
         "ratios": lx and _lstm_ratios(lx["vs_fixed12"][l["mode"]], l["mode"])},
    ]
    return rows


def _lstm_ratios(vs, mode):
    return (f"fixed12 / {mode}: area {vs['area_ratio']:.2f}x, power {vs['power_ratio']:.2f}x, energy per step "
            f"{vs['energy_per_step_ratio']:.2f}x, weight memory {vs['weight_memory_ratio']:.1f}x")


def format_summary(summary):
    lines = ["| block | simulator | vectors | mismatches | result |",
             "| --- | --- | --- | --- | --- |"]
    for r in summary["blocks"]:
        kind = "exhaustive" if r["exhaustive"] else "random"
        lines.append(f"| {r['block']} | {r['simulator']} | {r['vectors']} {kind} | "
                     f"{r['mismatches']} | {'pass' if r['passed'] else 'FAIL'} |")
    lines += ["", "| design | accuracy float / quantized / RTL | RTL run | mismatches | cycles (model) "
                  "| area um^2 | power mW | ratios |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in summary["table"]:
        area = "-" if r["area_um2"] is None else f"{r['area_um2']:,.0f}"
        power = "-" if r["power_mw"] is None else f"{r['power_mw']:.2f}"
        lines.append(f"| {r['design']} ({r['task']}) | {_pct(r['float'])} / {_pct(r['quantized'])} / "
                     f"{_pct(r['rtl'])} | {r['rtl_run']} | {r['mismatches']} | {r['cycles']} ({'-' if r['cycles_model'] is None else r['cycles_model']}) "
                     f"| {area} | {power} | {r['ratios'] or '-'} |")
    rep = summary["reports"]
    if "skipped" in rep:
        lines += ["", f"power/area reports skipped: {rep['skipped']}"]
    else:
        lines += ["", f"power and area: {rep['library']}, each design at its own fmax from OpenSTA (TaxoNN "
                      f"{rep['taxonn']['clock_mhz']:g} MHz, its baseline {rep['taxonn']['baseline_clock_mhz']:g} MHz, "
                      f"BT-LSTM {rep['lstm']['clock_mhz']:g} MHz), zero-delay gate-level activity "
                      f"on {rep['gate_sim']} (a lower bound); the netlists' results were checked against the golden "
                      f"models on the way: TaxoNN {rep['taxonn']['steps']} training steps, BT-LSTM "
                      f"{rep['lstm']['sequences']} test sequences of the network above and of the same run trained "
                      f"in the other modes"]
    verdict = "RTL bit-exact with the golden models" if summary["all_passed"] else "MISMATCHES FOUND"
    lines += ["", f"{verdict}; wrote index.html (stages {summary['stages_wall_s']} s, this run {summary['wall_s']} s)"]
    return "\n".join(lines)


# -- index ---------------------------------------------------------------------------

_PLOT_CAPTIONS = {
    "breakdown": "area (1000 um^2) and power (mW at its clock) of each block of the netlist",
    "comparison": "area (mm^2), power (mW) and energy per step (nJ) of the compared designs, each at its own clock",
    "phases": "dynamic energy (nJ) of one training step in each phase of the schedule",
    "loss": "training loss (nats) after each epoch",
    "valid": "validation accuracy after each epoch",
    "curve": "test accuracy (%) after each epoch: fixed point, its training accuracy, and the float32 reference",
}


def _verdict(summary):
    """The headline's first paragraph: what was verified, on what, with what result."""
    t, l, blocks = summary["taxonn"], summary["lstm"], summary["blocks"]
    bad = sum(b["mismatches"] for b in blocks) + t["rtl"]["mismatches"] + l["rtl"]["mismatches"]
    sims = sorted({b["simulator"] for b in blocks})
    head = "RTL bit-exact with the golden models" if summary["all_passed"] else f"MISMATCHES FOUND ({bad})"
    tr, lr = t["rtl"], l["rtl"]
    return (f"{head}: {len({b['block'] for b in blocks})} building blocks on {' and '.join(sims)} "
            f"({sum(b['vectors'] for b in blocks):,} vectors, {sum(b['mismatches'] for b in blocks)} mismatches); "
            f"TaxoNN trained {tr['samples']:,} steps on the RTL ({tr['simulator']}), {tr['mismatches']} mismatches, "
            f"{tr['cycles']:,} cycles against {tr['cycles_model']:,} by the golden model's schedule; BT-LSTM "
            f"{lr['samples']} test sequences on the RTL ({lr['simulator']}), {lr['mismatches']} mismatches, "
            f"{lr['cycles']:,} cycles against {lr['cycles_model']:,} by the schedule.")


def _designs_table(summary):
    rows = []
    for r in summary["table"]:
        area = "-" if r["area_um2"] is None else f"{r['area_um2'] / 1e6:.3g}"
        power = "-" if r["power_mw"] is None else f"{r['power_mw']:.3g}"
        cycles = f"{r['cycles']:,}" + ("" if r["cycles_model"] is None else f" ({r['cycles_model']:,})")
        rows.append((f"{r['design']} ({r['task']})", f"{_pct(r['float'])} / {_pct(r['quantized'])} / {_pct(r['rtl'])}",
                     r["rtl_run"], str(r["mismatches"]), cycles, area, power))
    return Table(("design (task)", "accuracy: float / quantized / RTL", "RTL run", "mismatches",
                  "cycles (model)", "area (mm^2)", "power (mW)"), tuple(rows),
                 numeric=(False, False, False, True, True, True, True),
                 caption="Accuracy on the test split; the RTL run's results compared with the golden model's, "
                         "and its cycle count with the schedule's.")


def _claims_table(rep, mode):
    t, l = rep["taxonn"], rep["lstm"]
    vs = l["vs_fixed12"][mode]
    lib = rep["library"]
    method = f"gate-level, zero-delay activity on {rep['gate_sim']}; {lib}"
    rows = (("TaxoNN: area, 16-bit dedicated baseline / TaxoNN", f"{t['area_ratio']:.2f}x", "1.65x",
             f"TaxoNN {t['clock_mhz']:g} MHz, baseline {t['baseline_clock_mhz']:g} MHz (each its own fmax)",
             f"Liberty cell areas + SRAM macros; {lib}"),
            ("TaxoNN: power, baseline / TaxoNN", f"{t['power_ratio']:.2f}x", "2.1x",
             f"TaxoNN {t['clock_mhz']:g} MHz, baseline {t['baseline_clock_mhz']:g} MHz", method),
            (f"BT-LSTM: weight memory, 12-bit / {mode}", f"{vs['weight_memory_ratio']:.1f}x", "up to 12x", "-",
             "bits of the weight memories"),
            (f"BT-LSTM: speedup, {mode} / 12-bit", f"{vs['speedup']:.2f}x", "up to 10x",
             f"{mode} {l['clock_mhz']:g} MHz (own fmax)", "schedule cycles x clock from static timing"),
            (f"BT-LSTM: throughput per mm^2, {mode} / 12-bit", f"{vs['throughput_at_equal_area_ratio']:.2f}x", "-",
             f"{mode} {l['clock_mhz']:g} MHz", "throughput / (Liberty cell areas + SRAM macros)"))
    return Table(("figure", "measured", "paper", "clock", "method"), rows, numeric=(False, True, True, False, False),
                 caption=f"The papers' hardware claims against this run's reports (BT-LSTM H={l['config']['hidden']}).")


def _figure(path, out, text):
    return Figure(Path(path).read_bytes(), text, relative_href(path, out))


def _index_page(out, summary):
    t, l, rep = summary["taxonn"], summary["lstm"], summary["reports"]
    headline = [_verdict(summary), _designs_table(summary)]
    if "skipped" in rep:
        headline.append(f"Power and area reports skipped: {rep['skipped']}")
    else:
        headline.append(_claims_table(rep, l["mode"]))
    sections = [Section("Building blocks", (Table(
        ("block", "simulator", "vectors", "mismatches", "result"),
        tuple((b["block"], b["simulator"], f"{b['vectors']:,} {'exhaustive' if b['exhaustive'] else 'random'}",
               str(b["mismatches"]), "pass" if b["passed"] else "FAIL") for b in summary["blocks"]),
        numeric=(False, False, True, True, False)),))]
    plots = []
    if "skipped" not in rep:
        for design, title in (("taxonn", "TaxoNN"), ("lstm", f"BT-LSTM H={rep['lstm']['config']['hidden']}")):
            d = Path(rep[design]["html"]).parent
            for png in sorted(d.glob("*.png")):
                if png.stem in _PLOT_CAPTIONS:
                    plots.append(_figure(png, out, f"{title} report: {_PLOT_CAPTIONS[png.stem]}."))
    curve = Path(t["files"]["metrics"]).with_name("curve.png")
    if curve.exists():
        plots.append(_figure(curve, out, f"TaxoNN {'-'.join(map(str, t['config']['layers']))} training on digits: "
                                         f"{_PLOT_CAPTIONS['curve']}."))
    for run in sorted((out / "lstm").glob("*/loss.png")) + sorted((out / "lstm").glob("*/valid.png")):
        plots.append(_figure(run, out, f"BT-LSTM training run {run.parent.name}: {_PLOT_CAPTIONS[run.stem]}."))
    if plots:
        sections.append(Section("Plots", tuple(plots)))
    if "skipped" not in rep:
        sections.append(Section("Power and area reports", (Links(tuple(
            (f"{design} report ({kind})", relative_href(Path(rep[design]["html"]).with_name(f"report.{kind}"), out))
            for design in ("taxonn", "lstm") for kind in ("html", "md", "json"))),)))
    sections.append(Section("Artifacts", (Links(
        (("summary.json (every figure of this page)", "summary.json"), ("summary.md", "summary.md"))
        + tuple((f"{b['block']} on {b['simulator']}", f"blocks/{b['block']}/{b['simulator']}/sim.json")
                for b in summary["blocks"])
        + tuple((f"{n}.v", f"blocks/{n}/{n}.v") for n in sorted({b["block"] for b in summary["blocks"]}))
        + (("TaxoNN golden-model metrics", relative_href(t["files"]["metrics"], out)),
           ("TaxoNN RTL training run", relative_href(t["files"]["sim"], out)),
           ("TaxoNN RTL-trained weights", "taxonn/rtl/weights.npz"),
           ("BT-LSTM trained weights (lstm.npz)", relative_href(l["files"]["weights"], out)),
           ("BT-LSTM training metrics", relative_href(l["files"]["metrics"], out)),
           ("BT-LSTM float reference metrics", relative_href(l["files"]["float_metrics"], out)),
           ("BT-LSTM RTL run", relative_href(l["files"]["sim"], out)))
        + tuple((f"Verilog {name}: {Path(f).name}", relative_href(f, out))
                for name, d in summary["verilog"]["designs"].items() for f in d["files"])),)))
    notes = [f"stages {summary['stages_wall_s']} s, this run {summary['wall_s']} s; simulators "
             f"{', '.join(summary['simulators'])}"]
    if "skipped" not in rep:
        notes.append(f"power and area: {rep['library']}, each design at its own fmax from OpenSTA, zero-delay "
                     f"gate-level activity on {rep['gate_sim']} (a lower bound) over {rep['taxonn']['steps']} TaxoNN "
                     f"training steps and {rep['lstm']['sequences']} BT-LSTM test sequences; the LSTM report runs "
                     f"the network the demo trained, against the same run trained in the other modes")
    sections.append(Section("Run", (Bullets(tuple(notes)),)))
    return Page("bitforge demo", tuple(headline), tuple(sections),
                subtitle="TaxoNN and BT-LSTM from quantized training to verified RTL, with power and area")


def _write_index(out, summary):
    """index.md and index.html: the headline, the tables, the plots (embedded in the HTML), every artifact."""
    out = Path(out)
    page = _index_page(out, summary)   # its figures are files under ``out``: the Markdown links them there
    atomic_write_text(out / "index.md", to_markdown(page))
    atomic_write_text(out / "index.html", to_html(page))
