"""BT-LSTM RTL (accel/lstm.py) against the golden model in Amaranth's simulator: every h_t, every cycle count."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from accel.lstm import LSTM, SEL_X, SEL_H
from models.lstm import LSTMConfig, LSTMWeights, LSTMGolden, schedule


def random_weights(cfg, rng, classes=3):
    H, I = cfg.hidden, cfg.input_size
    codes = {"binary": (-1, 1), "ternary": (-1, 0, 1), "fixed12": tuple(range(-2047, 2048))}[cfg.mode]
    scale = 1.0 if cfg.mode != "fixed12" else 2.0 ** -11
    return LSTMWeights(mode=cfg.mode, wx=rng.choice(codes, (4 * H, I)), wh=rng.choice(codes, (4 * H, H)),
                       sx=rng.uniform(0.05, 0.6, 4 * H) * scale, sh=rng.uniform(0.05, 0.6, 4 * H) * scale,
                       b=rng.normal(0, 0.5, 4 * H), sc=rng.uniform(0.3, 1.5, H), bc=rng.normal(0, 0.2, H),
                       h0=rng.uniform(-0.5, 0.5, H), c0=rng.uniform(-1, 1, H),
                       head_w=rng.normal(size=(classes, H)), head_b=np.zeros(classes))


def run_amaranth(cfg, weights, x):
    """Run sequence ``x`` (T, I floats) on the RTL; return (h codes per step (T, H), cycles per step)."""
    golden = LSTMGolden(cfg, weights)
    xq = golden.input_codes(x)
    dut = LSTM(cfg)
    mp = dut.map
    hs, cycles = [], []

    async def bench(ctx):
        async def write(sel, addr, data):
            ctx.set(dut.mem_sel, sel)
            ctx.set(dut.mem_addr, addr)
            ctx.set(dut.mem_wdata, data)
            ctx.set(dut.mem_we, 1)
            await ctx.tick()
            ctx.set(dut.mem_we, 0)

        for sel, addr, data in mp.load(golden):
            await write(sel, addr, data)
        bound = 10 * schedule(cfg)["cycles_per_step"] + 100
        for t in range(len(xq)):
            for a, word in enumerate(mp.x_words(xq[t])):
                await write(SEL_X, a, word)
            ctx.set(dut.first, t == 0)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            for _ in range(bound):
                if ctx.get(dut.done):
                    break
                await ctx.tick()
            else:
                raise AssertionError(f"step {t}: done never rose within {bound} cycles")
            cycles.append(ctx.get(dut.cycles))
            words = []
            for a in range(cfg.h_chunks):
                ctx.set(dut.mem_sel, SEL_H)
                ctx.set(dut.mem_addr, a)
                await ctx.tick()
                words.append(ctx.get(dut.mem_rdata))
            hs.append(mp.h_codes(words))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return np.array(hs), cycles


def _first_divergence(want, got):
    t, u = np.argwhere(want != got)[0]
    return f"time step {t}, unit {u}: expected {want[t, u]}, got {got[t, u]}"


def _configs():
    rng = np.random.default_rng(2026)
    fixed = [LSTMConfig(input_size=5, hidden=6, lanes=4, inputs_per_cycle=3, mode=m)
             for m in ("binary", "ternary", "fixed12")]
    fixed.append(LSTMConfig(input_size=1, hidden=1, lanes=1, inputs_per_cycle=1, mode="ternary"))
    rand = [LSTMConfig(input_size=int(rng.integers(1, 12)), hidden=int(rng.integers(1, 10)),
                       lanes=int(rng.choice([1, 2, 3, 4, 8])), inputs_per_cycle=int(rng.choice([1, 2, 3, 5, 8])),
                       mode=str(rng.choice(["binary", "ternary", "fixed12"]))) for _ in range(5)]
    return fixed + rand


@pytest.mark.parametrize("cfg", _configs(), ids=lambda c: f"{c.mode}-I{c.input_size}-H{c.hidden}-L{c.lanes}-K{c.inputs_per_cycle}")
def test_every_h_and_cycle_count_match_the_golden_model(cfg):
    rng = np.random.default_rng(cfg.input_size * 100 + cfg.hidden)
    weights = random_weights(cfg, rng)
    x = rng.uniform(0, 1, (4, cfg.input_size))
    want, _ = LSTMGolden(cfg, weights).run(x[None])
    got, cycles = run_amaranth(cfg, weights, x)
    assert np.array_equal(got, want[0]), _first_divergence(want[0], got)
    assert cycles == [schedule(cfg)["cycles_per_step"]] * 4


def test_saturating_inputs_and_scales():
    """Inputs at the top of x_fmt and scales that drive every pre-activation into saturation."""
    cfg = LSTMConfig(input_size=7, hidden=5, lanes=2, inputs_per_cycle=4, mode="ternary")
    rng = np.random.default_rng(7)
    w = random_weights(cfg, rng)
    arrays = {k: getattr(w, k) for k in ("wx", "wh", "sc", "bc", "h0", "c0", "head_w", "head_b")}
    weights = LSTMWeights(mode="ternary", sx=np.full(20, 7.9), sh=np.full(20, -7.9), b=np.full(20, 7.99), **arrays)
    x = np.full((3, 7), cfg.x_fmt.max_value)
    want, _ = LSTMGolden(cfg, weights).run(x[None])
    got, _ = run_amaranth(cfg, weights, x)
    assert np.array_equal(got, want[0]), _first_divergence(want[0], got)
