"""Training runs for TaxoNN: the loop behind ``bitforge train taxonn``.

A run trains the golden model (or the identical torch path) on a dataset in
a deterministic sample order, optionally a float reference beside it, and
writes to its output directory. Without a float reference the golden model's
arithmetic runs a block of steps at a time (`models.taxonn_steps.train_steps`,
bit-identical to its step, several times faster). Outputs:

``checkpoint.npz``
    Written atomically at the end of every epoch (and when the run ends):
    parameters, LFSR state, the float reference, the history. A run started
    again with the same arguments resumes from it and ends bit-identical to
    one never interrupted.
``metrics.json``, ``init.npz``, ``weights.npz``, ``curve.png``
    At the end. The npz files hold ``W1, b1, W2, b2, ...`` as floats of the
    fixed-point codes, ``W`` shaped ``(n_out, n_in)``.
"""

import io
import json
import time

import numpy as np

from quant.errors import BadInput
from quant.fsio import atomic_write_bytes, atomic_write_json, ensure_dir, read_npz
from quant import dequantize
from .datasets import sample_order
from .taxonn import TaxoNNConfig, TaxoNNGolden, init_params, schedule
from .taxonn_steps import train_steps

__all__ = ["train_taxonn", "save_params_npz", "load_params_npz"]

#: steps the golden engine runs between progress updates (`models.taxonn_steps.train_steps`)
BLOCK = 256


def save_params_npz(path, cfg, params):
    """Write ``W1, b1, ...`` (float values of the codes) atomically."""
    arrays = {}
    for l, (w, b) in enumerate(params, 1):
        arrays[f"W{l}"] = dequantize(w, cfg.w_fmt)
        arrays[f"b{l}"] = dequantize(b, cfg.w_fmt)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _read_checkpoint(path, cfg):
    """A checkpoint written by ``train_taxonn``: every key present (else one line naming the file)."""
    ck = read_npz(path, "checkpoint")
    need = ["run_key", "step", "wall_s", "history", "lfsr"] + [f"{p}{l}" for l in range(cfg.n_layers) for p in "Wb"]
    missing = [k for k in need if k not in ck]
    if missing:
        raise BadInput(f"checkpoint {str(path)!r} lacks {', '.join(missing)}; delete it to start over, or choose "
                       f"another --out")
    for l in range(cfg.n_layers):
        shape = (cfg.layers[l + 1], cfg.layers[l])
        if ck[f"W{l}"].shape != shape or ck[f"b{l}"].shape != shape[:1]:
            raise BadInput(f"checkpoint {str(path)!r}: W{l} must be {shape} and b{l} ({shape[0]},), not "
                           f"{ck[f'W{l}'].shape} and {ck[f'b{l}'].shape}; delete it to start over")
    return ck


def load_params_npz(path, cfg):
    """Read a `save_params_npz` file back into codes, checking keys and shapes."""
    from quant import quantize
    data = read_npz(path, "weights")
    params = []
    for l in range(1, cfg.n_layers + 1):
        for key in (f"W{l}", f"b{l}"):
            if key not in data:
                raise BadInput(f"{path}: missing key {key!r} (expected W1, b1, ..., W{cfg.n_layers}, b{cfg.n_layers})")
        w, b = data[f"W{l}"], data[f"b{l}"]
        shape = (cfg.layers[l], cfg.layers[l - 1])
        if w.shape != shape or b.shape != shape[:1]:
            raise BadInput(f"{path}: W{l} must be {shape} and b{l} ({shape[0]},), not {w.shape} and {b.shape}")
        wq, bq = quantize(w, cfg.w_fmt), quantize(b, cfg.w_fmt)
        if not (np.array_equal(dequantize(wq, cfg.w_fmt), w) and np.array_equal(dequantize(bq, cfg.w_fmt), b)):
            raise BadInput(f"{path}: layer {l} values are not codes of {cfg.w_fmt}")
        params.append((wq, bq))
    return params


def _checkpoint_bytes(state):
    buf = io.BytesIO()
    np.savez(buf, **state)
    return buf.getvalue()


def _plot_curve(path, history, float_reference):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=110)  # the size of every page plot (ppa.page.FIGURE_SIZE)
    ax.plot(epochs, [100 * h["test_accuracy"] for h in history], "o-", label="TaxoNN (fixed point)")
    ax.plot(epochs, [100 * h["train_accuracy"] for h in history], "s--", alpha=0.6,
            label="TaxoNN train accuracy (during the epoch)")
    if float_reference:
        ax.plot(epochs, [100 * h["float_test_accuracy"] for h in history], "^-", label="float32 reference")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def train_taxonn(cfg, dataset, out_dir, *, epochs=1, max_steps=None, shuffle=True, seed=0,
                 float_reference=False, engine="golden", progress=True, on_step=None, checkpoint_every=2000):
    """Train, checkpoint at every epoch's end and every ``checkpoint_every`` steps, resume from a checkpoint in
    ``out_dir``; return the metrics."""
    if not isinstance(cfg, TaxoNNConfig):
        raise TypeError(f"`cfg` must be a TaxoNNConfig, not {cfg!r}")
    if dataset.features != cfg.layers[0] or cfg.layers[-1] != dataset.classes:
        raise BadInput(f"layers {','.join(map(str, cfg.layers))} do not fit {dataset.name}: "
                         f"it needs {dataset.features} inputs and {dataset.classes} outputs")
    if engine not in ("golden", "torch"):
        raise BadInput(f"`engine` must be golden or torch, not {engine!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise BadInput(f"`epochs` must be a positive integer, not {epochs!r}")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise BadInput(f"`max_steps` must be a positive integer, not {max_steps!r}")
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise BadInput(f"`checkpoint_every` must be a positive integer, not {checkpoint_every!r}")
    out = ensure_dir(out_dir)
    n = len(dataset.x_train)
    total = epochs * n if max_steps is None else min(epochs * n, max_steps)
    run_key = json.dumps({"config": cfg.to_json(), "dataset": dataset.name, "epochs": epochs,
                          "max_steps": max_steps, "shuffle": shuffle, "seed": seed,
                          "float_reference": float_reference, "engine": engine}, sort_keys=True)

    init = init_params(cfg)
    golden = TaxoNNGolden(cfg, init)
    trainer = golden
    if engine == "torch":
        from .taxonn_torch import TaxoNNTorch
        trainer = TaxoNNTorch(cfg, init)
    ref = None
    if float_reference:
        from .taxonn_torch import FloatMLP
        ref = FloatMLP(cfg, init)
    history, step, wall_before = [], 0, 0.0
    partial = {"start": 0, "correct": 0}  # the epoch in progress: its first step, its correct predictions

    ckpt_path = out / "checkpoint.npz"
    if ckpt_path.exists():
        ck = _read_checkpoint(ckpt_path, cfg)
        if str(ck["run_key"]) != run_key:
            raise BadInput(f"{ckpt_path} belongs to a different run; use another --out or delete it")
        step = int(ck["step"])
        partial = {"start": int(ck["epoch_start"]) if "epoch_start" in ck else step,
                   "correct": int(ck["epoch_correct"]) if "epoch_correct" in ck else 0}
        wall_before = float(ck["wall_s"])
        params = [(ck[f"W{l}"], ck[f"b{l}"]) for l in range(cfg.n_layers)]
        history = json.loads(str(ck["history"]))
        golden = TaxoNNGolden(cfg, params)
        golden.bank.state = ck["lfsr"].astype(np.uint64)
        trainer = golden
        if engine == "torch":
            from .taxonn_torch import TaxoNNTorch
            trainer = TaxoNNTorch(cfg, params)
            trainer.bank.state = golden.bank.state.copy()
        if ref is not None:
            import torch
            with torch.no_grad():
                for l in range(cfg.n_layers):
                    ref.weights[l].copy_(torch.as_tensor(ck[f"fW{l}"]))
                    ref.biases[l].copy_(torch.as_tensor(ck[f"fb{l}"]))

    def params_now():
        return trainer.codes() if engine == "torch" else golden.params

    def save_checkpoint():
        state = {"run_key": np.array(run_key), "step": np.array(step),
                 "wall_s": np.array(wall_before + time.monotonic() - t0),
                 "history": np.array(json.dumps(history)), "lfsr": trainer.bank.state,
                 "epoch_start": np.array(partial["start"]), "epoch_correct": np.array(partial["correct"])}
        for l, (w, b) in enumerate(params_now()):
            state[f"W{l}"], state[f"b{l}"] = w, b
        if ref is not None:
            for l in range(cfg.n_layers):
                state[f"fW{l}"] = ref.weights[l].detach().numpy()
                state[f"fb{l}"] = ref.biases[l].detach().numpy()
        atomic_write_bytes(ckpt_path, _checkpoint_bytes(state))

    from tqdm import tqdm
    t0 = time.monotonic()
    bar = tqdm(total=total, initial=step, disable=not progress, unit="step",
               desc=f"train taxonn {dataset.name}", mininterval=1.0)
    while step < total:
        epoch_end = min((step // n + 1) * n, total)
        order = sample_order(n, epoch_end - step, seed=seed, shuffle=shuffle, start=step)
        if engine == "golden":
            # the golden model's arithmetic a block at a time (models.taxonn_steps), up to each checkpoint;
            # the float reference (independent of it) takes the same samples after each block
            done = 0
            while done < len(order):
                upto = min(len(order), done + min(BLOCK, checkpoint_every - step % checkpoint_every))
                idx = order[done:upto]
                _, preds = train_steps(golden, dataset.x_train[idx], dataset.y_train[idx])
                partial["correct"] += int((preds == dataset.y_train[idx]).sum())
                if ref is not None:
                    for i in idx:
                        ref.step(dataset.x_train[i], dataset.y_train[i])
                for _ in idx:
                    step += 1
                    if on_step is not None:
                        on_step(step)
                bar.update(len(idx))
                done = upto
                if step % checkpoint_every == 0 and step < epoch_end:
                    save_checkpoint()
        else:  # the torch engine: one step at a time
            for i in order:
                x, y = dataset.x_train[i], dataset.y_train[i]
                pred = int(np.argmax(trainer.step(x, y).numpy()))
                partial["correct"] += int(pred == int(y))
                if ref is not None:
                    ref.step(x, y)
                step += 1
                bar.update(1)
                if on_step is not None:
                    on_step(step)
                if step % checkpoint_every == 0 and step < epoch_end:
                    save_checkpoint()
        if engine == "torch":
            golden = TaxoNNGolden(cfg, trainer.codes())
        entry = {"epoch": round(step / n, 4), "step": step,
                 "train_accuracy": partial["correct"] / (step - partial["start"]),
                 "test_accuracy": golden.accuracy(dataset.x_test, dataset.y_test)}
        if ref is not None:
            entry["float_test_accuracy"] = ref.accuracy(dataset.x_test, dataset.y_test)
        history.append(entry)
        bar.set_postfix(test_acc=f"{entry['test_accuracy']:.4f}")
        partial = {"start": step, "correct": 0}
        save_checkpoint()
    bar.close()

    final = params_now()
    save_params_npz(out / "init.npz", cfg, init)
    save_params_npz(out / "weights.npz", cfg, final)
    if ref is not None:
        buf = io.BytesIO()
        np.savez(buf, **{k: v.astype(np.float32) for k, v in ref.float_params().items()})
        atomic_write_bytes(out / "float_weights.npz", buf.getvalue())
    _plot_curve(out / "curve.png", history, ref is not None)
    sched = schedule(cfg)
    metrics = {
        "dataset": dataset.name, "steps": step, "epochs": epochs, "shuffle": shuffle, "seed": seed,
        "engine": engine, "config": cfg.to_json(),
        "test_accuracy": history[-1]["test_accuracy"] if history else None,
        "test_misclassification_pct": round(100 * (1 - history[-1]["test_accuracy"]), 3) if history else None,
        "history": history,
        "cycles_per_step": sched["total"], "cycles_per_phase": sched["cycles"],
        "lower_bound_per_step": sched["lower_bound"], "utilization": sched["utilization"],
        "wall_s": round(wall_before + time.monotonic() - t0, 2),
    }
    if ref is not None:
        metrics["float_test_accuracy"] = history[-1]["float_test_accuracy"]
        metrics["float_test_misclassification_pct"] = round(100 * (1 - metrics["float_test_accuracy"]), 3)
    atomic_write_json(out / "metrics.json", metrics)
    return metrics
