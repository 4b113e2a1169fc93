"""The LSTM export contract's loader and the golden arithmetic's building rules."""

import dataclasses

import numpy as np
import pytest

from models.lstm import LSTMWeights, LSTMConfig, LSTMGolden


def _arrays(mode="ternary", H=3, I=2, C=4, seed=0):
    rng = np.random.default_rng(seed)
    codes = {"binary": (-1, 1), "ternary": (-1, 0, 1), "fixed12": tuple(range(-2047, 2048, 97))}[mode]
    dtype = np.int16 if mode == "fixed12" else np.int8
    return {"mode": np.array(mode), "wx": rng.choice(codes, (4 * H, I)).astype(dtype),
            "wh": rng.choice(codes, (4 * H, H)).astype(dtype),
            "sx": rng.random(4 * H), "sh": rng.random(4 * H), "b": rng.standard_normal(4 * H),
            "sc": rng.random(H), "bc": rng.standard_normal(H), "h0": np.zeros(H), "c0": np.zeros(H),
            "head_w": rng.standard_normal((C, H)), "head_b": np.zeros(C)}


def _write(tmp_path, arrays, name="w.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("mode", ["binary", "ternary", "fixed12"])
def test_load_accepts_the_contract(tmp_path, mode):
    w = LSTMWeights.load(_write(tmp_path, _arrays(mode)))
    assert (w.mode, w.input_size, w.hidden, w.classes) == (mode, 2, 3, 4)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("sc"), "lacks sc"),
    (lambda a: a.update(extra=np.zeros(2)), "unexpected arrays extra"),
    (lambda a: a.update(wh=np.zeros((12, 4), np.int8)), r"`wh` must have shape \(12, 3\)"),
    (lambda a: a["wx"].__setitem__((1, 1), 2), r"`wx`\[1, 1\] = 2 is not a ternary code"),
    (lambda a: a.update(mode=np.array("quaternary")), "mode` must be one of binary, ternary, fixed12"),
    (lambda a: a.update(wx=np.zeros((12, 2))), "must be a 2-D integer array"),
    (lambda a: a["b"].__setitem__(5, np.nan), r"`b` has a non-finite value at index \(5,\)"),
    (lambda a: a.update(wx=np.zeros((10, 2), np.int8)), "must have 4H rows"),
    (lambda a: a.update(mode=np.array(3)), "`mode` must be a string"),
])
def test_load_rejects_anything_else(tmp_path, change, message):
    arrays = _arrays()
    change(arrays)
    with pytest.raises(ValueError, match=message):
        LSTMWeights.load(_write(tmp_path, arrays))


def test_binary_rejects_zero_codes(tmp_path):
    arrays = _arrays("binary")
    arrays["wh"][0, 0] = 0
    with pytest.raises(ValueError, match=r"is not a binary code \(expected \{-1, 1\}\)"):
        LSTMWeights.load(_write(tmp_path, arrays))


def test_unreadable_files(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not an .npz archive"):
        LSTMWeights.load(tmp_path / "bad.npz")
    good = _write(tmp_path, _arrays())
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError, match="cut.npz"):
        LSTMWeights.load(tmp_path / "cut.npz")
    with pytest.raises(FileNotFoundError, match="missing.npz' does not exist"):
        LSTMWeights.load(tmp_path / "missing.npz")


def test_config_checks():
    with pytest.raises(ValueError, match="`mode` must be one of"):
        LSTMConfig(mode="fp")
    with pytest.raises(ValueError, match="`h_fmt` must be signed"):
        LSTMConfig(h_fmt="u12.10")
    with pytest.raises(ValueError, match="intermediate sums"):
        LSTMConfig(input_size=60000, x_fmt="32.16", s_fmt="32.30")
    cfg = LSTMConfig(input_size=2, hidden=4)
    arrays = _arrays()
    weights = LSTMWeights(**{k: (str(v) if k == "mode" else v) for k, v in arrays.items()})
    with pytest.raises(ValueError, match="does not fit the configuration"):
        LSTMGolden(cfg, weights)


def test_golden_step_by_hand():
    """One unit, one input, every rounding visible: the arithmetic of the module docstring."""
    arrays = {"mode": "ternary", "wx": np.array([[1], [1], [-1], [1]]), "wh": np.array([[0], [1], [1], [-1]]),
              "sx": np.full(4, 0.5), "sh": np.full(4, 0.25), "b": np.array([0.0, 1.0, 0.0, -0.5]),
              "sc": np.array([1.0]), "bc": np.array([0.0]), "h0": np.array([0.5]), "c0": np.array([0.25]),
              "head_w": np.ones((2, 1)), "head_b": np.zeros(2)}
    weights = LSTMWeights(**arrays)
    cfg = LSTMConfig(input_size=1, hidden=1)
    g = LSTMGolden(cfg, weights)
    h, c, pre = g.step(g.input_codes(np.array([[1.0]])), g.h0.reshape(1, 1), g.c0.reshape(1, 1))
    # pre = 0.5*(w x) + 0.25*(w h) + b: i 0.5, f 0.5+0.125+1, g -0.5+0.125, o 0.5-0.125-0.5
    assert (pre / 2 ** 12).tolist() == [[0.5, 1.625, -0.375, -0.125]]
    sig = lambda v: 1 / (1 + np.exp(-v))
    c_f = sig(1.625) * 0.25 + sig(0.5) * np.tanh(-0.375)
    h_f = sig(-0.125) * np.tanh(c_f)
    assert abs(c[0, 0] / 2 ** 12 - c_f) < 0.01 and abs(h[0, 0] / 2 ** 10 - h_f) < 0.01


def test_schedule_counts():
    from models.lstm import schedule
    cfg = LSTMConfig(input_size=28, hidden=100, lanes=8, inputs_per_cycle=16)
    s = schedule(cfg, steps=28)
    # G = 13 groups, Cx = 2, Ch = 7 chunks (C = 9): 13 * 4 * 9 issue cycles per step; M = 1 post unit drains
    # the 8 lanes in D = 8 <= 9 cycles, so the array never waits: the first hand-over in cycle 8 + 2, the
    # other 51 gates 9 cycles apart, the last drain 8 cycles, 6 post-unit stages
    assert (cfg.units, cfg.drain_cycles) == (1, 8)
    assert s["issue_cycles"] == 468 and s["stall_cycles"] == 0
    assert s["cycles_per_step"] == 10 + 51 * 9 + 8 + 6 == 483
    assert s["cycles"] == 28 * s["cycles_per_step"]
    assert s["lower_bound_per_step"] == -(-4 * 100 * 128 // 128) and 0 < s["utilization"] < 1
    # ternary 2 bits per code, padding included: 468 words of 8 * 16 codes
    assert s["weight_memory_bits"] == 468 * 128 * 2
    assert LSTMConfig(input_size=28, hidden=100, lanes=8, inputs_per_cycle=16, mode="fixed12").weight_memory_bits() \
        == 6 * s["weight_memory_bits"]


def test_schedule_with_a_stalling_array():
    from models.lstm import schedule
    # C = 1 + 1 chunks, one post unit for 8 lanes: every gate waits D - C = 6 cycles for the drain
    cfg = LSTMConfig(input_size=16, hidden=16, lanes=8, inputs_per_cycle=16, post_units=1)
    s = schedule(cfg)
    assert (cfg.groups, cfg.drain_cycles) == (2, 8)
    assert s["stall_cycles"] == 7 * 6 and s["cycles_per_step"] == 3 + 7 * 8 + 8 + 6 == 73
    # as many units as lanes: one drain cycle, gates every C cycles
    full = schedule(LSTMConfig(input_size=16, hidden=16, lanes=8, inputs_per_cycle=16, post_units=8))
    assert full["stall_cycles"] == 0 and full["cycles_per_step"] == 3 + 7 * 2 + 1 + 6


def test_schedule_of_the_pipelined_datapath():
    from models.lstm import schedule, post_offsets, handover
    # pipeline 1: the trees' sums take a register of their own (hand-over 3 cycles after the last issue) and
    # the post units twelve stages: P0 products | sum, round | lookup | interpolate (act, cycle 3) | products
    # (update, 4) | sum, round (cell, 5) | product (norm, 6) | + bc, round | lookup | interpolate | product |
    # round (h, 11)
    cfg = LSTMConfig(input_size=16, hidden=16, lanes=8, inputs_per_cycle=16, post_units=1, pipeline=1)
    assert handover(cfg) == 3
    assert post_offsets(cfg) == {"act": 3, "update": 4, "cell": 5, "norm": 6, "h": 11, "stages": 12}
    assert schedule(cfg)["cycles_per_step"] == 1 + 3 + 7 * 8 + 8 + 12 == 80
    assert post_offsets(dataclasses.replace(cfg, pipeline=0)) == {"act": 1, "update": 2, "cell": 2, "norm": 3,
                                                                   "h": 5, "stages": 6}
    # pipeline 2: the memories' words registered too: the trees a cycle later, every post-unit stage a cycle later
    deep = dataclasses.replace(cfg, pipeline=2)
    assert handover(deep) == 4
    assert post_offsets(deep) == {"act": 4, "update": 5, "cell": 6, "norm": 7, "h": 12, "stages": 13}
    assert schedule(deep)["cycles_per_step"] == 1 + 4 + 7 * 8 + 8 + 13 == 82
    # pipeline 3: the trees also registered halfway: one more cycle to the hand-over, the post units as at 2
    deepest = dataclasses.replace(cfg, pipeline=3)
    assert handover(deepest) == 5 and post_offsets(deepest) == post_offsets(deep)
    assert schedule(deepest)["cycles_per_step"] == 1 + 5 + 7 * 8 + 8 + 13 == 83


@pytest.mark.parametrize("pipeline", [-1, 4, 1.0, True])
def test_pipeline_depth_is_checked(pipeline):
    with pytest.raises((ValueError, TypeError), match="pipeline"):
        LSTMConfig(pipeline=pipeline)


@pytest.mark.parametrize("units", [0, 9, 2.0, True])
def test_post_units_must_fit_the_lanes(units):
    with pytest.raises((ValueError, TypeError), match="post_units"):
        LSTMConfig(lanes=8, post_units=units)


def test_exact_in_float_by_hand():
    from quant import exact_in_float
    assert exact_in_float(1, 1 << 26, 1 << 26)          # 2**52
    assert not exact_in_float(2, 1 << 26, 1 << 26)      # 2**53 itself is the first integer float64 can lose neighbours of
    assert not exact_in_float(2, -(1 << 26), 1 << 26)   # magnitudes
    assert exact_in_float(1024, 2047, 1 << 11)


@pytest.mark.parametrize("mode", ["binary", "ternary", "fixed12"])
def test_weight_sums_on_float64_equal_int64(tmp_path, mode, monkeypatch):
    """The golden model's weight sums run on float64 BLAS only where exact; forced to int64 (no sum provably
    exact) every code of every step is the same."""
    import quant.fixed
    weights = LSTMWeights.load(_write(tmp_path, _arrays(mode, H=24, I=7, seed=3)))
    cfg = LSTMConfig.for_weights(weights)
    x = np.random.default_rng(4).uniform(-2, 2, (5, 9, 7))
    fast = LSTMGolden(cfg, weights)
    assert fast._wx.dtype == np.float64 and fast._wh.dtype == np.float64
    monkeypatch.setattr(quant.fixed, "EXACT_FLOAT_BITS", 0)
    slow = LSTMGolden(cfg, weights)
    assert slow._wx.dtype == np.int64 and slow._wh.dtype == np.int64
    (h1, _), (h2, _) = fast.run(x), slow.run(x)
    assert np.array_equal(h1, h2)
