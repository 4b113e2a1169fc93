"""TaxoNN accuracy on MNIST: float32 vs the default fixed-point formats, both roundings,
for 784-100-10 and a deeper network; then a bitwidth sweep.

    .venv/bin/python benchmarks/taxonn_mnist.py --data-dir ../shared/data --epochs 3 --out out/taxonn_mnist
    .venv/bin/python benchmarks/taxonn_mnist.py --data-dir ../shared/data --sweep --epochs 1 --out out/taxonn_sweep
    .venv/bin/python benchmarks/taxonn_mnist.py --data-dir ../shared/data --lr-sweep 5,6,7,8 --epochs 3 \
        --out out/taxonn_lr

The learning-rate sweep trains both networks with stochastic rounding at every
eta = 2^-k, each beside its own float32 reference, and names the k with the
lowest mean TaxoNN misclassification among those whose gap to float is within
`GOAL_POINTS` on both networks: how `TaxoNNConfig.lr_shift`'s default is chosen.

(after `make setup`, which installs bitforge into .venv).

Every run goes through `models.taxonn_train.train_taxonn` into its own
directory, so a killed experiment resumes where it stopped. Runs go two at a
time (2 cores). Prints a markdown table and writes ``results.json`` and
``results.md`` (and ``sweep.png`` for the sweep) into ``--out``.
"""

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# One thread per worker: two workers share the 2 cores.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from quant.fsio import atomic_write_json, atomic_write_text, ensure_dir
from models.datasets import load_dataset
from models.taxonn import TaxoNNConfig
from models.taxonn_train import train_taxonn

#: the accuracy goal: TaxoNN within this many points of float32 on every network
GOAL_POINTS = 0.5
NETWORKS = {"784-100-10": (784, 100, 10), "784-200-100-10": (784, 200, 100, 10)}


def _run(job):
    name, cfg_json, data_dir, epochs, out, float_reference = job
    import torch
    torch.set_num_threads(1)
    cfg = TaxoNNConfig.from_json(cfg_json)
    dataset = load_dataset("mnist", data_dir)
    t0 = time.monotonic()
    metrics = train_taxonn(cfg, dataset, Path(out) / name, epochs=epochs, seed=0,
                           float_reference=float_reference, progress=False)
    return name, metrics, time.monotonic() - t0


def _sweep_formats(bits):
    """Weights, activations and errors of ``bits`` bits; gradient bus 4 bits wider."""
    return dict(w_fmt=f"{bits}.{bits - 2}", a_fmt=f"{bits}.{bits - 4}", e_fmt=f"{bits}.{bits - 2}",
                g_fmt=f"{bits + 4}.{bits + 2}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--sweep", action="store_true", help="bitwidth sweep instead of the main table")
    ap.add_argument("--bits", default="6,8,10,12,14,16")
    ap.add_argument("--lr-sweep", default=None, metavar="K,K,...",
                    help="learning-rate sweep over eta = 2^-k instead of the main table")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="out/taxonn_mnist")
    args = ap.parse_args(argv)
    out = ensure_dir(args.out)
    jobs = []
    if args.sweep:
        for bits in (int(b) for b in args.bits.split(",")):
            cfg = TaxoNNConfig(layers=NETWORKS["784-100-10"], pes=16, **_sweep_formats(bits))
            jobs.append((f"bits{bits}", cfg.to_json(), args.data_dir, args.epochs, str(out), bits == 16))
    elif args.lr_sweep:
        for net, layers in NETWORKS.items():
            for k in (int(v) for v in args.lr_sweep.split(",")):
                cfg = TaxoNNConfig(layers=layers, pes=16, lr_shift=k)
                jobs.append((f"{net}-lr{k}", cfg.to_json(), args.data_dir, args.epochs, str(out), True))
    else:
        for net, layers in NETWORKS.items():
            for rounding in ("stochastic", "nearest"):
                cfg = TaxoNNConfig(layers=layers, pes=16, rounding=rounding)
                # the float reference rides along with the stochastic run (same init and order)
                jobs.append((f"{net}-{rounding}", cfg.to_json(), args.data_dir, args.epochs, str(out),
                             rounding == "stochastic"))
    results = {}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for name, metrics, wall in pool.map(_run, jobs):
            print(f"[taxonn_mnist] {name}: test accuracy {metrics['test_accuracy']:.4f} ({wall:.0f} s)",
                  flush=True)
            results[name] = {k: metrics.get(k) for k in ("test_accuracy", "float_test_accuracy",
                                                         "test_misclassification_pct",
                                                         "float_test_misclassification_pct",
                                                         "steps", "config", "wall_s")}
    lines = []
    if args.sweep:
        ref = results[max(results, key=lambda n: int(n[4:]))].get("float_test_misclassification_pct")
        lines += [f"MNIST 784-100-10, {args.epochs} epoch(s), stochastic rounding; float32 reference "
                  f"misclassification {ref}%", "",
                  "| bits (w, a, e) | formats | misclassification % | vs float (points) |",
                  "| --- | --- | --- | --- |"]
        for name, r in results.items():
            c = r["config"]
            lines.append(f"| {name[4:]} | w {c['w_fmt']}, a {c['a_fmt']}, e {c['e_fmt']}, g {c['g_fmt']} | "
                         f"{r['test_misclassification_pct']} | "
                         f"{r['test_misclassification_pct'] - ref:+.2f} |")
        _plot_sweep(out / "sweep.png", results, ref)
    elif args.lr_sweep:
        lines += [f"MNIST, {args.epochs} epochs of online SGD, stochastic rounding, TaxoNN default formats, "
                  "each run beside its own float32 reference", "",
                  "| eta | " + " | ".join(f"{net} float % | TaxoNN % | diff" for net in NETWORKS) + " | worse diff |",
                  "| --- |" + " --- | --- | --- |" * len(NETWORKS) + " --- |"]
        worst = {}
        for k in (int(v) for v in args.lr_sweep.split(",")):
            cells, gaps = [], []
            for net in NETWORKS:
                r = results[f"{net}-lr{k}"]
                f, q = r["float_test_misclassification_pct"], r["test_misclassification_pct"]
                gaps.append(q - f)
                cells.append(f"{f} | {q} | {q - f:+.2f}")
            worst[k] = max(gaps)
            lines.append(f"| 2^-{k} | " + " | ".join(cells) + f" | {worst[k]:+.2f} |")
        mean = {k: sum(results[f"{net}-lr{k}"]["test_misclassification_pct"] for net in NETWORKS) / len(NETWORKS)
                for k in worst}
        within = [k for k in worst if worst[k] <= GOAL_POINTS] or list(worst)
        best = min(within, key=mean.get)
        lines += ["", f"chosen: eta = 2^-{best}, the lowest mean TaxoNN misclassification ({mean[best]:.2f}%) "
                      f"among the rates with both gaps within {GOAL_POINTS} points (worse gap {worst[best]:+.2f})"]
        results["chosen_lr_shift"] = best
    else:
        lines += [f"MNIST, {args.epochs} epochs of online SGD, eta = 2^-k, TaxoNN default formats",
                  "", "| network | float32 misclass. % | TaxoNN stochastic % | diff | TaxoNN nearest % | diff |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for net in NETWORKS:
            s, n = results[f"{net}-stochastic"], results[f"{net}-nearest"]
            f = s["float_test_misclassification_pct"]
            lines.append(f"| {net} | {f} | {s['test_misclassification_pct']} | "
                         f"{s['test_misclassification_pct'] - f:+.2f} | {n['test_misclassification_pct']} | "
                         f"{n['test_misclassification_pct'] - f:+.2f} |")
    table = "\n".join(lines)
    print(table)
    atomic_write_json(out / "results.json", results)
    atomic_write_text(out / "results.md", table + "\n")
    return 0


def _plot_sweep(path, results, ref):
    import io
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from quant.fsio import atomic_write_bytes
    bits = [int(n[4:]) for n in results]
    mis = [r["test_misclassification_pct"] for r in results.values()]
    fig, ax = plt.subplots(figsize=(5.5, 3.5), dpi=110)
    ax.plot(bits, mis, "o-", label="TaxoNN, stochastic rounding")
    if ref is not None:
        ax.axhline(ref, color="gray", ls="--", label="float32")
    ax.set_xlabel("bits of weights, activations and errors")
    ax.set_ylabel("test misclassification (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


if __name__ == "__main__":
    sys.exit(main())
