"""BT-LSTM RTL (accel/lstm.py) against the golden model in Amaranth's simulator: every h_t, every cycle count."""

import dataclasses

import numpy as np
import pytest

from accel.lstm import LSTM
from models.lstm import LSTMConfig, LSTMWeights, LSTMGolden, MAX_PIPELINE, random_weights as _random_weights
from sim.lstm_host import lstm_job, run_lstm_amaranth
from sim.runner import run_cocotb


def random_weights(cfg, rng, classes=3):
    return _random_weights(cfg, rng, classes)


def run_amaranth(cfg, weights, x):
    """Run sequence ``x`` (T, I floats) on the RTL in Amaranth's simulator: (problems, h codes (T, H))."""
    job = lstm_job(LSTMGolden(cfg, weights), x[None])
    problems, hs = run_lstm_amaranth(LSTM(cfg), job)
    return problems, np.array(hs[0])


def _configs():
    rng = np.random.default_rng(2026)
    fixed = [LSTMConfig(input_size=5, hidden=6, lanes=4, inputs_per_cycle=3, mode=m)
             for m in ("binary", "ternary", "fixed12")]
    fixed.append(LSTMConfig(input_size=1, hidden=1, lanes=1, inputs_per_cycle=1, mode="ternary"))
    # shared post units: as many as lanes; a stalling array (D = 8 > C = 2, and D = 3 > C = 2)
    fixed.append(LSTMConfig(input_size=5, hidden=7, lanes=4, inputs_per_cycle=3, mode="ternary", post_units=4))
    fixed.append(LSTMConfig(input_size=3, hidden=8, lanes=8, inputs_per_cycle=8, mode="binary", post_units=1))
    fixed.append(LSTMConfig(input_size=4, hidden=5, lanes=5, inputs_per_cycle=5, mode="fixed12", post_units=2))
    # pipelined: every mode, one lane, M = 1 stalling, M = L, K larger than the input
    fixed += [LSTMConfig(input_size=5, hidden=6, lanes=4, inputs_per_cycle=3, mode=m, pipeline=p)
              for m in ("binary", "ternary", "fixed12") for p in (1, 2, 3)]
    fixed.append(LSTMConfig(input_size=1, hidden=1, lanes=1, inputs_per_cycle=1, mode="fixed12", pipeline=2))
    fixed.append(LSTMConfig(input_size=3, hidden=8, lanes=8, inputs_per_cycle=8, mode="ternary", post_units=1,
                            pipeline=1))
    fixed.append(LSTMConfig(input_size=2, hidden=7, lanes=4, inputs_per_cycle=9, mode="binary", post_units=4,
                            pipeline=2))
    rand = []
    for _ in range(6):
        lanes = int(rng.choice([1, 2, 3, 4, 8]))
        rand.append(LSTMConfig(input_size=int(rng.integers(1, 12)), hidden=int(rng.integers(1, 10)), lanes=lanes,
                               inputs_per_cycle=int(rng.choice([1, 2, 3, 5, 8])),
                               mode=str(rng.choice(["binary", "ternary", "fixed12"])),
                               post_units=int(rng.integers(1, lanes + 1))))
    rand = [dataclasses.replace(c, pipeline=int(rng.integers(0, MAX_PIPELINE + 1))) for c in rand]
    return fixed + rand


def _name(c):
    return f"{c.mode}-I{c.input_size}-H{c.hidden}-L{c.lanes}-K{c.inputs_per_cycle}-M{c.units}-P{c.pipeline}"


@pytest.mark.parametrize("cfg", _configs(), ids=_name)
def test_every_h_and_cycle_count_match_the_golden_model(cfg):
    rng = np.random.default_rng(cfg.input_size * 100 + cfg.hidden)
    weights = random_weights(cfg, rng)
    x = rng.uniform(0, 1, (4, cfg.input_size))
    want, _ = LSTMGolden(cfg, weights).run(x[None])
    problems, got = run_amaranth(cfg, weights, x)
    assert not problems, problems[0]  # every h and every step's cycle count
    assert np.array_equal(got, want[0])


def test_saturating_inputs_and_scales():
    """Inputs at the top of x_fmt and scales that drive every pre-activation into saturation."""
    cfg = LSTMConfig(input_size=7, hidden=5, lanes=2, inputs_per_cycle=4, mode="ternary")
    rng = np.random.default_rng(7)
    w = random_weights(cfg, rng)
    arrays = {k: getattr(w, k) for k in ("wx", "wh", "sc", "bc", "h0", "c0", "head_w", "head_b")}
    weights = LSTMWeights(mode="ternary", sx=np.full(20, 7.9), sh=np.full(20, -7.9), b=np.full(20, 7.99), **arrays)
    x = np.full((3, 7), cfg.x_fmt.max_value)
    problems, _ = run_amaranth(cfg, weights, x)
    assert not problems, problems[0]


def test_a_divergence_is_reported_with_sequence_step_and_unit():
    cfg = LSTMConfig(input_size=3, hidden=4, lanes=2, inputs_per_cycle=2, mode="binary")
    weights = random_weights(cfg, np.random.default_rng(3))
    job = lstm_job(LSTMGolden(cfg, weights), np.random.default_rng(4).uniform(0, 1, (2, 3, 3)))
    job["expected_h"][1][2][3] += 1
    problems, _ = run_lstm_amaranth(LSTM(cfg), job)
    assert problems == [f"sequence 1, time step 2, unit 3: h expected {job['expected_h'][1][2][3]}, "
                        f"got {job['expected_h'][1][2][3] - 1}"]


@pytest.mark.rtl
@pytest.mark.parametrize("mode, I, H, L, K, M, P", [("binary", 7, 5, 2, 3, None, 0), ("ternary", 9, 6, 4, 4, 3, 1),
                                                   ("fixed12", 5, 3, 2, 2, 2, 3), ("ternary", 2, 6, 6, 6, 1, 0),
                                                   ("binary", 3, 4, 1, 5, 1, 2)])
def test_cocotb_sequences(tmp_path, simulator, build_root, mode, I, H, L, K, M, P):
    import json
    cfg = LSTMConfig(input_size=I, hidden=H, lanes=L, inputs_per_cycle=K, mode=mode, post_units=M, pipeline=P)
    rng = np.random.default_rng(I * 10 + H)
    job = lstm_job(LSTMGolden(cfg, random_weights(cfg, rng)), rng.uniform(0, 1, (2, 4, I)))
    (tmp_path / "job.json").write_text(json.dumps(job))
    result = run_cocotb(LSTM(cfg), sim=simulator, test_module="sim.tb.lstm_tb", name="lstm",
                        build_root=build_root, params={"job": str(tmp_path / "job.json"),
                                                       "report": str(tmp_path / "report.json")})
    report = json.loads((tmp_path / "report.json").read_text())
    assert result.passed and report["mismatches"] == 0, report["first_mismatch"]
    assert report["h"] == job["expected_h"] and report["cycles"] == [job["expected_cycles"]] * 8
