"""The fast energy-per-operation model: operation counts x per-operation energies.

Counts come from the golden model's schedule (issues per phase, the memory
accesses they imply); energies are characterized once per library and unit
shape (`ppa.gate_bench.characterize`: the unit synthesized to the same
library and simulated at gate level on random operands), plus the clock
energy of every flip-flop on every cycle and the SRAM model's access
energies. No simulation of the design itself: a sweep point costs a few
characterizations, cached. Not modelled: control logic other than its
flip-flops' clock, operand muxing, and activity differences between random
and real operands; `bitforge report` states the model's difference from the
gate-level figure on the same workload.
"""

from models.lstm import schedule as lstm_schedule
from models.taxonn import schedule as taxonn_schedule
from .gate_bench import characterize
from .memories import plan_memory

__all__ = ["taxonn_energy", "lstm_energy", "MODEL_METHOD"]

MODEL_METHOD = ("energy-per-operation model: operation counts from the golden model's schedule x energies of each "
                "unit characterized at gate level on random operands in the same library, + flip-flop clock "
                "energy x flops x cycles + macro accesses x the planned macros' own energies (memories built "
                "from cells: their flip-flops' clock only)")


def _ceil(a, b):
    return -(-a // b)


def _mems(memories, macros):
    """Energy of {name: (words, width, reads, writes)} memories, each built as `ppa.memories.plan_memory` plans
    it with ``macros``; memories built from cells cost nothing here (their flops are in the clock term)."""
    total, rows = 0.0, {}
    for name, (words, width, reads, writes) in memories.items():
        plan = plan_memory(name, words, width, macros)
        e = reads * plan.read_pj + writes * plan.write_pj
        rows[name] = e
        total += e
    return total, rows


def taxonn_energy(cfg, liberty, *, flops, macros=(), progress=None):
    """Model energy of one TaxoNN training step (pJ): {"per_step_pj", "terms": {...}, "counts": {...}}."""
    from accel.units import Multipliers, AdderTree, PWLUnit
    from accel.lfsr import LFSR
    P, L, layers = cfg.pes, cfg.n_layers, cfg.layers
    wb, ab, eb = cfg.w_fmt.total, cfg.a_fmt.total, cfg.e_fmt.total
    xw, yw = max(wb, ab, eb), max(ab + 1, eb)
    sched = taxonn_schedule(cfg)
    cycles = sched["total"]
    chunks = [_ceil(layers[l], P) for l in range(L)]
    issues = [layers[l + 1] * chunks[l] for l in range(L)]          # (row, chunk) words per layer
    fw = sum(issues)
    n_mul = sum(sched["multiplies"].values())
    mul = characterize(f"mul{xw}x{yw}", lambda: Multipliers(1, xw, yw), liberty, progress=progress)
    tree = characterize(f"tree{P}x{wb + ab}", lambda: AdderTree(P, wb + ab), liberty, progress=progress)
    terms = {"multiplies": n_mul * mul["unit_pj"], "adder tree": fw * tree["unit_pj"]}
    counts = {"multiplies": n_mul, "adder tree sums": fw, "cycles": cycles, "flops": flops}
    acts = (["output"] if cfg.output == "sigmoid" else []) + (["hidden"] if cfg.hidden_activation == "sigmoid" else [])
    if acts:
        act = characterize(f"pwl-{cfg.sigmoid.segments}", lambda: PWLUnit(cfg.sigmoid), liberty,
                           progress=progress)
        terms["activation"] = len(acts) * fw * act["unit_pj"]
        counts["activation inputs"] = len(acts) * fw
    if cfg.rounding == "stochastic":
        lfsr = characterize(f"lfsr{P + 1}", lambda: LFSR(cfg.lfsr_seed, P + 1), liberty, progress=progress)
        terms["LFSR"] = cycles * lfsr["unit_pj"]
    terms["flip-flop clock"] = flops * cycles * mul["flop_clock_pj"]
    # memory accesses implied by the schedule (see accel.taxonn: what each issue reads and writes)
    accb = cfg.accumulator_bits
    mems = {}
    for l in range(L):
        mems[f"weights{l}"] = (issues[l], P * wb, 2 * issues[l], issues[l])
        mems[f"bias{l}"] = (layers[l + 1], wb, 2 * issues[l], layers[l + 1])
        der = chunks[l] if l >= 1 else 0
        mems[f"act{l}"] = (chunks[l], P * ab, 2 * issues[l] + der, layers[l] if l >= 1 else 0)
        d_writes = _ceil(layers[-1], P) if l == L - 1 else chunks[l + 1]
        mems[f"d{l}"] = (_ceil(layers[l + 1], P), P * eb, issues[l], d_writes)
    mems[f"act{L}"] = (_ceil(layers[L], P), P * ab, _ceil(layers[L], P), layers[L])
    bw = sum(issues[1:])
    mems["e"] = (max([1] + chunks[1:]), P * accb, fw + sum(chunks[1:]), bw)
    terms["SRAM macros"], mem_rows = _mems(mems, macros)
    return {"per_step_pj": sum(terms.values()), "terms": terms, "counts": counts, "memories": mem_rows,
            "method": MODEL_METHOD}


def lstm_energy(cfg, liberty, *, flops, macros=(), progress=None):
    """Model energy of one BT-LSTM time step (pJ)."""
    from accel.units import Multipliers, CodeDot, PWLUnit, AdderTree
    from quant import activations
    L, K, G = cfg.lanes, cfg.inputs_per_cycle, cfg.groups
    sched = lstm_schedule(cfg)
    cycles = sched["cycles_per_step"]
    C = cfg.x_chunks + cfg.h_chunks
    issues = G * 4 * C
    wb = cfg.weight_bits
    mode = "fixed" if cfg.mode == "fixed12" else cfg.mode
    xb, hb, ab, cb, sb = (cfg.x_fmt.total, cfg.h_fmt.total, cfg.act_fmt.total, cfg.c_fmt.total,
                          cfg.s_fmt.total)
    dot_x = characterize(f"dot-{cfg.mode}-{K}x{xb}", lambda: CodeDot(K, mode, wb, xb), liberty, progress=progress)
    dot_h = characterize(f"dot-{cfg.mode}-{K}x{hb}", lambda: CodeDot(K, mode, wb, hb), liberty, progress=progress)
    sig = activations.sigmoid(cfg.pre_fmt, cfg.act_fmt, segments=cfg.segments)
    tnh = activations.tanh(cfg.pre_fmt, cfg.act_fmt, segments=cfg.segments)
    e_sig = characterize(f"sigmoid-{cfg.segments}", lambda: PWLUnit(sig), liberty, progress=progress)["unit_pj"]
    e_tanh = characterize(f"tanh-{cfg.segments}", lambda: PWLUnit(tnh), liberty, progress=progress)["unit_pj"]
    acc = cfg.acc_bits(cfg.input_size, cfg.x_fmt)
    scale = characterize(f"mul{sb}x{acc}", lambda: Multipliers(1, sb, acc), liberty, progress=progress)
    cell = characterize(f"mul{ab}x{cb}", lambda: Multipliers(1, ab, cb), liberty, progress=progress)["unit_pj"]
    sq = characterize(f"mul{ab}x{ab}", lambda: Multipliers(1, ab, ab), liberty, progress=progress)["unit_pj"]
    acc_add = characterize(f"add2x{acc}", lambda: AdderTree(2, acc), liberty, progress=progress)
    gates = G * 4 * L
    units = G * L
    terms = {
        "add/subtract/skip trees" if mode != "fixed" else "multiplier trees":
            issues * L * (dot_x["unit_pj"] + dot_h["unit_pj"]),
        "activation": gates * (e_sig + e_tanh) + units * e_tanh,
        "accumulators": issues * L * acc_add["unit_pj"],
        "scaling and cell multipliers": 2 * gates * scale["unit_pj"] + units * (2 * cell + 2 * sq),
        "flip-flop clock": flops * cycles * scale["flop_clock_pj"],
    }
    M, D = cfg.units, cfg.drain_cycles
    pb = cfg.pre_fmt.total
    mems = {"weights": (G * 4 * C, L * K * wb, issues, 0), "x": (cfg.x_chunks, K * xb, G * 4 * cfg.x_chunks, 0),
            "gates": (G * 4 * D, M * (2 * sb + pb), G * 4 * D, 0), "cells": (G * D, M * (sb + pb), G * D, 0)}
    terms["SRAM macros"], mem_rows = _mems(mems, macros)
    return {"per_step_pj": sum(terms.values()), "terms": terms, "memories": mem_rows,
            "counts": {"issues": issues, "gates": gates, "cycles": cycles, "flops": flops}, "method": MODEL_METHOD}
