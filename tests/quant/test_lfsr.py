"""The LFSR spec: maximal period (proved from the step matrix), seeds, lanes."""

import numpy as np
import pytest

from quant import LFSRBank, lane_seed, POLY_MASK, quantize, FixedFormat
from quant.lfsr import step, draw_step, STEPS_PER_DRAW

ORDER = 2**32 - 1
PRIME_FACTORS = (3, 5, 17, 257, 65537)  # 2**32 - 1 = 3 * 5 * 17 * 257 * 65537


def _step_matrix():
    """Columns: the image of each basis state under one step (the step is linear over GF(2))."""
    return [step(1 << i) for i in range(32)]


def _apply(cols, v):
    out = 0
    i = 0
    while v:
        if v & 1:
            out ^= cols[i]
        v >>= 1
        i += 1
    return out


def _compose(a, b):  # a after b
    return [_apply(a, col) for col in b]


def _power(cols, n):
    result = [1 << i for i in range(32)]
    base = cols
    while n:
        if n & 1:
            result = _compose(base, result)
        base = _compose(base, base)
        n >>= 1
    return result


def test_period_is_maximal():
    identity = [1 << i for i in range(32)]
    m = _step_matrix()
    assert _power(m, ORDER) == identity
    for q in PRIME_FACTORS:
        assert _power(m, ORDER // q) != identity


def test_step_definition():
    assert step(1) == POLY_MASK  # feedback bit set: shift then xor the taps
    assert step(2) == 1
    assert step(0x80000000) == 0x40000000


def test_draw_is_16_steps_low_bits():
    s = 0x12345678
    t = s
    for _ in range(STEPS_PER_DRAW):
        t = step(t)
    assert draw_step(s) == (t, t & 0xFFFF)


def test_lane_seeds_are_fixed_and_nonzero():
    # pinned values: the RTL bakes these in, so a change here is a spec change
    assert [lane_seed(0, i) for i in range(3)] == [0x92CA2F0E, 0x3CD6E3F3, 0x1B147DCC]
    assert LFSRBank(1, 1).draws(3).ravel().tolist() == [21475, 115, 6462]
    seeds = {lane_seed(s, i) for s in range(20) for i in range(20)}
    assert 0 not in seeds and len(seeds) == 400
    with pytest.raises(ValueError, match="`seed` must be a non-negative integer, not -1"):
        lane_seed(-1, 0)


def test_bank_reproducible_and_lane_assignment():
    a = LFSRBank(42, 3).take((2, 4))  # 8 values -> 3 rows of 3 lanes
    rows = LFSRBank(42, 3).draws(3).reshape(-1)
    assert a.reshape(-1).tolist() == rows[:8].tolist()
    assert LFSRBank(42, 3).take((2, 4)).tolist() == a.tolist()
    assert LFSRBank(43, 3).take((2, 4)).tolist() != a.tolist()


def test_draws_look_uniform():
    d = LFSRBank(1, 8).draws(4000).reshape(-1)
    assert abs(d.mean() / 65535 - 0.5) < 0.01
    hist = np.bincount(d >> 12, minlength=16)  # 16 bins of 32000 draws
    assert hist.min() > 1800 and hist.max() < 2200


def test_stochastic_quantization_reproducible():
    f = FixedFormat.parse("8.2")
    x = np.linspace(-3, 3, 50)
    a = quantize(x, f, "stochastic", rand=LFSRBank(7, 4).take(x.shape))
    b = quantize(x, f, "stochastic", rand=LFSRBank(7, 4).take(x.shape))
    assert a.tolist() == b.tolist()


def test_bad_lanes():
    with pytest.raises(ValueError, match="`lanes` must be a positive integer, not 0"):
        LFSRBank(1, 0)


def test_fast_draws_equal_step_by_step():
    bank = LFSRBank(9, 5)
    state = bank.state.copy()
    fast = np.concatenate([bank.draws(1), bank.draws(77), bank.draws(0), bank.draws(300)])
    slow = []
    for _ in range(len(fast)):
        state, bits = draw_step(state)
        slow.append(bits.astype(np.int64))
    assert fast.tolist() == np.array(slow).tolist()
    assert bank.state.tolist() == state.tolist()


@pytest.mark.parametrize("lanes", [1, 3, 17])
def test_long_runs_from_the_recurrence_equal_step_by_step(lanes):
    """Past its first 2,048 rows `LFSRBank.states` uses the recurrence x[n] = x[n-S] ^ x[n-2S] ^ x[n-22S] ^
    x[n-32S] with strides S up to 2^k: every state of a run crossing several strides (and a partial last
    stride) equals the vectorized one-step map applied draw after draw."""
    count = 9000
    bank = LFSRBank(5, lanes)
    states = bank.states(count).astype(np.uint64)
    state, slow = LFSRBank(5, lanes).state.copy(), np.empty((count, lanes), dtype=np.uint64)
    for i in range(count):
        state, _ = draw_step(state)
        slow[i] = state
    first = np.argwhere(states != slow)
    assert not len(first), f"row {first[0][0]} lane {first[0][1]}: {states[tuple(first[0])]} != {slow[tuple(first[0])]}"
    assert bank.state.tolist() == state.tolist()
