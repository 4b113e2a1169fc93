"""Host transactions and expected results for the BT-LSTM RTL, written once for every simulator.

`lstm_job` turns a golden model and input sequences into the parameter loads,
per step the input-buffer writes, and the golden model's h codes and cycle
count; `check_lstm_step` compares one step's read-back h words with them and
names the first divergence (sequence, time step, unit). `run_lstm_amaranth`
drives a job in Amaranth's simulator; `sim.tb.lstm_tb` drives the same job in
cocotb (Verilator, Icarus).
"""

import numpy as np

from models.lstm import schedule

__all__ = ["lstm_job", "check_lstm_step", "run_lstm_amaranth"]


def lstm_job(golden, xs):
    """A JSON-serializable job for sequences ``xs`` (N, T, I floats)."""
    from accel.lstm import LSTMMemoryMap, SEL_X, SEL_H
    cfg = golden.cfg
    mp = LSTMMemoryMap(cfg)
    xs = np.asarray(xs, dtype=np.float64)
    hs, _ = golden.run(xs)
    xq = golden.input_codes(xs)
    return {
        "loads": [list(w) for w in mp.load(golden)],
        "inputs": [[[[SEL_X, a, word] for a, word in enumerate(mp.x_words(xq[n, t]))] for t in range(xs.shape[1])]
                   for n in range(xs.shape[0])],
        "expected_h": hs.tolist(),
        "expected_cycles": schedule(cfg)["cycles_per_step"],
        "h_sel": SEL_H, "h_chunks": cfg.h_chunks, "h_bits": cfg.h_fmt.total,
        "inputs_per_cycle": cfg.inputs_per_cycle, "hidden": cfg.hidden,
    }


def h_codes(job, words):
    """The h codes held by the h-output words read back from the RTL."""
    from accel._fixed import unpack_lanes
    return unpack_lanes(words, job["h_bits"], job["inputs_per_cycle"])[:job["hidden"]]


def check_lstm_step(job, seq, t, words, cycles):
    """Problems of step ``t`` of sequence ``seq`` (messages, the first divergence first)."""
    problems = []
    got, want = h_codes(job, words), job["expected_h"][seq][t]
    for u, (w, g) in enumerate(zip(want, got)):
        if w != g:
            problems.append(f"sequence {seq}, time step {t}, unit {u}: h expected {w}, got {g}")
            break
    if cycles != job["expected_cycles"]:
        problems.append(f"sequence {seq}, time step {t}: cycles expected {job['expected_cycles']}, got {cycles}")
    return problems


def run_lstm_amaranth(dut, job):
    """Drive ``job`` (`sim.drivers.lstm_sequences`) through an `accel.lstm.LSTM` in Amaranth's simulator;
    return ``(problems, h codes)``."""
    from .drivers import run_amaranth, lstm_sequences
    report = run_amaranth(dut, lstm_sequences, job)
    return report["problems"], report["h"]
