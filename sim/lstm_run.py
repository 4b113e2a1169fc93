"""Running trained BT-LSTMs on the RTL: the work behind ``bitforge simulate lstm``."""

import time

import numpy as np

from quant.fsio import atomic_write_json, ensure_dir
from models.lstm import LSTMGolden, schedule
from .lstm_host import lstm_job
from .runner import run_job

__all__ = ["simulate_lstm"]


def simulate_lstm(cfg, weights, sim, out_dir, *, task=None, samples=20, seed=0, build_root=None, progress=None):
    """Run ``samples`` sequences on the RTL and the golden model; compare every h_t; write sim.json.

    With a classification ``task`` the sequences are its first test samples
    (``seed`` shuffles which) and sim.json adds ``accuracy`` (the RTL's h_T
    through the host output layer) and ``golden_accuracy``; without one, random
    inputs in [0, 1).
    """
    from accel.lstm import LSTM
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"`samples` must be a positive integer, not {samples!r}")
    say = progress or (lambda message: None)
    golden = LSTMGolden(cfg, weights)
    rng = np.random.default_rng(seed)
    if task is not None:
        if task.kind != "classify":
            raise ValueError(f"simulate lstm runs classification tasks; {task.name} is a character model")
        if task.input_size != cfg.input_size:
            raise ValueError(f"the weights take {cfg.input_size} inputs per step; {task.name} has {task.input_size}")
        idx = rng.permutation(len(task.x_test))[:samples] if seed else np.arange(min(samples, len(task.x_test)))
        xs, ys = task.x_test[idx].astype(np.float64), task.y_test[idx]
    else:
        xs, ys = rng.uniform(0, 1, (samples, 8, cfg.input_size)), None
    out = ensure_dir(out_dir).resolve()
    say(f"golden model: {len(xs)} sequences of {xs.shape[1]} steps")
    job = lstm_job(golden, xs)
    say(f"building and running the RTL on {sim}")
    t0 = time.monotonic()
    result, report = run_job(LSTM(cfg), job, out, sim=sim, test_module="sim.tb.lstm_tb", name="lstm",
                             build_root=build_root, optimize=True)
    wall = time.monotonic() - t0
    cycles = int(sum(report["cycles"]))
    steps = xs.shape[0] * xs.shape[1]
    sched = schedule(cfg, steps)
    summary = {
        "simulator": sim, "samples": len(xs), "steps_per_sample": xs.shape[1], "task": task.name if task else None,
        "config": cfg.to_json(), "mode": cfg.mode,
        "cycles": cycles, "cycles_model": sched["cycles"], "cycles_per_step": sched["cycles_per_step"],
        "mismatches": report["mismatches"], "first_mismatch": report["first_mismatch"],
        "passed": result.passed and report["mismatches"] == 0,
        "wall_s": round(wall, 3), "run_s": round(result.run_s, 3), "build_s": round(result.build_s, 3),
        "cycles_per_s": round(cycles / result.run_s, 1) if result.run_s else None,
        "weight_memory_bits": sched["weight_memory_bits"], "utilization": sched["utilization"],
    }
    if ys is not None:
        rtl_h = np.array([seq[-1] for seq in report["h"]], dtype=np.int64)
        rtl_pred = np.argmax(golden.logits(rtl_h), axis=1)
        golden_pred = golden.classify(xs)
        summary.update(accuracy=float(np.mean(rtl_pred == ys)), golden_accuracy=float(np.mean(golden_pred == ys)),
                       predictions_identical=bool(np.array_equal(rtl_pred, golden_pred)))
    atomic_write_json(out / "sim.json", summary)
    return summary
