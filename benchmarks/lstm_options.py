"""Which of the authors' BT-LSTM training methods help at our sizes: each option alone and all together.

    .venv/bin/python benchmarks/lstm_options.py --task seq-digits --hidden 64 --epochs 20 --batch 32 --lr 0.02
    .venv/bin/python benchmarks/lstm_options.py --task row-mnist --hidden 100 --epochs 5 --batch 64 --lr 0.004 \
        --data-dir ../shared/data

Trains (or re-reads, when ``OUT/<run>/metrics.json`` holds the same
configuration) fp once and, for ternary and binary, our defaults, then each of
the authors' options on top of them (`models.lstm_train.LSTMTrainConfig`):

* ``lr-decay``: the learning rate decays geometrically per epoch to lr / 10;
* ``per-step-bn``: batch-norm statistics per time step, each step normalized by
  its own batch statistics in training (their code), exported pooled;
* ``clip-step``: each quantized weight's Adam step clipped to +-W0 (theirs: binary);
* ``threshold-1/3``: deterministic ternary threshold W0/3 (ternary only);
* ``authors``: all of them.

Everything else equal (task, size, epochs, batch, seed). Every figure is the
best-validation epoch's test figure of the exported (pooled) model, beside the
same through the hardware arithmetic. Prints JSON, then a markdown table.
"""

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from benchmarks.lstm_table import add_training_args, trained
from models.lstm_train import LSTMTrainConfig

OPTIONS = {
    "ours": {},
    "lr-decay": {"lr_final": None},  # filled in: lr / 10
    "per-step-bn": {"bn_stats": "per-step", "recurrent_bn": "batch"},
    "clip-step": {"clip_step": True},
    "threshold-1/3": {"ternary_threshold": 1 / 3},
}


def _options(name, lr):
    if name == "authors":
        merged = {}
        for key in ("lr-decay", "per-step-bn", "clip-step", "threshold-1/3"):
            merged.update(_options(key, lr))
        return merged
    return {k: (lr / 10 if k == "lr_final" else v) for k, v in OPTIONS[name].items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_args(ap, lr=0.02, out="out/lstm-options")  # the per-step-bn option trains BN_h/BN_c with batch
    args = ap.parse_args(argv)
    base = LSTMTrainConfig(task=args.task, weights="fp", hidden=args.hidden, epochs=args.epochs, batch=args.batch,
                           lr=args.lr, seq_len=args.seq_len, seed=args.seed, recurrent_bn=args.recurrent_bn)
    runs = [("fp", "ours")]
    for mode in ("ternary", "binary"):
        for name in (*OPTIONS, "authors"):
            if name == "threshold-1/3" and mode != "ternary":
                continue
            runs.append((mode, name))
    rows = []
    for i, (mode, name) in enumerate(runs, 1):
        cfg = dataclasses.replace(base, weights=mode, **_options(name, args.lr))
        print(f"[lstm_options] {i}/{len(runs)}: {args.task} {mode} {name}", file=sys.stderr, flush=True)
        m = trained(cfg, Path(args.out) / f"{args.task}-H{args.hidden}-{mode}-{name.replace('/', '_')}", args.data_dir)
        figure = "accuracy" if "test_accuracy" in m else "bpc"
        rows.append({"weights": mode, "option": name, f"test_{figure}": m[f"test_{figure}"],
                     f"test_{figure}_per_step": m.get(f"test_{figure}_per_step"),
                     f"hardware_test_{figure}": m["hardware"][f"test_{figure}"], "best_epoch": m["best_epoch"],
                     "train_s": m["train_s"], "config": cfg.to_json()})
    fp = rows[0][f"test_{figure}"]
    for r in rows:
        r["gap_to_fp"] = (fp - r[f"test_{figure}"]) if figure == "accuracy" else (r[f"test_{figure}"] - fp)
    print(json.dumps({"task": args.task, "hidden": args.hidden, "epochs": args.epochs, "batch": args.batch,
                      "lr": args.lr, "rows": rows}, indent=2))
    scale, unit, digits = (100, "%", 2) if figure == "accuracy" else (1, "", 4)
    print(f"\n{args.task}, H={args.hidden}, {args.epochs} epochs, batch {args.batch}, lr {args.lr}\n\n"
          f"| weights | option | test {figure} | gap to fp | per-step inference | through the hardware arithmetic "
          f"| best epoch |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        per_step = r[f"test_{figure}_per_step"]
        print(f"| {r['weights']} | {r['option']} | {scale * r[f'test_{figure}']:.{digits}f}{unit} | "
              f"{scale * r['gap_to_fp']:+.{digits}f} | "
              f"{'' if per_step is None else f'{scale * per_step:.{digits}f}{unit}'} | "
              f"{scale * r[f'hardware_test_{figure}']:.{digits}f}{unit} | {r['best_epoch']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
