"""BT-LSTM training speed against torch.nn.LSTM of the same size, on the same data, side by side in one run.

    .venv/bin/python benchmarks/lstm_speed.py --task row-mnist --hidden 100 --batch 64 --data-dir ../shared/data
    .venv/bin/python benchmarks/lstm_speed.py --task ptb-char --hidden 128 --batch 64 --data-dir ../shared/data
    .venv/bin/python benchmarks/lstm_speed.py            # seq-digits, H=64: no dataset needed

Each engine trains the same batches in the same order (Adam, cross-entropy,
gradient-norm clipping, as ``bitforge train lstm`` does): ``torch.nn.LSTM``
with a linear head (the anchor), and `models.btlstm.LSTMNet` in fp, ternary and
binary with the configured batch-norm statistics. The engines take turns batch
by batch (``--rounds`` passes over ``--batches`` batches each), so a change in
the machine's load hits all of them alike; the time per epoch is the measured
time per batch times the epoch's batches. Prints JSON, then a markdown table
with each engine's ratio to ``torch.nn.LSTM``.
"""

import argparse
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from models.btlstm import LSTMNet, RECURRENT_BN, BN_STATS
from models.lstm_tasks import load_task
from models.lstm_train import TASK_DEFAULTS, _one_hot, _streams


class _Anchor(torch.nn.Module):
    """torch.nn.LSTM and a linear head: the same shapes as LSTMNet, no quantization, no batch norm."""

    def __init__(self, inputs, hidden, classes, per_step):
        super().__init__()
        self.lstm = torch.nn.LSTM(inputs, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, classes)
        self.per_step = per_step

    def forward(self, x, state=None):
        out, state = self.lstm(x, state)
        return self.head(out if self.per_step else out[:, -1]), state


def _batches(task, batch, seq_len, count, seed):
    """``count`` training batches ``(x, y)`` as the trainer draws them."""
    if task.kind == "lm":
        xs, ys = _streams(task.train, batch)  # the trainer's own streams and one-hot inputs
        length = xs.shape[1]
        out = [(_one_hot(xs[:, s:s + seq_len], task.classes), torch.as_tensor(ys[:, s:s + seq_len]).reshape(-1))
               for s in range(0, min(length, count * seq_len), seq_len)]
        return out, -(-length // seq_len)
    order = np.random.default_rng(seed).permutation(len(task.x_train))
    out = [(torch.as_tensor(task.x_train[idx], dtype=torch.float32), torch.as_tensor(task.y_train[idx]))
           for idx in (order[b * batch:(b + 1) * batch] for b in range(count))]
    return out, -(-len(task.x_train) // batch)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="seq-digits")
    ap.add_argument("--hidden", type=int, default=None, help="default per task")
    ap.add_argument("--batch", type=int, default=None, help="default per task")
    ap.add_argument("--seq-len", type=int, default=100, help="ptb-char chunk length")
    ap.add_argument("--batches", type=int, default=20, help="batches timed per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--recurrent-bn", choices=RECURRENT_BN, default=None, help="default per task")
    ap.add_argument("--bn-stats", choices=BN_STATS, default="shared")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default torch's)")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    defaults = TASK_DEFAULTS[args.task]
    hidden, batch = args.hidden or defaults["hidden"], args.batch or defaults["batch"]
    recurrent_bn = args.recurrent_bn or defaults.get("recurrent_bn", "running")
    task = load_task(args.task, args.data_dir)
    lm = task.kind == "lm"
    data, per_epoch = _batches(task, batch, args.seq_len, args.batches, seed=0)
    steps = args.seq_len if lm else task.steps
    engines = {"torch.nn.LSTM": _Anchor(task.input_size, hidden, task.classes, lm)}
    for mode in ("fp", "ternary", "binary"):
        engines[mode] = LSTMNet(task.input_size, hidden, task.classes, mode, per_step=lm, recurrent_bn=recurrent_bn,
                                bn_stats=args.bn_stats, steps=steps, seed=0)
    opts = {name: torch.optim.Adam(net.parameters(), lr=1e-3) for name, net in engines.items()}
    seconds = {name: 0.0 for name in engines}

    def train_batch(name, x, y):
        net, opt = engines[name], opts[name]
        net.train()
        logits, _ = net(x)
        loss = F.cross_entropy(logits.reshape(-1, task.classes), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if isinstance(net, LSTMNet):
            net.lstm.clip_shadow_weights()

    for name in engines:  # warm up: first calls allocate and script
        train_batch(name, *data[0])
    for r in range(args.rounds):
        for x, y in data:
            for name in engines:
                t0 = time.perf_counter()
                train_batch(name, x, y)
                seconds[name] += time.perf_counter() - t0
        print(f"[lstm_speed] round {r + 1}/{args.rounds}: " + ", ".join(
            f"{n} {1e3 * s / ((r + 1) * len(data)):.1f} ms/batch" for n, s in seconds.items()), file=sys.stderr)
    timed = args.rounds * len(data)
    anchor = seconds["torch.nn.LSTM"] / timed
    rows = [{"engine": name, "ms_per_batch": round(1e3 * s / timed, 2),
             "s_per_epoch": round(s / timed * per_epoch, 1), "vs_torch_lstm": round(s / timed / anchor, 2)}
            for name, s in seconds.items()]
    print(json.dumps({"task": args.task, "hidden": hidden, "batch": batch, "seq_len": args.seq_len if lm else steps,
                      "recurrent_bn": recurrent_bn, "bn_stats": args.bn_stats, "batches_per_epoch": per_epoch,
                      "batches_timed": timed, "torch_threads": torch.get_num_threads(), "rows": rows}, indent=2))
    print(f"\n{args.task}, H={hidden}, batch {batch}, {timed} batches timed per engine, "
          f"{torch.get_num_threads()} torch threads\n\n| engine | ms per batch | s per epoch | time vs torch.nn.LSTM |"
          f"\n| --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['engine']} | {r['ms_per_batch']:.1f} | {r['s_per_epoch']:.0f} | {r['vs_torch_lstm']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
