"""The gap between binary/ternary and full-precision BT-LSTMs against hidden size and epochs: table and plot.

    .venv/bin/python benchmarks/lstm_gap.py --task seq-digits --hidden 16,32,64,128 --epochs 20 --batch 32 \
        --lr 0.02 --lr-final 0.002 --plot docs/img/lstm-gap-seq-digits.png
    .venv/bin/python benchmarks/lstm_gap.py --task ptb-char --hidden 128,256 --epochs 10 --batch 64 --lr 0.002 \
        --lr-final 0.0002 --recurrent-bn batch --data-dir ../shared/data --plot docs/img/lstm-gap-ptb.png

Trains (or re-reads, when ``OUT/<run>/metrics.json`` holds the same configuration)
fp, ternary and binary at every hidden size, everything else equal, and reports
each quantized model's gap to fp at that size: the best-validation epoch's test
figure (accuracy points, or bits per character), and per epoch the validation gap.
The plot has two panels: test gap against hidden size (log scale), and validation
gap against epoch for each size, so that a larger setting is read off measured
points. Prints JSON, then a markdown table.
"""

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from benchmarks.lstm_table import add_training_args, trained
from models.lstm_train import LSTMTrainConfig

MODES = ("fp", "ternary", "binary")


def _plot(path, rows, curves, figure, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=110)
    unit = "points" if figure == "accuracy" else "BPC"
    sizes = sorted({r["hidden"] for r in rows})
    colors = {h: plt.cm.viridis(i / max(len(sizes) - 1, 1) * 0.85) for i, h in enumerate(sizes)}
    for mode, marker, style in (("ternary", "o", "-"), ("binary", "s", "--")):
        pts = sorted((r["hidden"], r["gap"]) for r in rows if r["weights"] == mode)
        left.plot([h for h, _ in pts], [g for _, g in pts], marker + style, color="black", label=mode)
        for hidden, gaps in sorted(curves[mode].items()):
            right.plot(range(1, len(gaps) + 1), gaps, marker + style, color=colors[hidden], markersize=3,
                       lw=1, label=f"{mode} H={hidden}")
    right.xaxis.get_major_locator().set_params(integer=True)
    left.set_xscale("log", base=2)
    left.set_xlabel("hidden units")
    left.set_ylabel(f"test gap to fp ({unit})")
    left.axhline(0, color="gray", lw=0.8)
    right.set_xlabel("epoch")
    right.set_ylabel(f"validation gap to fp ({unit})")
    right.axhline(0, color="gray", lw=0.8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_args(ap, hidden=None, lr=0.02, out="out/lstm-gap")
    ap.add_argument("--hidden", default="16,32,64,128", help="comma-separated hidden sizes")
    ap.add_argument("--lr-final", type=float, default=None)
    ap.add_argument("--plot", default=None, help="write the plot here (PNG)")
    args = ap.parse_args(argv)
    sizes = [int(h) for h in args.hidden.split(",")]
    base = LSTMTrainConfig(task=args.task, weights="fp", epochs=args.epochs, batch=args.batch, lr=args.lr,
                           lr_final=args.lr_final, seq_len=args.seq_len, seed=args.seed,
                           recurrent_bn=args.recurrent_bn)
    runs, n = {}, 0
    for hidden in sizes:
        for mode in MODES:
            n += 1
            cfg = dataclasses.replace(base, weights=mode, hidden=hidden)
            print(f"[lstm_gap] {n}/{len(sizes) * len(MODES)}: {args.task} H={hidden} {mode}", file=sys.stderr,
                  flush=True)
            runs[hidden, mode] = trained(cfg, Path(args.out) / f"{args.task}-H{hidden}-{mode}", args.data_dir)
    figure = "accuracy" if "test_accuracy" in runs[sizes[0], "fp"] else "bpc"
    sign = 1 if figure == "accuracy" else -1  # the gap is how much worse than fp, positive
    scale = 100 if figure == "accuracy" else 1
    rows, curves = [], {"ternary": {}, "binary": {}}
    for hidden in sizes:
        fp = runs[hidden, "fp"]
        for mode in MODES:
            m = runs[hidden, mode]
            row = {"hidden": hidden, "weights": mode, f"test_{figure}": m[f"test_{figure}"],
                   f"hardware_test_{figure}": m["hardware"][f"test_{figure}"], "best_epoch": m["best_epoch"],
                   "train_s": m["train_s"]}
            if mode != "fp":
                row["gap"] = round(scale * sign * (fp[f"test_{figure}"] - m[f"test_{figure}"]), 4)
                curves[mode][hidden] = [round(scale * sign * (f[f"valid_{figure}"] - q[f"valid_{figure}"]), 4)
                                        for f, q in zip(fp["history"], m["history"])]
            rows.append(row)
    print(json.dumps({"task": args.task, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
                      "lr_final": args.lr_final, "rows": rows, "validation_gap_per_epoch": curves}, indent=2))
    unit, digits = ("points", 2) if figure == "accuracy" else ("BPC", 4)
    print(f"\n{args.task}, {args.epochs} epochs, batch {args.batch}, lr {args.lr}"
          f"{f' decaying to {args.lr_final}' if args.lr_final else ''}\n\n"
          f"| H | fp | ternary | binary | ternary gap ({unit}) | binary gap ({unit}) |\n"
          f"| ---: | ---: | ---: | ---: | ---: | ---: |")
    for hidden in sizes:
        vals = {r["weights"]: r for r in rows if r["hidden"] == hidden}
        f = lambda v: f"{scale * v:.{digits}f}{'%' if figure == 'accuracy' else ''}"
        print(f"| {hidden} | {f(vals['fp'][f'test_{figure}'])} | {f(vals['ternary'][f'test_{figure}'])} | "
              f"{f(vals['binary'][f'test_{figure}'])} | {vals['ternary']['gap']:+.{digits}f} | "
              f"{vals['binary']['gap']:+.{digits}f} |")
    if args.plot:
        _plot(args.plot, rows, curves, figure,
              f"{args.task}: binary/ternary against fp, {args.epochs} epochs"
              f"{', lr decayed' if args.lr_final else ''}")
        print(f"\nwrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
