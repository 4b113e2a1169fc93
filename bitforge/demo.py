"""``bitforge demo``: the end-to-end path on embedded defaults.

For now the paths that exist: every building block is generated to Verilog
and checked, bit for bit, against its quant/ golden model on each installed
simulator; a TaxoNN MLP is trained on scikit-learn's digits with the golden
model's fixed-point arithmetic beside a float32 reference. Later designs add
their stages here.
"""

import time
from pathlib import Path

from .fsio import ensure_dir, atomic_write_json, atomic_write_text

__all__ = ["run_demo", "format_summary"]


def run_demo(out_dir, sims=None, progress=print):
    from accel.blocks import BLOCKS, build_block
    from rtl.verilog import write_design
    from sim.runner import SIMULATORS, simulator_status
    from .cli import simulate_block

    out = ensure_dir(out_dir)
    t_start = time.monotonic()
    available, skipped = [], {}
    for sim in sims or SIMULATORS:
        ok, message = simulator_status(sim)
        (available.append(sim) if ok else skipped.__setitem__(sim, message))
    for sim, message in skipped.items():
        progress(f"skipping {sim}: {message}")
    rows = []
    for name, (config_cls, _, _) in BLOCKS.items():
        cfg = config_cls()
        block_dir = out / "blocks" / name
        progress(f"{name}: generating Verilog")
        write_design(build_block(name, cfg), name, block_dir, cfg.to_json())
        for sim in available:
            progress(f"{name}: checking RTL against the golden model on {sim}")
            report = simulate_block(name, cfg, sim, block_dir / sim,
                                    build_root=out / ".build")
            rows.append({k: report[k] for k in ("block", "simulator", "vectors", "exhaustive",
                                                "mismatches", "passed", "wall_s")})
    progress("TaxoNN: training 64-32-10 on digits (golden model and float32 reference)")
    taxonn = _train_taxonn_stage(out / "taxonn")
    summary = {
        "stage": "building blocks, TaxoNN training",
        "taxonn": taxonn,
        "simulators": available,
        "skipped_simulators": skipped,
        "blocks": rows,
        "all_passed": bool(rows) and all(r["passed"] for r in rows),
        "wall_s": round(time.monotonic() - t_start, 1),
    }
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "summary.md", format_summary(summary) + "\n")
    return summary


def _train_taxonn_stage(out_dir):
    from models.datasets import load_digits
    from models.taxonn import TaxoNNConfig
    from models.taxonn_train import train_taxonn
    cfg = TaxoNNConfig(layers=(64, 32, 10), pes=4, lr_shift=4)
    metrics = train_taxonn(cfg, load_digits(), out_dir, epochs=4, float_reference=True, progress=False)
    return {k: metrics[k] for k in ("test_accuracy", "float_test_accuracy", "steps",
                                    "cycles_per_step", "lower_bound_per_step")}


def format_summary(summary):
    lines = ["| block | simulator | vectors | mismatches | result |",
             "| --- | --- | --- | --- | --- |"]
    for r in summary["blocks"]:
        kind = "exhaustive" if r["exhaustive"] else "random"
        lines.append(f"| {r['block']} | {r['simulator']} | {r['vectors']} {kind} | "
                     f"{r['mismatches']} | {'pass' if r['passed'] else 'FAIL'} |")
    t = summary.get("taxonn")
    if t:
        lines += ["", f"TaxoNN 64-32-10 on digits, {t['steps']} steps: fixed-point test accuracy "
                      f"{100 * t['test_accuracy']:.2f}%, float32 {100 * t['float_test_accuracy']:.2f}%; "
                      f"{t['cycles_per_step']} cycles per training step on P=4 "
                      f"(lower bound {t['lower_bound_per_step']})"]
    verdict = "all blocks bit-exact" if summary["all_passed"] else "MISMATCHES FOUND"
    lines.append("")
    lines.append(f"{verdict} ({summary['wall_s']} s)")
    return "\n".join(lines)
