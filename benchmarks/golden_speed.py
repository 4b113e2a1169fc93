"""TaxoNN golden model against a native Verilator harness of the RTL, and the torch engines, side by side.

    .venv/bin/python benchmarks/golden_speed.py --samples 10000 --repeat 3

The same online-SGD job (TaxoNN 64-32-10, P = 4, scikit-learn digits in the
seeded sample order) runs on:

* the native Verilator C++ harness of `benchmarks/taxonn_speed.py` (the RTL,
  -O3; every step's cycle count and parameter checksum checked in C++);
* the golden model a block of steps at a time (`models.taxonn_steps.train_steps`);
* the golden model one ``step`` at a time (the executable specification);
* the bit-exact torch engine (`models.taxonn_torch.TaxoNNTorch`) and the float32
  MLP of the same shape (`FloatMLP`), for the quantized-vs-float time per step.

Software engines report equivalent cycles per second: steps per second times the
schedule's cycles per step (what the RTL spends on the same step). The engines
take turns ``--repeat`` times; medians are reported. The block engine's final
parameters are checked equal to the step-by-step golden model's. Prints JSON,
then a markdown table.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.taxonn_speed import _native
from models.datasets import load_digits, sample_order
from models.taxonn import TaxoNNConfig, TaxoNNGolden, schedule
from models.taxonn_steps import train_steps
from models.taxonn_torch import TaxoNNTorch, FloatMLP
from sim.taxonn_host import training_job


def _time(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10000, help="steps of the native and block runs")
    ap.add_argument("--step-samples", type=int, default=2000,
                    help="steps of the one-step-at-a-time and torch runs (slower)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    cfg = TaxoNNConfig(layers=(64, 32, 10), pes=4, lr_shift=4)
    cycles_per_step = schedule(cfg)["total"]
    digits = load_digits()
    idx = sample_order(len(digits.x_train), args.samples, seed=0)
    x, y = digits.x_train[idx], digits.y_train[idx]
    print(f"[golden_speed] expected results of {args.samples} steps (golden model)", file=sys.stderr)
    job = training_job(TaxoNNGolden(cfg), x, y, check_every=args.samples)
    short = slice(0, args.step_samples)
    times = {k: [] for k in ("native", "block", "step", "torch", "float32")}
    with tempfile.TemporaryDirectory() as tmp:
        print("[golden_speed] building the native Verilator harness", file=sys.stderr)
        native_run = _native(cfg, job, Path(tmp) / "native")
        for r in range(args.repeat):
            native = native_run()
            assert native["mismatches"] == 0 and native["cycles"] == cycles_per_step * args.samples
            times["native"].append(native["wall_s"])
            block = TaxoNNGolden(cfg)
            times["block"].append(_time(lambda: train_steps(block, x, y)))
            one = TaxoNNGolden(cfg)
            times["step"].append(_time(lambda: [one.step(a, b) for a, b in zip(x[short], y[short])]))
            check = TaxoNNGolden(cfg)
            train_steps(check, x[short], y[short])
            assert all(np.array_equal(w, w2) and np.array_equal(b, b2)
                       for (w, b), (w2, b2) in zip(one.params, check.params)), "block and step engines differ"
            for name, cls in (("torch", TaxoNNTorch), ("float32", FloatMLP)):
                model = cls(cfg, TaxoNNGolden(cfg).params)
                times[name].append(_time(lambda: [model.step(a, b) for a, b in zip(x[short], y[short])]))
            print(f"[golden_speed] round {r + 1}/{args.repeat}: " + ", ".join(
                f"{k} {v[-1]:.2f} s" for k, v in times.items()), file=sys.stderr)
    steps = {"native": args.samples, "block": args.samples, "step": args.step_samples,
             "torch": args.step_samples, "float32": args.step_samples}
    rows = {}
    for name, ts in times.items():
        t = statistics.median(ts)
        rows[name] = {"steps": steps[name], "seconds": round(t, 3), "steps_per_s": round(steps[name] / t, 1),
                      "cycles_per_s": round(steps[name] * cycles_per_step / t)}
    ratios = {
        "golden_block_vs_native_cycles": round(rows["block"]["cycles_per_s"] / rows["native"]["cycles_per_s"], 2),
        "golden_step_vs_native_cycles": round(rows["step"]["cycles_per_s"] / rows["native"]["cycles_per_s"], 2),
        "golden_block_vs_step": round(rows["block"]["steps_per_s"] / rows["step"]["steps_per_s"], 2),
        "torch_vs_float32_time_per_step": round(rows["float32"]["steps_per_s"] / rows["torch"]["steps_per_s"], 2),
    }
    print(json.dumps({"config": cfg.to_json(), "cycles_per_step": cycles_per_step, "repeats": args.repeat,
                      "engines": rows, "ratios": ratios}, indent=2))
    names = {"native": "RTL, native Verilator harness (-O3)", "block": "golden model, blocks of steps",
             "step": "golden model, one step at a time", "torch": "bit-exact torch engine",
             "float32": "float32 MLP, same shape"}
    print(f"\nTaxoNN 64-32-10 P=4 on digits, {cycles_per_step} cycles per step, median of {args.repeat}\n\n"
          "| engine | steps | steps/s | (equivalent) cycles/s |\n| --- | ---: | ---: | ---: |")
    for k, r in rows.items():
        print(f"| {names[k]} | {r['steps']:,} | {r['steps_per_s']:,.0f} | {r['cycles_per_s']:,} |")
    print(f"\n| ratio | value |\n| --- | ---: |\n"
          f"| golden model (blocks) / native Verilator, cycles per second | {ratios['golden_block_vs_native_cycles']}x |\n"
          f"| golden model (one step) / native Verilator, cycles per second | {ratios['golden_step_vs_native_cycles']}x |\n"
          f"| bit-exact torch engine / float32, time per step | {ratios['torch_vs_float32_time_per_step']}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
