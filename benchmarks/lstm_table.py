"""fp vs binary vs ternary BT-LSTM on one task, at equal size and epochs: the results table.

    .venv/bin/python benchmarks/lstm_table.py --task row-mnist --hidden 100 --epochs 5 --batch 64 --lr 0.004
    .venv/bin/python benchmarks/lstm_table.py --task ptb-char --hidden 128 --epochs 3 --batch 64 --lr 0.002 --recurrent-bn batch

Trains (or resumes, or just re-reads) ``OUT/<task>-<weights>`` for each weight mode
with `bitforge train lstm`'s code, then prints JSON and a markdown table: the test
figure of each mode, its gap to fp, the figure through the hardware arithmetic, the
weight memory and the training time. Set OMP_NUM_THREADS to pin the threads.
"""

import argparse
import json
import sys
from pathlib import Path

from models.lstm_train import LSTMTrainConfig, train_lstm, finished_run

MODES = ("fp", "ternary", "binary")


def add_training_args(ap, *, hidden=64, lr=0.004, out="out/lstm"):
    """The training-run arguments the BT-LSTM benchmark scripts share (``--hidden`` unless ``hidden`` is None)."""
    ap.add_argument("--task", default="seq-digits")
    if hidden is not None:
        ap.add_argument("--hidden", type=int, default=hidden)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--seq-len", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recurrent-bn", default="running", choices=("running", "batch"),
                    help="statistics of BN_h/BN_c in training")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=out)


def trained(cfg, out, data_dir):
    """The metrics of ``cfg`` trained into ``out``: a finished run there is re-read, else it trains (resuming)."""
    return finished_run(cfg, out) or train_lstm(cfg, out, data_dir=data_dir)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_args(ap)
    ap.add_argument("--modes", default=",".join(MODES))
    args = ap.parse_args(argv)
    rows = {}
    for mode in args.modes.split(","):
        cfg = LSTMTrainConfig(task=args.task, weights=mode, hidden=args.hidden, epochs=args.epochs,
                              batch=args.batch, lr=args.lr, seq_len=args.seq_len, seed=args.seed,
                              recurrent_bn=args.recurrent_bn)
        print(f"[lstm_table] {args.task} {mode}", file=sys.stderr, flush=True)
        out = Path(args.out) / f"{args.task}-{mode}"
        rows[mode] = trained(cfg, out, args.data_dir)
    figure = "accuracy" if "test_accuracy" in next(iter(rows.values())) else "bpc"
    table = []
    for mode, m in rows.items():
        test, hw = m[f"test_{figure}"], m["hardware"][f"test_{figure}"]
        row = {"weights": mode, "export": m["export_mode"], f"valid_{figure}": m[f"valid_{figure}"],
               f"test_{figure}": test, f"hardware_test_{figure}": hw,
               "weight_memory_bits": m["weight_memory_bits"], "train_s": m["train_s"],
               "best_epoch": m["best_epoch"]}
        if "fp" in rows:
            fp = rows["fp"][f"test_{figure}"]
            row["gap_to_fp"] = (fp - test) if figure == "accuracy" else (test - fp)
        table.append(row)
    print(json.dumps({"task": args.task, "hidden": args.hidden, "epochs": args.epochs, "batch": args.batch,
                      "lr": args.lr, "rows": table}, indent=2))
    scale = 100 if figure == "accuracy" else 1
    unit = "%" if figure == "accuracy" else " BPC"
    print(f"\n| weights | test {figure} | gap to fp | through the hardware arithmetic | weight memory | "
          f"training time |\n| --- | --- | --- | --- | --- | --- |")
    for r in table:
        gap = r.get("gap_to_fp")
        print(f"| {r['weights']} | {scale * r[f'test_{figure}']:.{2 if scale == 100 else 4}f}{unit} | "
              f"{'' if gap is None else f'{scale * gap:+.{2 if scale == 100 else 4}f}'} | "
              f"{scale * r[f'hardware_test_{figure}']:.{2 if scale == 100 else 4}f}{unit} ({r['export']}) | "
              f"{r['weight_memory_bits'] / 8 / 1024:.1f} KiB | {r['train_s'] / 60:.1f} min |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
