"""Golden models vs RTL simulation, quantized vs float training, simulator build times, peak memory.

    .venv/bin/python benchmarks/throughput.py            # ~5 minutes on 2 cores
    .venv/bin/python benchmarks/throughput.py --quick    # smaller runs, ~2 minutes

Every figure is measured in this one run, side by side, and each measurement
runs in its own child process so its peak resident memory (``ru_maxrss`` from
``wait4``, the child and what it ran) is its own. The RTL runs build into a
fresh directory, so build times are cold builds.

- TaxoNN 64-32-10 P=4 on digits: training steps per second of the NumPy golden
  model, of the torch bit-exact engine, of a float32 MLP of the same shape
  (``FloatMLP``, same initial weights and samples), and of the RTL on
  cocotb + Verilator and cocotb + Icarus (simulation run only, build apart).
- BT-LSTM ternary I=8 H=64 on sequential digits: sequences per second of the
  golden model and of the RTL on both simulators; training time of the
  ternary network vs the float (fp) one at equal size and epochs.

Prints progress on stderr, then JSON on stdout (``--markdown`` adds a table).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TAXONN = {"layers": (64, 32, 10), "pes": 4, "lr_shift": 4}


def _taxonn():
    from models.datasets import load_digits, sample_order
    from models.taxonn import TaxoNNConfig
    cfg = TaxoNNConfig(**TAXONN)
    data = load_digits()
    return cfg, data, lambda n: sample_order(len(data.x_train), n, seed=0)


def _rate(count, seconds):
    return round(count / seconds, 2) if seconds > 0 else None


def measure_taxonn_engine(engine, steps, build_dir):
    """Training steps per second of one software engine (no simulator)."""
    import numpy as np
    from models.taxonn import TaxoNNGolden, init_params
    from models.taxonn_torch import TaxoNNTorch, FloatMLP
    cfg, data, order = _taxonn()
    init = init_params(cfg)
    model = {"golden": lambda: TaxoNNGolden(cfg, init), "torch": lambda: TaxoNNTorch(cfg, init),
             "float32": lambda: FloatMLP(cfg, init)}[engine]()
    idx = order(steps)
    t0 = time.perf_counter()
    for i in idx:
        model.step(data.x_train[i], data.y_train[i])
    secs = time.perf_counter() - t0
    return {"steps": int(len(idx)), "seconds": round(secs, 3), "steps_per_s": _rate(len(idx), secs),
            "torch_threads": __import__("torch").get_num_threads(), "numpy": np.__version__}


def measure_taxonn_rtl(sim, steps, build_dir):
    from sim.taxonn_run import simulate_taxonn
    cfg, data, _ = _taxonn()
    with tempfile.TemporaryDirectory() as tmp:
        r = simulate_taxonn(cfg, data, sim, tmp, samples=steps, build_root=build_dir)
    return {"steps": steps, "passed": r["passed"], "cycles": r["cycles"], "build_s": r["build_s"],
            "run_s": r["run_s"], "steps_per_s": _rate(steps, r["run_s"]), "cycles_per_s": r["cycles_per_s"]}


def _lstm_weights(build_dir):
    """The ternary H=64 network that `train_lstm_weights` left in ``build_dir``."""
    from models.lstm import LSTMWeights
    return LSTMWeights.load(Path(build_dir) / "lstm" / "lstm.npz")


def train_lstm_weights(_, epochs, build_dir):
    """A ternary H=64 network trained briefly, once for every LSTM measurement: the weights only shape
    the data, not the speed. Run in a child too: a parent grown by torch would lend its peak memory
    to every child it starts (Linux carries ``ru_maxrss`` across fork and exec)."""
    from models.lstm_train import LSTMTrainConfig, train_lstm
    cfg = LSTMTrainConfig(task="seq-digits", weights="ternary", hidden=64, epochs=epochs, batch=32, lr=0.02)
    m = train_lstm(cfg, Path(build_dir) / "lstm", progress=False)
    return {"epochs": epochs, "test_accuracy": m["test_accuracy"]}


def measure_lstm_golden(_, sequences, build_dir):
    import numpy as np
    from models.lstm import LSTMConfig, LSTMGolden
    from models.lstm_tasks import load_task
    task = load_task("seq-digits")
    golden = LSTMGolden(LSTMConfig(input_size=8, hidden=64, mode="ternary"), _lstm_weights(build_dir))
    xs = task.x_test[np.arange(sequences) % len(task.x_test)].astype(np.float64)
    t0 = time.perf_counter()
    for x in xs:  # one sequence at a time, as the hardware runs them
        golden.run(x[None])
    secs = time.perf_counter() - t0
    t0 = time.perf_counter()
    golden.run(xs)  # the golden model is vectorized over a batch
    batched = time.perf_counter() - t0
    return {"sequences": sequences, "seconds": round(secs, 3), "sequences_per_s": _rate(sequences, secs),
            "batched_sequences_per_s": _rate(sequences, batched)}


def measure_lstm_rtl(sim, sequences, build_dir):
    from models.lstm import LSTMConfig
    from models.lstm_tasks import load_task
    from sim.lstm_run import simulate_lstm
    with tempfile.TemporaryDirectory() as tmp:
        r = simulate_lstm(LSTMConfig(input_size=8, hidden=64, mode="ternary"), _lstm_weights(build_dir), sim, tmp,
                          task=load_task("seq-digits"), samples=sequences, build_root=build_dir)
    return {"sequences": r["samples"], "passed": r["passed"], "cycles": r["cycles"], "build_s": r["build_s"],
            "run_s": r["run_s"], "sequences_per_s": _rate(r["samples"], r["run_s"]),
            "cycles_per_s": r["cycles_per_s"]}


def measure_lstm_training(weights, epochs, build_dir):
    from models.lstm_train import LSTMTrainConfig, train_lstm
    cfg = LSTMTrainConfig(task="seq-digits", weights=weights, hidden=64, epochs=epochs, batch=32, lr=0.02)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        m = train_lstm(cfg, tmp, progress=False)
        secs = time.perf_counter() - t0
    return {"epochs": epochs, "train_s": m["train_s"], "wall_s": round(secs, 2), "test_accuracy": m["test_accuracy"],
            "torch_threads": m["torch_threads"]}


MEASURES = {
    "taxonn_engine": measure_taxonn_engine, "taxonn_rtl": measure_taxonn_rtl,
    "lstm_weights": train_lstm_weights, "lstm_golden": measure_lstm_golden, "lstm_rtl": measure_lstm_rtl, "lstm_training": measure_lstm_training,
}


def _child(name, arg, count, build_dir):
    """Run one measurement in a child process; its JSON plus its peak memory."""
    cmd = [sys.executable, __file__, "--measure", name, str(arg), str(count), str(build_dir)]
    print(f"[throughput] {name} {arg} ({count})", file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{name} {arg} failed (exit {os.waitstatus_to_exitcode(status)})")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs (figures noisier)")
    ap.add_argument("--markdown", action="store_true", help="also print a markdown table")
    ap.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        name, arg, count, build_dir = args.measure
        print(json.dumps(MEASURES[name](arg, int(count), build_dir)))
        return 0
    q = args.quick
    n_sw, n_ver, n_ica = (300, 1437, 10) if q else (1437, 5748, 40)
    l_sw, l_ver, l_ica, l_ep = (60, 120, 3, 2) if q else (360, 360, 10, 5)
    figures = {"taxonn": {"config": TAXONN}, "lstm": {"config": {"input_size": 8, "hidden": 64, "mode": "ternary"}}}
    with tempfile.TemporaryDirectory() as build:
        t = figures["taxonn"]
        for engine in ("golden", "torch", "float32"):
            t[engine] = _child("taxonn_engine", engine, n_sw, build)
        t["verilator"] = _child("taxonn_rtl", "verilator", n_ver, build)
        t["icarus"] = _child("taxonn_rtl", "icarus", n_ica, build)
        l = figures["lstm"]
        _child("lstm_weights", "ternary", 3, build)
        l["golden"] = _child("lstm_golden", "-", l_sw, build)
        l["verilator"] = _child("lstm_rtl", "verilator", l_ver, build)
        l["icarus"] = _child("lstm_rtl", "icarus", l_ica, build)
        l["train_ternary"] = _child("lstm_training", "ternary", l_ep, build)
        l["train_fp"] = _child("lstm_training", "fp", l_ep, build)
    t, l = figures["taxonn"], figures["lstm"]
    figures["ratios"] = {
        "taxonn_golden_vs_verilator_steps": round(t["golden"]["steps_per_s"] / t["verilator"]["steps_per_s"], 3),
        "taxonn_golden_vs_icarus_steps": round(t["golden"]["steps_per_s"] / t["icarus"]["steps_per_s"], 2),
        "taxonn_verilator_vs_icarus_cycles": round(t["verilator"]["cycles_per_s"] / t["icarus"]["cycles_per_s"], 1),
        "taxonn_quantized_torch_vs_float_time": round(t["float32"]["steps_per_s"] / t["torch"]["steps_per_s"], 2),
        "taxonn_golden_vs_float_time": round(t["float32"]["steps_per_s"] / t["golden"]["steps_per_s"], 2),
        "lstm_golden_vs_verilator_sequences": round(l["golden"]["sequences_per_s"] / l["verilator"]["sequences_per_s"], 3),
        "lstm_verilator_vs_icarus_cycles": round(l["verilator"]["cycles_per_s"] / l["icarus"]["cycles_per_s"], 1),
        "lstm_ternary_vs_fp_training_time": round(l["train_ternary"]["train_s"] / l["train_fp"]["train_s"], 2),
        "verilator_vs_icarus_build_taxonn": round(t["verilator"]["build_s"] / t["icarus"]["build_s"], 1),
    }
    print(json.dumps(figures, indent=2))
    if args.markdown:
        print(_markdown(figures))
    return 0


def _markdown(f):
    t, l = f["taxonn"], f["lstm"]
    rows = [("TaxoNN golden model (NumPy)", f"{t['golden']['steps_per_s']:,.0f} steps/s", "", t["golden"]),
            ("TaxoNN bit-exact torch engine", f"{t['torch']['steps_per_s']:,.0f} steps/s", "", t["torch"]),
            ("TaxoNN float32 MLP, same shape", f"{t['float32']['steps_per_s']:,.0f} steps/s", "", t["float32"]),
            ("TaxoNN RTL, cocotb + Verilator", f"{t['verilator']['steps_per_s']:,.1f} steps/s",
             f"{t['verilator']['build_s']:.1f} s", t["verilator"]),
            ("TaxoNN RTL, cocotb + Icarus", f"{t['icarus']['steps_per_s']:,.2f} steps/s",
             f"{t['icarus']['build_s']:.1f} s", t["icarus"]),
            ("BT-LSTM golden model", f"{l['golden']['sequences_per_s']:,.1f} seq/s", "", l["golden"]),
            ("BT-LSTM RTL, cocotb + Verilator", f"{l['verilator']['sequences_per_s']:,.1f} seq/s",
             f"{l['verilator']['build_s']:.1f} s", l["verilator"]),
            ("BT-LSTM RTL, cocotb + Icarus", f"{l['icarus']['sequences_per_s']:,.2f} seq/s",
             f"{l['icarus']['build_s']:.1f} s", l["icarus"]),
            ("BT-LSTM ternary training", f"{l['train_ternary']['train_s']:.1f} s / {l['train_ternary']['epochs']} ep",
             "", l["train_ternary"]),
            ("BT-LSTM float training", f"{l['train_fp']['train_s']:.1f} s / {l['train_fp']['epochs']} ep", "",
             l["train_fp"])]
    lines = ["| what | throughput | build | peak memory |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {rate} | {build or '-'} | {m['peak_rss_mib']:.0f} MiB |" for name, rate, build, m in rows]
    lines += ["", "| ratio | value |", "| --- | ---: |"] + [f"| {k} | {v} |" for k, v in f["ratios"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
