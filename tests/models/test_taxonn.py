import dataclasses
import json
import itertools

import numpy as np
import pytest
import torch

from models.datasets import load_digits, sample_order
from models.taxonn import (TaxoNNConfig, TaxoNNGolden, schedule, update_draws, init_params,
                           FW_DRAIN, ERR_DRAIN, BWU_DRAIN, DERIV_DRAIN)
from models.taxonn_torch import TaxoNNTorch, FloatMLP
from quant import LFSRBank

DIGITS = load_digits()


def _first_divergence(golden, trained):
    for l, ((w1, b1), (w2, b2)) in enumerate(zip(golden, trained), 1):
        for name, x, y in (("W", w1, w2), ("b", b1, b2)):
            if not np.array_equal(x, y):
                idx = tuple(int(i) for i in np.argwhere(x != y)[0])
                return f"layer {l} {name}{list(idx)}: golden {x[idx]}, torch {y[idx]}"
    return None


CASES = list(itertools.product(["nearest", "stochastic"], ["relu", "sigmoid"], ["sigmoid", "linear"]))


@pytest.mark.parametrize("rounding, hidden, output", CASES)
def test_torch_path_is_bit_identical_to_golden(rounding, hidden, output):
    cfg = TaxoNNConfig(layers=(64, 24, 16, 10), pes=3, rounding=rounding, hidden_activation=hidden,
                       output=output, lr_shift=3, lfsr_seed=5, init_seed=2)
    _train_both(cfg, 220, seed=4)


def _train_both(cfg, steps, seed):
    """Train the golden model and the torch engine side by side; after every step, the same outputs and the
    same parameters; and the run really trained (it did not stand still at the initial weights)."""
    golden, trainer = TaxoNNGolden(cfg), TaxoNNTorch(cfg)
    for step, i in enumerate(sample_order(len(DIGITS.x_train), steps, seed=seed)):
        out_g = golden.step(DIGITS.x_train[i], DIGITS.y_train[i]).outputs
        out_t = trainer.step(DIGITS.x_train[i], DIGITS.y_train[i]).numpy()
        assert out_g.tolist() == out_t.tolist(), f"step {step}: outputs differ"
        first = _first_divergence(golden.params, trainer.codes())
        assert first is None, f"step {step}: {first}"
    assert _first_divergence(init_params(cfg), golden.params) is not None


def test_torch_path_draws_ahead_without_moving_the_bank():
    """The torch engine draws a block of steps' stochastic-rounding draws at once; after every step its bank
    state is the golden model's, and a bank state set from outside (a resumed run) is honoured."""
    cfg = TaxoNNConfig(layers=(16, 6, 4), pes=3, lr_shift=3)
    golden, trainer = TaxoNNGolden(cfg), TaxoNNTorch(cfg)
    x, y = DIGITS.x_train[:300, :16], DIGITS.y_train[:300] % 4
    for i in range(300):  # past one block of 256
        golden.step(x[i], y[i])
        trainer.step(x[i], y[i])
        assert np.array_equal(golden.bank.state, trainer.bank.state), f"step {i}"
        if i == 100:  # a resume: the trainer is handed a bank state and the golden model's parameters
            again = TaxoNNTorch(cfg, golden.params)
            again.bank.state = golden.bank.state.copy()
            trainer.bank.state = golden.bank.state.copy()  # the same state: the trainer's block stays valid
    for i in range(300, 320):
        golden.step(x[i - 300], y[i - 300])
        trainer.step(x[i - 300], y[i - 300])
    assert _first_divergence(golden.params, trainer.codes()) is None
    for i in range(101, 140):
        again.step(x[i], y[i])
    check = TaxoNNGolden(cfg)
    for i in range(140):
        check.step(x[i], y[i])
    assert np.array_equal(check.bank.state, again.bank.state)
    assert _first_divergence(check.params, again.codes()) is None


def test_wide_formats_track_float_sgd():
    """The outside truth: with wide formats, no approximated function, the golden model is float SGD."""
    cfg = TaxoNNConfig(layers=(64, 32, 10), w_fmt="24.20", a_fmt="24.16", e_fmt="24.20",
                       g_fmt="24.22", rounding="nearest", hidden_activation="relu",
                       output="linear", lr_shift=5)
    golden = TaxoNNGolden(cfg)
    ref = FloatMLP(cfg, dtype=torch.float64)
    for i in sample_order(len(DIGITS.x_train), 100, seed=1):
        golden.step(DIGITS.x_train[i], DIGITS.y_train[i])
        ref.step(DIGITS.x_train[i], DIGITS.y_train[i])
    g, f = golden.float_params(), ref.float_params()
    worst = max(float(np.abs(g[k] - f[k]).max()) for k in g)
    assert worst <= 1e-3
    moved = max(float(np.abs(f[k] - v).max()) for k, v in FloatMLP(cfg, dtype=torch.float64).float_params().items())
    assert moved > 10 * worst  # the comparison is meaningful: training moved the weights far more


def test_golden_learns_digits():
    golden = TaxoNNGolden(TaxoNNConfig())
    for i in sample_order(len(DIGITS.x_train), 2 * len(DIGITS.x_train), seed=0):
        golden.step(DIGITS.x_train[i], DIGITS.y_train[i])
    assert golden.accuracy(DIGITS.x_test, DIGITS.y_test) > 0.85


def test_inference_batched_equals_single():
    golden = TaxoNNGolden(TaxoNNConfig(hidden_activation="sigmoid"))
    out, pred = golden.infer(DIGITS.x_test[:20])
    for k in range(20):
        o, p = golden.infer(DIGITS.x_test[k])
        assert o.tolist() == out[k].tolist() and int(p) == int(pred[k])


def test_schedule_counts_by_hand():
    cfg = TaxoNNConfig(layers=(10, 7, 3), pes=4, hidden_activation="sigmoid")
    s = schedule(cfg)
    # chunks: layer 1 ceil(10/4)=3, layer 2 ceil(7/4)=2
    assert s["cycles"] == {
        "fw": 7 * 3 + FW_DRAIN + 3 * 2 + FW_DRAIN,
        "err": 1 + ERR_DRAIN,
        "bw": 3 * 2,
        "wu": 7 * 3 + 3 * 2 + 2 * BWU_DRAIN,
        "deriv": 2 * 2 + DERIV_DRAIN,
    }
    assert s["multiplies"] == {"fw": 70 + 21, "bw": 21, "wu": 91, "deriv": 14}
    assert s["lower_bound"] == -(-(91 + 21 + 91 + 14) // 4)
    assert s["total"] == sum(s["cycles"].values())
    assert schedule(cfg, inference=True)["cycles"] == {"fw": s["cycles"]["fw"]}


def test_dedicated_schedule_counts_by_hand():
    """Dedicated arrays: BW overlaps WU, one (row, chunk) per cycle in every layer.

    Layers 10-7-3, P = 4, sigmoid hidden; chunks: layer 1 ceil(10/4) = 3, layer 2 ceil(7/4) = 2.
      fw    = 7*3 + 3 (drain) + 3*2 + 3        = 33  (as shared)
      err   = ceil(3/4) + 1                     =  2  (as shared)
      bw    = 0: its 3*2 = 6 issues run inside the wu cycles (overlap["bw"] = 6)
      wu    = 7*3 + 3*2 + 2 layers * 2 (drain)  = 31  (as shared)
      deriv = ceil(7/4) * 2 (sigmoid) + 2       =  6  (as shared)
      total = 33 + 2 + 0 + 31 + 6               = 72  (shared: 78 = 72 + 6)
    Multiplies fw 70 + 21 = 91, bw 7*3 = 21, wu 91, deriv 2*7 = 14; the bound leaves out BW's
    (its own array, in WU's cycles): ceil((91 + 91 + 14) / 4) = 49.
    """
    cfg = TaxoNNConfig(layers=(10, 7, 3), pes=4, hidden_activation="sigmoid", multipliers="dedicated")
    s = schedule(cfg)
    assert s["cycles"] == {"fw": 33, "err": 2, "bw": 0, "wu": 31, "deriv": 6}
    assert s["overlap"] == {"bw": 6}
    assert s["total"] == 72 == sum(s["cycles"].values())
    assert s["multiplies"] == {"fw": 91, "bw": 21, "wu": 91, "deriv": 14}
    assert s["lower_bound"] == 49
    assert s["utilization"]["bw"] == pytest.approx(21 / (4 * 6))
    assert s["utilization"]["wu"] == pytest.approx(91 / (4 * 31))
    assert s["utilization_total"] == pytest.approx(49 / 72)
    shared = schedule(dataclasses.replace(cfg, multipliers="shared"))
    assert shared["total"] == 78 and shared["overlap"] == {"bw": 0}
    assert shared["utilization"] == s["utilization"]
    assert schedule(cfg, inference=True) == schedule(dataclasses.replace(cfg, multipliers="shared"), inference=True)


@pytest.mark.parametrize("layers, p", [((64, 32, 10), 4), ((64, 3, 10), 4), ((64, 9, 5, 10), 1), ((20, 10), 3)])
def test_dedicated_schedule_against_shared(layers, p):
    for hidden in ("relu", "sigmoid"):
        shared = schedule(TaxoNNConfig(layers=layers, pes=p, hidden_activation=hidden))
        ded = schedule(TaxoNNConfig(layers=layers, pes=p, hidden_activation=hidden, multipliers="dedicated"))
        assert ded["total"] == shared["total"] - shared["cycles"]["bw"] == sum(ded["cycles"].values())
        assert ded["overlap"]["bw"] == shared["cycles"]["bw"] and ded["multiplies"] == shared["multiplies"]
        assert 0 < ded["utilization_total"] <= 1


def test_golden_cycles_follow_the_schedule_of_its_multipliers():
    for multipliers in ("shared", "dedicated"):
        cfg = TaxoNNConfig(layers=(64, 9, 3, 10), pes=4, multipliers=multipliers)
        result = TaxoNNGolden(cfg).step(DIGITS.x_train[0], DIGITS.y_train[0])
        assert result.cycles == schedule(cfg)["cycles"] and result.total_cycles == schedule(cfg)["total"]
    # the arithmetic does not depend on the multipliers
    a = TaxoNNGolden(TaxoNNConfig(layers=(64, 9, 3, 10), pes=4))
    b = TaxoNNGolden(TaxoNNConfig(layers=(64, 9, 3, 10), pes=4, multipliers="dedicated"))
    for i in sample_order(len(DIGITS.x_train), 20, seed=3):
        a.step(DIGITS.x_train[i], DIGITS.y_train[i])
        b.step(DIGITS.x_train[i], DIGITS.y_train[i])
    assert _first_divergence(a.params, b.params) is None


@pytest.mark.parametrize("p", [2, 3, 4, 8, 16])
def test_utilization_at_least_90_percent_for_wide_layers(p):
    # At P = 1 the 3-cycle drain per layer costs more: 89% forward for a 4-wide layer.
    cfg = TaxoNNConfig(layers=(8 * p, 4 * p, 4 * p), pes=p)
    util = schedule(cfg)["utilization"]
    for phase in ("fw", "bw", "wu"):
        assert util[phase] >= 0.9, (phase, util[phase])


def test_update_draw_assignment():
    cfg = TaxoNNConfig(layers=(5, 3, 2), pes=2)
    draws = update_draws(cfg, LFSRBank(cfg.lfsr_seed, 3))
    raw = LFSRBank(cfg.lfsr_seed, 3).draws(2 * 2 + 3 * 3)  # layer 2 first: 2 rows x 2 chunks
    layer2 = raw[:4].reshape(2, 2, 3)
    assert draws[1][0].tolist() == layer2[:, :, :2].reshape(2, 4)[:, :3].tolist()
    assert draws[1][1].tolist() == layer2[:, 0, 2].tolist()
    layer1 = raw[4:].reshape(3, 3, 3)
    assert draws[0][0].tolist() == layer1[:, :, :2].reshape(3, 6)[:, :5].tolist()


def test_config_json_round_trip_and_validation():
    cfg = TaxoNNConfig(layers=(784, 100, 10), pes=16, w_fmt="8.6", rounding="nearest")
    again = TaxoNNConfig.from_json(json.loads(json.dumps(cfg.to_json())))
    assert again == cfg and again.layers == (784, 100, 10)
    assert TaxoNNConfig(layers="4,3,2").layers == (4, 3, 2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(layers=(5,)), "`layers` must list at least 2 sizes"),
    (dict(layers=(5, 0)), "`layer size` must be between 1 and 65536, not 0"),
    (dict(pes=0), "`pes` must be between 1 and 256, not 0"),
    (dict(hidden_activation="tanh"), "`hidden_activation` must be one of relu, sigmoid, not 'tanh'"),
    (dict(rounding="floor"), "`rounding` must be one of nearest, stochastic, not 'floor'"),
    (dict(a_fmt="8.7"), "`a_fmt` must represent 1.0"),
    (dict(w_fmt="u8.6"), "`w_fmt` must be signed, not u8.6"),
    (dict(acc_bits=10), "`acc_bits` must be at least 30 so accumulators cannot overflow, not 10"),
    (dict(w_fmt="40.30", a_fmt="40.30"), "need .*-bit accumulators; at most 62"),
    (dict(lr_shift=-1), "`lr_shift` must be between 0 and 32, not -1"),
    (dict(foo=1), "unexpected keyword"),
])
def test_config_errors(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        TaxoNNConfig(**kwargs)


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_torch_path_is_exact_beyond_float64(rounding):
    """Formats whose products need more than float64's 53 bits: the torch engine computes in int64 codes,
    so it stays bit-identical to the golden model (its products take float64 only where a bound proves it
    exact, which these widths do not allow)."""
    cfg = TaxoNNConfig(layers=(64, 12, 10), w_fmt="28.20", a_fmt="26.20", e_fmt="26.20", g_fmt="30.26",
                       rounding=rounding, lr_shift=4)
    assert cfg.min_acc_bits > 53
    _train_both(cfg, 40, seed=2)


def test_golden_rejects_bad_params_and_inputs():
    cfg = TaxoNNConfig(layers=(4, 3, 2))
    with pytest.raises(ValueError, match=r"layer 1: W must be \(3, 4\)"):
        TaxoNNGolden(cfg, [(np.zeros((4, 4), dtype=np.int64), np.zeros(3, dtype=np.int64)),
                           (np.zeros((2, 3), dtype=np.int64), np.zeros(2, dtype=np.int64))])
    with pytest.raises(ValueError, match="input must have 4 features, not 5"):
        TaxoNNGolden(cfg).infer(np.zeros(5))
