"""The BT-LSTM papers' hardware claims, measured fairly: each weight mode at its own best configuration.

    .venv/bin/bitforge sweep lstm --space examples/lstm_fair_space.yaml \
        --objectives accuracy,throughput_per_mm2,energy --out out/fair
    .venv/bin/python benchmarks/lstm_fair.py out/fair --area-budget-mm2 1.5 [--json]

The sweep trains one network per mode (same task, H, epochs and seed; fixed12 is the float
network exported to 12 bits), synthesizes every (L, K, M, pipeline depth) point of the space to
the library, times it with OpenSTA and prices its energy per time step with the energy model
(`bitforge.sweep.trial`). This script picks, per mode, the point with the most time steps per
second per mm^2 (each at its own fmax) whose area fits the budget, and prints for each mode's
pick: weight memory, throughput, throughput per mm^2, energy per time step and per sequence,
accuracy; the ratios of binary and ternary against fixed12 beside the papers' claims (up to 12x
weight memory, up to 10x speed-up); and where a ratio falls short of its claim, the gap by
block: each block's area times the time per step (um^2 x us: the silicon-time a time step
occupies) and each energy-model term per step, for the three picks side by side, so the units
that keep their cost when the multipliers go (the claim assumes they do not count) are named.
The picks' syntheses come from the sweep's cache (same build directory: ``BITFORGE_BUILD_DIR``).
"""

import argparse
import json
import sys
from pathlib import Path

MODES = ("fixed12", "ternary", "binary")
CLAIMS = {"weight_memory_ratio": 12.0, "speedup": 10.0, "throughput_per_mm2_ratio": 10.0}
STEPS_PER_SEQUENCE = 8  # seq-digits: 8 rows of 8 pixels


def load_trials(sweep_dir):
    """The finished trials of a `bitforge sweep lstm` output directory."""
    path = Path(sweep_dir) / "trials.json"
    if not path.is_file():
        raise SystemExit(f"benchmarks/lstm_fair.py: no trials.json in {sweep_dir}; run the sweep first: "
                         f"bitforge sweep lstm --space examples/lstm_fair_space.yaml --out {sweep_dir}")
    data = json.loads(path.read_text())
    trials = [t for t in data["trials"] if t.get("status") == "ok"]
    if not trials:
        raise SystemExit(f"benchmarks/lstm_fair.py: {path} holds no finished trial")
    return trials


def pick(trials, budget_um2):
    """Per mode, the finished trial with the most steps/s per mm^2 whose area is within ``budget_um2`` (None: any)."""
    best = {}
    for t in trials:
        mode = t["point"]["mode"]
        if budget_um2 is not None and t["area_um2"] > budget_um2:
            continue
        if mode not in best or t["throughput_per_mm2"] > best[mode]["throughput_per_mm2"]:
            best[mode] = t
    missing = [m for m in MODES if m not in best]
    if missing and budget_um2 is None:
        raise SystemExit(f"benchmarks/lstm_fair.py: the sweep finished no {', '.join(missing)} trial")
    if missing:
        raise SystemExit(f"benchmarks/lstm_fair.py: no {', '.join(missing)} trial fits the area budget "
                         f"{budget_um2 / 1e6:g} mm^2; raise --area-budget-mm2")
    return best


def breakdown(trial, liberty):
    """Area by block (um^2) of a picked trial's netlist (the sweep's synthesis, from the cache; its memories as the
    trial planned them) and its energy-model terms (pJ per step)."""
    from accel.lstm import LSTM
    from models.lstm import LSTMConfig
    from ppa.energy_model import lstm_energy
    from ppa.estimate import block_label, memory_mode, MEMORIES
    from ppa.memories import macros_for
    from rtl.liberty import read_liberty
    from rtl.synth import synthesize
    cfg = LSTMConfig.from_json(trial["config"])
    macros = macros_for(read_liberty(liberty), None)
    synth = synthesize(LSTM(cfg), liberty, memories=memory_mode(macros))
    area, flops = {}, 0
    for block, b in synth.area_by_block().items():
        label = block_label(block)
        area[label] = area.get(label, 0.0) + b["area_um2"]
        flops += b["flops"]
    area[MEMORIES] = trial["memory_area_um2"]
    model = lstm_energy(cfg, liberty, flops=flops, macros=macros)
    return area, model["terms"]


def compare(best):
    ref = best["fixed12"]
    rows = {}
    for mode in MODES:
        r = best[mode]
        rows[mode] = {
            "weight_memory_ratio": ref["weight_memory_bits"] / r["weight_memory_bits"],
            "speedup": r["throughput_steps_per_s"] / ref["throughput_steps_per_s"],
            "throughput_per_mm2_ratio": r["throughput_per_mm2"] / ref["throughput_per_mm2"],
            "energy_per_step_ratio": ref["energy_per_step_pj"] / r["energy_per_step_pj"],
        }
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweep_dir",
                   help="the output directory of `bitforge sweep lstm --space examples/lstm_fair_space.yaml`")
    p.add_argument("--area-budget-mm2", type=float, default=None,
                   help="the largest area (logic + memories) a pick may take (default: none)")
    p.add_argument("--library", default="ihp", choices=("ihp", "sky130"), help="the sweep's library (default ihp)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON instead of tables")
    args = p.parse_args(argv)
    if args.area_budget_mm2 is not None and not args.area_budget_mm2 > 0:
        raise SystemExit(f"--area-budget-mm2 must be a positive area in mm^2, not {args.area_budget_mm2}")
    from rtl.liberty import default_liberty
    liberty = default_liberty(args.library)
    trials = load_trials(args.sweep_dir)
    budget = None if args.area_budget_mm2 is None else args.area_budget_mm2 * 1e6
    best = pick(trials, budget)
    ratios = compare(best)
    say = lambda m: print(m, file=sys.stderr, flush=True)
    parts = {}
    for mode in MODES:
        say(f"{mode}: area by block and energy-model terms of the pick")
        parts[mode] = breakdown(best[mode], liberty)
    picks = {m: {"point": best[m]["point"], **{k: best[m][k] for k in (
        "area_um2", "logic_area_um2", "memory_area_um2", "fmax_mhz", "critical_path", "cycles_per_step",
        "throughput_steps_per_s", "throughput_per_mm2", "energy_per_step_pj", "weight_memory_bits", "accuracy",
        "accuracy_method", "clock")}, "energy_per_sequence_pj": best[m]["energy_per_step_pj"] * STEPS_PER_SEQUENCE,
        "area_by_block_um2": parts[m][0], "energy_terms_pj": parts[m][1]} for m in MODES}
    out = {"sweep": str(args.sweep_dir), "trials": len(trials), "area_budget_mm2": args.area_budget_mm2,
           "picks": picks, "vs_fixed12": ratios, "claims": CLAIMS,
           "method": "each mode's network trained once (same run), each (L, K, M, depth) point synthesized "
                     "(Yosys, minimum delay), timed (OpenSTA, memories as macros with their own arcs) and run "
                     "at its own fmax; energy per step from the energy model (schedule counts x unit energies "
                     "characterized at gate level); the pick: most steps/s per mm^2 within the area budget"}
    if args.json:
        print(json.dumps(out, indent=1))
        return out
    print(f"{len(trials)} trials; area budget {args.area_budget_mm2 or 'none'} mm^2; each at its own fmax\n")
    print("| mode | L, K, M, depth | area mm^2 | fmax MHz | cycles/step | steps/s per mm^2 | energy/step nJ | "
          "energy/sequence nJ | weight memory bits | accuracy |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for m in MODES:
        r, pt = picks[m], picks[m]["point"]
        print(f"| {m} | {pt.get('lanes')}, {best[m]['config']['inputs_per_cycle']}, "
              f"{best[m]['config'].get('post_units') or 'min'}, {pt.get('pipeline', 0)} | {r['area_um2'] / 1e6:.3f} | "
              f"{r['fmax_mhz']:.1f} | {r['cycles_per_step']} | {r['throughput_per_mm2']:,.0f} | "
              f"{r['energy_per_step_pj'] / 1e3:,.1f} | {r['energy_per_sequence_pj'] / 1e3:,.1f} | "
              f"{r['weight_memory_bits']:,} | {100 * r['accuracy']:.2f}% |")
    print("\n| vs fixed12 | weight memory | speed-up | steps/s per mm^2 | energy per step |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for m in ("ternary", "binary"):
        v = ratios[m]
        print(f"| {m} | {v['weight_memory_ratio']:.1f}x | {v['speedup']:.2f}x | {v['throughput_per_mm2_ratio']:.2f}x | "
              f"{v['energy_per_step_ratio']:.2f}x |")
    print(f"| paper | up to {CLAIMS['weight_memory_ratio']:g}x | up to {CLAIMS['speedup']:g}x | "
          f"{CLAIMS['throughput_per_mm2_ratio']:g}x (goal) | - |")
    print("\nArea x time per step by block (um^2 x us; the silicon-time one time step occupies):\n")
    blocks = sorted({b for m in MODES for b in picks[m]["area_by_block_um2"]})
    print("| block | " + " | ".join(MODES) + " |")
    print("| --- |" + " ---: |" * len(MODES))
    for b in blocks:
        cells = []
        for m in MODES:
            r = picks[m]
            t_us = r["cycles_per_step"] / r["fmax_mhz"]
            cells.append(f"{r['area_by_block_um2'].get(b, 0.0) * t_us:,.0f}")
        print(f"| {b} | " + " | ".join(cells) + " |")
    print("\nEnergy per time step by energy-model term (pJ):\n")
    terms = sorted({k for m in MODES for k in picks[m]["energy_terms_pj"]})
    print("| term | " + " | ".join(MODES) + " |")
    print("| --- |" + " ---: |" * len(MODES))
    for k in terms:
        print(f"| {k} | " + " | ".join(f"{picks[m]['energy_terms_pj'].get(k, 0.0):,.0f}" for m in MODES) + " |")
    return out


if __name__ == "__main__":
    main()
