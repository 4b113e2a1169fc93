"""Gate-level activity: Icarus + VCD (the old path) against the compiled netlist (`ppa.native`), same netlist,
same workload, side by side in one run.

    .venv/bin/python benchmarks/gate_level.py                 # 12-bit BT-LSTM H=16, IHP: ~15 minutes on 2 cores
    .venv/bin/python benchmarks/gate_level.py --hidden 8      # a smaller netlist, ~5 minutes
    .venv/bin/python benchmarks/gate_level.py --hidden 64 --steps 1   # the demo's size: one time step on Icarus

For the chosen BT-LSTM (mode fixed12 by default: the largest netlist of the three modes) the netlist is
synthesized once (cached), then:

- old path: the cocotb testbench on Icarus with a VCD of every netlist instance's nets, read back by
  `ppa.power.analyze_vcd` (what reports did before): build, run, VCD reading;
- new path: the netlist built under Verilator with the toggle-counting harness (`ppa.native`), driven by
  the same driver: build (cold, into a fresh directory), run.

Both run ``--sequences`` sequences of 8 steps (default 1: Icarus takes minutes per sequence), or with
``--steps`` only that many time steps of them (`sim.drivers.job_window`); the new path then runs
``--long`` sequences (default 50, the reports' default workload) to show what it costs. Every
result of every run is checked against the golden model, and the two activities are compared net by net.

Prints progress on stderr, then JSON on stdout (``--markdown`` adds a table).
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def _say(message):
    print(f"[gate_level] {message}", file=sys.stderr, flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--mode", default="fixed12", choices=("binary", "ternary", "fixed12"))
    ap.add_argument("--library", default="ihp", choices=("ihp", "sky130"))
    ap.add_argument("--sequences", type=int, default=1)
    ap.add_argument("--steps", type=int, default=None, help="only the first N time steps of --sequences")
    ap.add_argument("--long", type=int, default=50)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)

    import numpy as np
    from accel.lstm import LSTM
    from models.lstm import LSTMConfig, LSTMGolden, random_weights
    from ppa.estimate import memory_mode
    from ppa.memories import macros_for
    from ppa.native import NativeNetlist, native_activity
    from ppa.power import analyze_vcd
    from rtl.liberty import default_liberty, read_liberty
    from rtl.synth import synthesize
    from sim.drivers import job_window, lstm_sequences
    from sim.lstm_host import lstm_job
    from sim.runner import run_job

    liberty = default_liberty(args.library)
    cfg = LSTMConfig(input_size=8, hidden=args.hidden, mode=args.mode)
    rng = np.random.default_rng(0)
    golden = LSTMGolden(cfg, random_weights(cfg, rng))
    xs = rng.uniform(0, 1, (max(args.sequences, args.long), 8, cfg.input_size))
    short, long = lstm_job(golden, xs[:args.sequences]), lstm_job(golden, xs[:args.long])
    if args.steps:
        short = job_window("lstm", short, args.steps)
    macros = macros_for(read_liberty(liberty), None)
    _say(f"synthesizing BT-LSTM {cfg.mode} H={cfg.hidden} L={cfg.lanes} K={cfg.inputs_per_cycle} ({args.library})")
    t0 = time.monotonic()
    synth = synthesize(LSTM(cfg), liberty, memories=memory_mode(macros), progress=_say)
    synth_s = time.monotonic() - t0
    cells = sum(len(synth.cells(m)) for _, m in synth.instances())
    out = {"design": f"BT-LSTM {cfg.mode} I={cfg.input_size} H={cfg.hidden} L={cfg.lanes} K={cfg.inputs_per_cycle}",
           "library": Path(liberty).name, "cells": cells, "synthesis_s": round(synth_s, 1),
           "workload": (f"the first {args.steps} time step(s) of " if args.steps else "")
                       + f"{args.sequences} sequence(s) of 8 steps, random weights and inputs (seed 0)"}

    with tempfile.TemporaryDirectory(prefix="bitforge-gate-") as tmp:
        tmp = Path(tmp)
        _say("old path: cocotb on Icarus, VCD, analyze_vcd")
        paths = synth.write_sim_netlist(tmp / "netlist")
        scopes = [".".join((synth.top,) + p) for p, _ in synth.instances()]
        result, report = run_job(paths, short, tmp, sim="icarus", test_module="sim.tb.lstm_tb", name="gate-level",
                                 waves=True, dump_scopes=scopes, build_root=tmp / "build")
        if not result.passed or report["mismatches"]:
            raise SystemExit(f"Icarus run failed: {result.summary()}")
        t0 = time.monotonic()
        icarus = analyze_vcd(synth, result.vcd, progress=_say)
        read_s = time.monotonic() - t0
        vcd_mb = result.vcd.stat().st_size / 2 ** 20
        out["icarus"] = {"build_s": round(result.build_s, 1), "run_s": round(result.run_s, 1),
                         "vcd_read_s": round(read_s, 1), "vcd_mb": round(vcd_mb, 1), "cycles": icarus.cycles,
                         "cycles_per_s": round(icarus.cycles / (result.run_s + read_s), 2)}
        _say(f"old path: {json.dumps(out['icarus'])}")
        _say("new path: Verilator build (cold) and the compiled run")
        t0 = time.monotonic()
        net = NativeNetlist(synth, build_root=tmp / "native", progress=_say)
        build_s = time.monotonic() - t0
        native, _, info = native_activity(synth, lstm_sequences, short, net=net)
        out["verilator"] = {"build_s": round(build_s, 1), "run_s": info["run_s"], "cycles": native.cycles,
                            "cycles_per_s": info["cycles_per_s"], "nets": info["nets"]}
        _say(f"new path: {json.dumps(out['verilator'])}")
        ours = {(s.var.scope[1:], s.var.name): s.bits[0].tc for s in native.switching.signals}
        depth = len(icarus.top_scope)
        theirs = {(s.var.scope[depth:], s.var.name): s.bits[0].tc for s in icarus.switching.signals
                  if s.var.name[0] == "n" and s.var.name[1:].isdigit()}     # nets, not the ports busy and clk
        out["nets_compared"] = len(theirs)
        out["nets_differing"] = sum(1 for k, v in theirs.items() if ours.get(k) != v)
        _, _, info = native_activity(synth, lstm_sequences, long, net=net)
        out["verilator_long"] = {"sequences": args.long, "run_s": info["run_s"], "cycles": info["cycles"],
                                 "cycles_per_s": info["cycles_per_s"]}
    out["speedup_cycles_per_s"] = round(out["verilator"]["cycles_per_s"] / out["icarus"]["cycles_per_s"], 1)
    print(json.dumps(out, indent=2))
    if args.markdown:
        i, v = out["icarus"], out["verilator"]
        print(f"\n{out['design']}, {out['cells']:,} cells ({out['library']}), {out['workload']}; "
              f"{out['nets_compared']:,} nets compared, {out['nets_differing']} differ\n")
        print("| path | build (s) | run (s) | VCD read (s) | cycles | cycles/s |\n| --- | ---: | ---: | ---: | ---: | ---: |")
        print(f"| Icarus + VCD | {i['build_s']} | {i['run_s']} | {i['vcd_read_s']} | {i['cycles']:,} | {i['cycles_per_s']:,} |")
        print(f"| Verilator, compiled harness | {v['build_s']} | {v['run_s']} | - | {v['cycles']:,} | {v['cycles_per_s']:,} |")
        lo = out["verilator_long"]
        print(f"| Verilator, {lo['sequences']} sequences | (cached) | {lo['run_s']} | - | {lo['cycles']:,} | "
              f"{lo['cycles_per_s']:,} |")
        print(f"\ncycles per second: {out['speedup_cycles_per_s']}x")


if __name__ == "__main__":
    main()
