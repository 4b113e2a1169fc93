"""TaxoNN RTL against the golden model: inference and training, outputs, parameters, predictions, cycles."""

import json
from dataclasses import replace

import numpy as np
import pytest

from accel.taxonn import TaxoNN, PHASES
from models.datasets import load_digits, sample_order
from models.taxonn import TaxoNNConfig, TaxoNNGolden, baseline_config, schedule
from sim.runner import run_cocotb
from sim.taxonn_host import (inference_job, check_inference, run_inference_amaranth,
                              training_job, run_training_amaranth)

DIGITS = load_digits()


def _random_config(seed):
    rng = np.random.default_rng(seed)
    p = int(rng.choice([1, 2, 3, 4, 8, 16]))
    hidden = [int(rng.integers(3, 40)) for _ in range(int(rng.integers(1, 3)))]
    bits = int(rng.integers(8, 17))
    return TaxoNNConfig(layers=(64, *hidden, 10), pes=p,
                        hidden_activation=str(rng.choice(["relu", "sigmoid"])),
                        output=str(rng.choice(["sigmoid", "linear"])),
                        w_fmt=f"{bits}.{bits - 2}", a_fmt=f"{bits}.{bits - 4}",
                        e_fmt=f"{bits}.{bits - 2}", g_fmt=f"{bits + 4}.{bits + 2}",
                        rounding="stochastic", init_seed=seed)


def _dedicated_config(seed):
    """A random dedicated-array config whose last hidden layer is at most P wide.

    The output layer's input is then a single chunk: issuing every cycle, each row's BW reads e[0]
    in the cycle the previous row's BW writes it (the hazard the transparent e read port handles).
    """
    rng = np.random.default_rng(1000 + seed)
    p = int(rng.choice([1, 2, 3, 4, 8]))
    hidden = [int(rng.integers(2, 24)) for _ in range(int(rng.integers(0, 2)))] + [int(rng.integers(1, p + 1))]
    bits = int(rng.integers(8, 17))
    return TaxoNNConfig(layers=(64, *hidden, 10), pes=p, multipliers="dedicated",
                        hidden_activation=str(rng.choice(["relu", "sigmoid"])),
                        output=str(rng.choice(["sigmoid", "linear"])),
                        w_fmt=f"{bits}.{bits - 2}", a_fmt=f"{bits}.{bits - 4}",
                        e_fmt=f"{bits}.{bits - 2}", g_fmt=f"{bits + 4}.{bits + 2}",
                        rounding=str(rng.choice(["stochastic", "nearest"])), init_seed=seed)


def _trained_golden(cfg, steps=200):
    golden = TaxoNNGolden(cfg)
    for i in sample_order(len(DIGITS.x_train), steps, seed=cfg.init_seed):
        golden.step(DIGITS.x_train[i], DIGITS.y_train[i])
    return golden


AMARANTH_CONFIGS = [
    TaxoNNConfig(layers=(64, 12, 10), pes=4),
    TaxoNNConfig(layers=(64, 9, 5, 10), pes=3, hidden_activation="sigmoid"),
    TaxoNNConfig(layers=(64, 7, 10), pes=1, output="linear", w_fmt="8.6", a_fmt="8.4"),
]
RTL_CONFIGS = [_random_config(s) for s in range(6)] + [
    # dedicated arrays in the baseline's 16-bit formats: 64-21-2-10, P=3, sigmoid, stochastic; its last
    # layer's input is one chunk (the e hazard of issuing every cycle)
    _dedicated_config(28),
    TaxoNNConfig(layers=(64, 32, 10), pes=16, w_fmt="16.14", a_fmt="16.12", e_fmt="16.14", g_fmt="20.18"),
]


def _id(cfg):
    name = f"{'-'.join(map(str, cfg.layers))}_P{cfg.pes}_{cfg.hidden_activation}_{cfg.output}_w{cfg.w_fmt}"
    return name + ("_dedicated" if cfg.multipliers == "dedicated" else "")


@pytest.mark.parametrize("cfg", AMARANTH_CONFIGS, ids=_id)
def test_inference_amaranth_simulator(cfg):
    golden = _trained_golden(cfg)
    job = inference_job(golden, DIGITS.x_test[:3])
    mismatches, first = check_inference(job, run_inference_amaranth(TaxoNN(cfg), job))
    assert mismatches == 0, first


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", RTL_CONFIGS, ids=_id)
def test_inference_rtl(cfg, simulator, tmp_path, build_root):
    golden = _trained_golden(cfg)
    job = inference_job(golden, DIGITS.x_test[:8])
    (tmp_path / "job.json").write_text(json.dumps(job))
    result = run_cocotb(TaxoNN(cfg), sim=simulator, test_module="sim.tb.taxonn_tb", name="taxonn",
                        build_root=build_root,
                        params={"job": str(tmp_path / "job.json"), "report": str(tmp_path / "r.json")})
    assert result.passed, result.summary()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["samples"] == 8 and report["mismatches"] == 0
    assert set(report["cycles"]) == {job["expected_cycles"]}


def test_checker_reports_first_divergence():
    cfg = AMARANTH_CONFIGS[0]
    job = inference_job(_trained_golden(cfg), DIGITS.x_test[:2])
    results = run_inference_amaranth(TaxoNN(cfg), job)
    words, pred, cycles = results[1]
    results[1] = (words, pred, cycles + 1)
    mismatches, first = check_inference(job, results)
    assert mismatches == 1
    assert first == f"sample 1, output layer: cycles: expected {cycles}, got {cycles + 1}"


TRAIN_AMARANTH = [
    baseline_config(TaxoNNConfig(layers=(64, 6, 5, 10), pes=2, hidden_activation="sigmoid")),
    TaxoNNConfig(layers=(64, 12, 10), pes=4, rounding="nearest"),
    TaxoNNConfig(layers=(64, 12, 10), pes=4),
    TaxoNNConfig(layers=(64, 9, 5, 10), pes=3, hidden_activation="sigmoid"),
    TaxoNNConfig(layers=(64, 7, 10), pes=1, output="linear"),
]


def _steps(n, seed=0):
    idx = sample_order(len(DIGITS.x_train), n, seed=seed)
    return DIGITS.x_train[idx], DIGITS.y_train[idx]


@pytest.mark.parametrize("cfg", TRAIN_AMARANTH, ids=_id)
def test_training_amaranth_simulator(cfg):
    job = training_job(TaxoNNGolden(cfg), *_steps(5))
    mismatches, first = run_training_amaranth(TaxoNN(cfg), job)
    assert mismatches == 0, first


def test_training_checker_catches_a_one_lsb_difference():
    hw = TaxoNNConfig(layers=(64, 12, 10), pes=4)
    model = TaxoNNConfig(layers=(64, 12, 10), pes=4, lfsr_seed=2)
    mismatches, first = run_training_amaranth(TaxoNN(hw), training_job(TaxoNNGolden(model), *_steps(2)))
    assert mismatches > 1 and first.startswith("step 0: parameter checksum expected")
    job = training_job(TaxoNNGolden(model), *_steps(2))
    from sim.taxonn_host import check_training_step
    problems = check_training_step(job, 0, job["expected_preds"][0], job["expected_cycles"],
                                   [{"w": [0] * len(c["w"]), "b": c["b"]} for c in job["checks"]["0"]])
    assert problems and problems[0].startswith("step 0, layer 1, update phase, weight word 0: expected")


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", RTL_CONFIGS, ids=_id)
def test_training_rtl(cfg, simulator, tmp_path, build_root):
    steps = 12 if simulator == "verilator" else 4
    job = training_job(TaxoNNGolden(cfg), *_steps(steps, seed=cfg.init_seed))
    (tmp_path / "job.json").write_text(json.dumps(job))
    result = run_cocotb(TaxoNN(cfg), sim=simulator, test_module="sim.tb.taxonn_train_tb", name="taxonn",
                        build_root=build_root,
                        params={"job": str(tmp_path / "job.json"), "report": str(tmp_path / "r.json")})
    assert result.passed, result.summary()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["steps"] == steps and report["mismatches"] == 0
    assert set(report["cycles"]) == {job["expected_cycles"]}


# -- dedicated multiplier arrays (the comparison baseline): BW and WU overlap, one issue per cycle --

#: Seeds picked for coverage (checked below). On Verilator and Icarus: 28 in `RTL_CONFIGS` and 88,
#: 64-9-1-10 at P=1 (sigmoid hidden, stochastic); both end in a single-chunk layer. In Amaranth's
#: simulator: 119 (64-2-7-10, P=8: both layers above the first are one chunk) and 1 (64-20-1-10,
#: P=8, ReLU, round to nearest).
DEDICATED_RTL_SEEDS = (88,)
DEDICATED_AMARANTH_SEEDS = (119, 1)


def _single_chunk_layers(cfg):
    return [l + 1 for l in range(1, cfg.n_layers) if cfg.layers[l] <= cfg.pes]


def test_dedicated_seeds_cover_the_hazards():
    rtl = [_dedicated_config(s) for s in DEDICATED_RTL_SEEDS] + [_dedicated_config(28)]
    assert _dedicated_config(28) in RTL_CONFIGS
    assert _dedicated_config(28) == baseline_config(replace(_dedicated_config(28), multipliers="shared"))
    assert all(_single_chunk_layers(c) for c in rtl)
    assert any(c.pes == 1 for c in rtl) and any(c.pes > 1 for c in rtl)
    assert all(c.hidden_activation == "sigmoid" and c.rounding == "stochastic" for c in rtl)
    both = rtl + [_dedicated_config(s) for s in DEDICATED_AMARANTH_SEEDS]
    assert {c.rounding for c in both} == {"nearest", "stochastic"}
    assert {c.hidden_activation for c in both} == {"relu", "sigmoid"}


@pytest.mark.parametrize("seed", DEDICATED_AMARANTH_SEEDS)
def test_dedicated_training_amaranth_simulator(seed):
    cfg = _dedicated_config(seed)
    job = training_job(TaxoNNGolden(cfg), *_steps(3, seed=seed))
    mismatches, first = run_training_amaranth(TaxoNN(cfg), job)
    assert mismatches == 0, first


@pytest.mark.rtl
@pytest.mark.parametrize("seed", DEDICATED_RTL_SEEDS)
def test_dedicated_training_rtl(seed, simulator, tmp_path, build_root):
    cfg = _dedicated_config(seed)
    steps = 8 if simulator == "verilator" else 3
    job = training_job(TaxoNNGolden(cfg), *_steps(steps, seed=seed))
    assert job["expected_cycles"] == schedule(cfg)["total"] < schedule(replace(cfg, multipliers="shared"))["total"]
    (tmp_path / "job.json").write_text(json.dumps(job))
    result = run_cocotb(TaxoNN(cfg), sim=simulator, test_module="sim.tb.taxonn_train_tb", name="taxonn",
                        build_root=build_root,
                        params={"job": str(tmp_path / "job.json"), "report": str(tmp_path / "r.json")})
    assert result.passed, result.summary()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["steps"] == steps and report["mismatches"] == 0
    assert set(report["cycles"]) == {job["expected_cycles"]}


@pytest.mark.parametrize("multipliers", ["shared", "dedicated"])
def test_phase_port_counts_the_schedule(multipliers):
    """Cycles per value of the ``phase`` port in one training step: forward = fw, update = wu (with
    dedicated arrays BW runs inside those cycles), back-propagation = err + bw + deriv."""
    from amaranth.sim import Simulator
    cfg = TaxoNNConfig(layers=(10, 7, 3), pes=4, hidden_activation="sigmoid", multipliers=multipliers)
    golden = TaxoNNGolden(cfg)
    job = training_job(golden, np.random.default_rng(0).uniform(0, 1, (1, 10)), [2])
    dut = TaxoNN(cfg)
    seen = {}

    async def bench(ctx):
        for sel, addr, data in job["loads"] + job["inputs"][0]:
            ctx.set(dut.mem_sel, sel)
            ctx.set(dut.mem_addr, addr)
            ctx.set(dut.mem_wdata, data)
            ctx.set(dut.mem_we, 1)
            await ctx.tick()
        ctx.set(dut.mem_we, 0)
        ctx.set(dut.label, job["labels"][0])
        ctx.set(dut.train, 1)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for _ in range(2 * job["expected_cycles"]):
            if ctx.get(dut.done):
                break
            if ctx.get(dut.busy):
                name = PHASES[ctx.get(dut.phase)]
                seen[name] = seen.get(name, 0) + 1
            await ctx.tick()
        seen["cycles"] = ctx.get(dut.cycles)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    c = schedule(cfg)["cycles"]
    assert seen == {"forward": c["fw"], "backprop": c["err"] + c["bw"] + c["deriv"], "update": c["wu"],
                    "cycles": schedule(cfg)["total"]}
