"""Training runs for the BT-LSTM: the loop behind ``bitforge train lstm``.

A run trains an `models.btlstm.LSTMNet` (Adam, cross-entropy) on one of the
`models.lstm_tasks` and writes to its output directory:

``checkpoint.pt``
    Written atomically every ``checkpoint_every`` batches and at the end of
    every epoch: model, optimizer and quantizer-generator state, the position
    in the epoch, the carried state of a character model, the best model so
    far and the history. A run started again with the same arguments resumes
    from it and ends identical to one never interrupted (same thread count).
``metrics.json``
    ``valid_accuracy`` / ``test_accuracy`` (classification) or ``valid_bpc`` /
    ``test_bpc`` (characters) of the best-validation model, the same figures
    through the hardware arithmetic (`models.lstm.LSTMGolden`) under
    ``hardware``, the history, sizes and times.
``lstm.npz``
    The best model in the export contract (`models.lstm.LSTMWeights`).
``loss.png``, ``valid.png``
    Training loss and validation figure per epoch.

Options after the authors' code (`LSTMTrainConfig`; all off by default):
``bn_stats="per-step"`` (batch-norm statistics per time step, exported pooled:
`models.btlstm`), ``lr_final`` (the learning rate decays geometrically per
epoch from ``lr`` to ``lr_final``, `LSTMTrainConfig.lr_at`), ``clip_step``
(each quantized weight's Adam step clipped to +-W0), ``ternary_threshold``
(deterministic ternary threshold as a fraction of W0; theirs is 1/3). The
reported test figure is always the best-validation epoch's, as theirs.

Data order: epoch e shuffles with seed ``(seed, e)``; a character model reads
the training text as ``batch`` contiguous streams in chunks of ``seq_len``
steps, carrying the state across chunks (truncated back-propagation). The
evaluation of a character model runs each split as ``eval_streams``
contiguous streams with carried state, and counts every predicted character.
"""

import dataclasses
from dataclasses import dataclass
import io
import json
import math
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from quant.errors import BadInput, first_line
from quant.fsio import atomic_write_bytes, atomic_write_json, ensure_dir
from quant.weights import check_threshold
from ._config import ConfigMixin, check_int, check_choice
from .btlstm import LSTMNet, WEIGHTS, RECURRENT_BN, BN_STATS, fold
from .lstm import LSTMConfig, LSTMGolden
from .lstm_tasks import TASKS, load_task

__all__ = ["LSTMTrainConfig", "train_lstm", "train_modes", "finished_run", "recorded_config", "evaluate_float",
           "evaluate_hardware", "TASK_DEFAULTS", "EXPORT_MODE"]

#: the hardware mode each training mode exports to (full precision becomes 12-bit fixed point)
EXPORT_MODE = {"fp": "fixed12", "binary": "binary", "ternary": "ternary"}

#: per-task defaults of `train lstm` (the original's settings where it had one)
TASK_DEFAULTS = {
    "seq-digits": {"hidden": 64, "epochs": 20, "batch": 32, "lr": 0.02},
    "seq-digits-pixel": {"hidden": 64, "epochs": 20, "batch": 32, "lr": 0.02},
    "row-mnist": {"hidden": 100, "epochs": 5, "batch": 64, "lr": 0.004},
    "pixel-mnist": {"hidden": 100, "epochs": 1, "batch": 64, "lr": 0.004},
    "ptb-char": {"hidden": 256, "epochs": 2, "batch": 64, "lr": 0.002, "recurrent_bn": "batch"},
}

EVAL_STREAMS = 64


@dataclass(frozen=True)
class LSTMTrainConfig(ConfigMixin):
    """One BT-LSTM training run (see `train_lstm`)."""

    task: str = "seq-digits"
    weights: str = "ternary"
    stochastic: bool = True
    hidden: int = 64
    epochs: int = 10
    batch: int = 32
    lr: float = 0.004
    seed: int = 0
    seq_len: int = 100
    grad_clip: float = 1.0
    checkpoint_every: int = 200
    recurrent_bn: str = "running"
    bn_stats: str = "shared"
    lr_final: Optional[float] = None
    clip_step: bool = False
    ternary_threshold: float = 0.5

    def __post_init__(self):
        check_choice("task", self.task, TASKS)
        check_choice("weights", self.weights, WEIGHTS)
        check_choice("recurrent_bn", self.recurrent_bn, RECURRENT_BN)
        check_choice("bn_stats", self.bn_stats, BN_STATS)
        if not isinstance(self.clip_step, bool):
            raise TypeError(f"`clip_step` must be true or false, not {self.clip_step!r}")
        check_threshold(self.ternary_threshold, "ternary_threshold")
        if not isinstance(self.stochastic, bool):
            raise TypeError(f"`stochastic` must be true or false, not {self.stochastic!r}")
        check_int("hidden", self.hidden, 1, 16384)
        check_int("epochs", self.epochs, 1, 100000)
        check_int("batch", self.batch, 2, 1 << 20)
        check_int("seed", self.seed, 0, 2**31 - 1)
        check_int("seq_len", self.seq_len, 1, 1 << 20)
        check_int("checkpoint_every", self.checkpoint_every, 1, 1 << 30)
        for name in ("lr", "grad_clip", "lr_final"):
            value = getattr(self, name)
            if name == "lr_final" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
                    or not math.isfinite(value):
                raise ValueError(f"`{name}` must be a positive number, not {value!r}")

    def lr_at(self, epoch):
        """The learning rate of epoch ``epoch`` (0-based): ``lr`` decayed geometrically to ``lr_final``
        after the last epoch (the authors' schedule: ``lr * (lr_final / lr) ** (epoch / epochs)``)."""
        if self.lr_final is None:
            return self.lr
        return self.lr * (self.lr_final / self.lr) ** (epoch / self.epochs)


def _one_hot(codes, n):
    return F.one_hot(torch.as_tensor(codes), n).to(torch.float32)


def _streams(data, n_streams):
    """``(inputs, targets)`` int arrays (n_streams, L): contiguous streams of the text."""
    length = (len(data) - 1) // n_streams
    if length < 1:
        raise ValueError(f"a text of {len(data)} characters cannot be split into {n_streams} streams")
    x = data[:n_streams * length].reshape(n_streams, length)
    y = data[1:n_streams * length + 1].reshape(n_streams, length)
    return x, y


@torch.no_grad()
def evaluate_float(net, task, split, *, seq_len=100, streams=EVAL_STREAMS):
    """Accuracy (classification) or bits per character of ``net`` in eval mode on ``split``."""
    net.eval()
    if task.kind == "classify":
        x, y = getattr(task, f"x_{split}"), getattr(task, f"y_{split}")
        correct = 0
        for s in range(0, len(x), 1000):
            logits, _ = net(torch.as_tensor(x[s:s + 1000], dtype=torch.float32))
            correct += int((logits.argmax(1).numpy() == y[s:s + 1000]).sum())
        return correct / len(x)
    xs, ys = _streams(getattr(task, split), streams)
    state, nats = None, 0.0
    for s in range(0, xs.shape[1], seq_len):
        logits, state = net(_one_hot(xs[:, s:s + seq_len], task.classes), state)
        nats += F.cross_entropy(logits.reshape(-1, task.classes).double(),
                                torch.as_tensor(ys[:, s:s + seq_len]).reshape(-1), reduction="sum").item()
    return nats / ys.size / math.log(2)


def evaluate_hardware(weights, task, split, hw_cfg=None, *, streams=EVAL_STREAMS):
    """The same figure as `evaluate_float`, through the accelerator's integer arithmetic."""
    cfg = hw_cfg or LSTMConfig.for_weights(weights)
    golden = LSTMGolden(cfg, weights)
    if task.kind == "classify":
        x, y = getattr(task, f"x_{split}"), getattr(task, f"y_{split}")
        correct = 0
        for s in range(0, len(x), 2000):
            correct += int((golden.classify(x[s:s + 2000]) == y[s:s + 2000]).sum())
        return correct / len(x), golden
    xs, ys = _streams(getattr(task, split), streams)
    eye = np.eye(task.classes)
    h, c = golden.initial_state(streams)
    xq_table = golden.input_codes(eye)  # one-hot inputs: codes of 0 and 1
    nats = 0.0
    for t in range(xs.shape[1]):
        h, c, _ = golden.step(xq_table[xs[:, t]], h, c)
        logits = golden.logits(h)
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        nats -= logp[np.arange(streams), ys[:, t]].sum()
    return nats / ys.size / math.log(2), golden


def _figure(task):
    return ("accuracy", "higher") if task.kind == "classify" else ("bpc", "lower")


def _plot(path, epochs, values, ylabel, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=110)  # the size of every page plot (ppa.page.FIGURE_SIZE)
    ax.plot(epochs, values, "o-")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


_CHECKPOINT_KEYS = ("run_key", "model", "optimizer", "quant_gen", "state")


def _load_checkpoint(path):
    """A checkpoint written by ``train_lstm``, read with torch's tensors-only loader (no code in a checkpoint
    ever runs); anything else is one line naming the file."""
    import pickle
    import zipfile
    try:
        ck = torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError,
            KeyError, AttributeError, TypeError) as e:
        raise BadInput(f"{path} is not a readable bitforge checkpoint ({first_line(e, 200)}); delete it to start "
                       f"over, or choose another --out") from None
    if not isinstance(ck, dict) or any(k not in ck for k in _CHECKPOINT_KEYS):
        raise BadInput(f"{path} is not a bitforge checkpoint (expected the keys {', '.join(_CHECKPOINT_KEYS)}); "
                       f"delete it to start over, or choose another --out")
    return ck


def _torch_bytes(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _step(opt, lstm, clip_step):
    """One optimizer step; with ``clip_step`` each quantized matrix's step is clipped to +-W0 per weight
    (the authors' code does so in binary mode), so no weight moves by more than one quantization level."""
    if not clip_step or lstm.mode == "fp":
        opt.step()
        return
    before = [(p, p.detach().clone(), w0) for p, w0 in ((lstm.wx, lstm.w0x), (lstm.wh, lstm.w0h))]
    opt.step()
    with torch.no_grad():
        for p, old, w0 in before:
            p.copy_(old + (p - old).clamp(-w0, w0))


def train_lstm(cfg, out_dir, *, data_dir=None, task=None, progress=True, stop_after=None):
    """Train (resuming from ``out_dir/checkpoint.pt``), evaluate, export; return the metrics.

    ``stop_after`` (batches in this call) ends the call early after writing a
    checkpoint, as a kill would after one: the next call resumes. Returns
    None then.
    """
    if not isinstance(cfg, LSTMTrainConfig):
        raise TypeError(f"`cfg` must be an LSTMTrainConfig, not {type(cfg).__name__}")
    task = task or load_task(cfg.task, data_dir)
    out = ensure_dir(out_dir)
    lm = task.kind == "lm"
    net = LSTMNet(task.input_size, cfg.hidden, task.classes, cfg.weights, stochastic=cfg.stochastic,
                  per_step=lm, recurrent_bn=cfg.recurrent_bn, bn_stats=cfg.bn_stats,
                  steps=cfg.seq_len if lm else task.steps, ternary_threshold=cfg.ternary_threshold,
                  seed=cfg.seed)
    net.lstm.pooled = True  # evaluation (validation, the best model, test) is the exported model's
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    figure, better = _figure(task)
    run_key = json.dumps(cfg.to_json(), sort_keys=True)

    if lm:
        train_x, train_y = _streams(task.train, cfg.batch)
        n_batches = -(-train_x.shape[1] // cfg.seq_len)
    else:
        n_batches = -(-len(task.x_train) // cfg.batch)
    state = {"epoch": 0, "batch": 0, "history": [], "best": None, "best_valid": None, "wall_s": 0.0,
             "carry": None, "loss_sum": 0.0, "loss_count": 0}
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists():
        ck = _load_checkpoint(ckpt_path)
        if ck["run_key"] != run_key:
            raise ValueError(f"{ckpt_path} belongs to a different run ({ck['run_key']}); "
                             f"use another --out or delete it")
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        net.lstm.quant_gen.set_state(ck["quant_gen"])
        state = ck["state"]

    clock = {"since": time.monotonic()}  # wall time not yet added to state["wall_s"]

    def save_checkpoint():
        now = time.monotonic()
        state["wall_s"] += now - clock["since"]
        clock["since"] = now
        atomic_write_bytes(ckpt_path, _torch_bytes({
            "run_key": run_key, "model": net.state_dict(), "optimizer": opt.state_dict(),
            "quant_gen": net.lstm.quant_gen.get_state(), "state": state}))

    from tqdm import tqdm
    total = cfg.epochs * n_batches
    bar = tqdm(total=total, initial=state["epoch"] * n_batches + state["batch"], disable=not progress,
               unit="batch", desc=f"train lstm {cfg.task} {cfg.weights}", mininterval=1.0)
    done_here = 0
    while state["epoch"] < cfg.epochs:
        epoch = state["epoch"]
        net.train()
        for group in opt.param_groups:
            group["lr"] = cfg.lr_at(epoch)
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(task.x_train)) if not lm else None
        while state["batch"] < n_batches:
            b = state["batch"]
            if lm:
                s = b * cfg.seq_len
                carry = state["carry"]
                logits, (h, c) = net(_one_hot(train_x[:, s:s + cfg.seq_len], task.classes), carry)
                target = torch.as_tensor(train_y[:, s:s + cfg.seq_len]).reshape(-1)
                loss = F.cross_entropy(logits.reshape(-1, task.classes), target)
            else:
                idx = order[b * cfg.batch:(b + 1) * cfg.batch]
                if len(idx) < 2:  # batch norm needs two samples; the remainder waits for the next epoch
                    state["batch"] += 1
                    continue
                logits, _ = net(torch.as_tensor(task.x_train[idx], dtype=torch.float32))
                loss = F.cross_entropy(logits, torch.as_tensor(task.y_train[idx]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            _step(opt, net.lstm, cfg.clip_step)
            net.lstm.clip_shadow_weights()
            if lm:
                state["carry"] = (h.detach(), c.detach())
            state["loss_sum"] += loss.item()
            state["loss_count"] += 1
            state["batch"] += 1
            done_here += 1
            bar.update(1)
            if state["batch"] % cfg.checkpoint_every == 0 or (stop_after is not None and done_here >= stop_after):
                save_checkpoint()
            if stop_after is not None and done_here >= stop_after:
                bar.close()
                return None
        valid = evaluate_float(net, task, "valid", seq_len=cfg.seq_len)
        entry = {"epoch": epoch + 1, "train_loss": state["loss_sum"] / max(state["loss_count"], 1),
                 f"valid_{figure}": valid, "wall_s": round(state["wall_s"] + time.monotonic() - clock["since"], 2)}
        state["history"].append(entry)
        improved = state["best_valid"] is None or (valid > state["best_valid"] if better == "higher"
                                                   else valid < state["best_valid"])
        if improved:
            state["best_valid"] = valid
            state["best"] = {k: v.clone() for k, v in net.state_dict().items()}
        bar.set_postfix({f"valid_{figure}": f"{valid:.4f}"})
        state.update(epoch=epoch + 1, batch=0, carry=None, loss_sum=0.0, loss_count=0)
        save_checkpoint()
    bar.close()

    net.load_state_dict(state["best"])
    net.eval()
    weights = fold(net)
    weights.save(out / "lstm.npz")
    metrics = {"task": cfg.task, "config": cfg.to_json(), "weights": cfg.weights,
               "export_mode": weights.mode, "hidden": cfg.hidden, "input_size": task.input_size,
               "classes": task.classes, "parameters": sum(p.numel() for p in net.parameters()),
               "weight_memory_bits": weights.weight_bits(), "epochs": cfg.epochs,
               "best_epoch": 1 + [h[f"valid_{figure}"] for h in state["history"]].index(state["best_valid"]),
               f"valid_{figure}": state["best_valid"],
               f"test_{figure}": evaluate_float(net, task, "test", seq_len=cfg.seq_len),
               "history": state["history"], "train_s": round(state["wall_s"], 1),
               "torch_threads": torch.get_num_threads()}
    if cfg.bn_stats == "per-step":  # the authors' inference, each step with its own statistics
        net.lstm.pooled = False
        metrics[f"test_{figure}_per_step"] = evaluate_float(net, task, "test", seq_len=cfg.seq_len)
        net.lstm.pooled = True
    hw = {}
    for split in ("valid", "test"):
        value, golden = evaluate_hardware(weights, task, split)
        hw[f"{split}_{figure}"] = value
    hw["config"] = golden.cfg.to_json()
    hw["saturated_parameters"] = golden.saturated
    hw[f"test_{figure}_lost"] = (metrics[f"test_{figure}"] - hw[f"test_{figure}"]) if better == "higher" \
        else (hw[f"test_{figure}"] - metrics[f"test_{figure}"])
    metrics["hardware"] = hw
    epochs = [h["epoch"] for h in state["history"]]
    _plot(out / "loss.png", epochs, [h["train_loss"] for h in state["history"]], "training loss (nats)",
          f"{cfg.task}, {cfg.weights}, H={cfg.hidden}")
    _plot(out / "valid.png", epochs, [h[f"valid_{figure}"] for h in state["history"]], f"validation {figure}",
          f"{cfg.task}, {cfg.weights}, H={cfg.hidden}")
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def recorded_config(metrics):
    """The `LSTMTrainConfig` a run's ``metrics.json`` records, as JSON, with any field added since at its
    default (a run recorded before the field existed trained with that default)."""
    return {**LSTMTrainConfig().to_json(), **metrics.get("config", {})}


def finished_run(cfg, out_dir):
    """The metrics of a finished run of ``cfg`` in ``out_dir`` (`recorded_config` equal to ``cfg``), or None."""
    path = Path(out_dir) / "metrics.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text())
    return metrics if recorded_config(metrics) == cfg.to_json() else None


def train_modes(cfg, modes, work_dir, *, given=None, reuse=None, data_dir=None, progress=True, say=None):
    """The run ``cfg`` trained once per hardware mode in ``modes`` (``binary``, ``ternary``, ``fixed12``),
    everything else equal (task, size, epochs, batch, learning rate, seed): ``{mode: (weights path,
    metrics)}``. ``given`` maps modes to an existing run directory of the same run (it is used as is);
    ``reuse`` maps modes to directories that may hold a finished run of it in that mode (used when they
    do); the others train into ``work_dir/<mode>`` and resume there if interrupted."""
    training = {v: k for k, v in EXPORT_MODE.items()}
    out = {}
    for mode in modes:
        if mode not in training:
            raise ValueError(f"`mode` must be one of {', '.join(training)}, not {mode!r}")
        run_dir = Path(given[mode]) if given and mode in given else None
        if run_dir is None:
            run = dataclasses.replace(cfg, weights=training[mode])
            run_dir = Path(work_dir) / mode
            if reuse and mode in reuse and finished_run(run, reuse[mode]) is not None:
                run_dir = Path(reuse[mode])
            elif finished_run(run, run_dir) is None:
                if say:
                    say(f"training the {training[mode]} network of the same run ({cfg.task}, H={cfg.hidden}, "
                        f"{cfg.epochs} epochs, seed {cfg.seed}) for the {mode} design")
                train_lstm(run, run_dir, data_dir=data_dir, progress=progress)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        other = {k: v for k, v in recorded_config(metrics).items() if k != "weights"}
        if other != {k: v for k, v in cfg.to_json().items() if k != "weights"}:
            raise ValueError(f"{run_dir} is not the same run in another mode: its training settings "
                             f"{other} differ from {cfg.to_json()}")
        out[mode] = (run_dir / "lstm.npz", metrics)
    return out
