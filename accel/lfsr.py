"""A bank of leap-forward LFSR lanes, the hardware of quant.lfsr."""

import functools
import operator

from amaranth.hdl import Module, Signal, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from quant import RAND_BITS, lane_seed, LFSR_WIDTH, STEPS_PER_DRAW
from quant.lfsr import step

__all__ = ["LFSR", "lfsr_draw_hw"]


def _leap_matrix():
    """For each state bit after one draw, the mask of state bits XORed into it.

    One draw is `STEPS_PER_DRAW` Galois steps, a linear map over GF(2); its
    matrix is read off quant.lfsr.step applied to the basis states.
    """
    columns = []
    for i in range(LFSR_WIDTH):
        state = 1 << i
        for _ in range(STEPS_PER_DRAW):
            state = step(state)
        columns.append(state)  # image of basis bit i
    return [sum(((columns[i] >> j) & 1) << i for i in range(LFSR_WIDTH)) for j in range(LFSR_WIDTH)]


_LEAP = _leap_matrix()


def lfsr_draw_hw(state):
    """The state after one draw, as one XOR network (a leap-forward LFSR)."""
    bits = []
    for mask in _LEAP:
        taps = [state[i] for i in range(LFSR_WIDTH) if (mask >> i) & 1]
        bits.append(functools.reduce(operator.xor, taps))
    return Cat(*bits)


class LFSR(wiring.Component):
    """``lanes`` LFSR lanes seeded per quant.lfsr.lane_seed(seed, lane).

    Ports
    -----
    en : In(1)
        Take a draw this cycle: every lane advances by one draw at the clock edge.
    bits : Out(16 * lanes)
        The current draw of each lane (lane ``i`` in bits ``16i .. 16i+15``):
        the low 16 bits of the state one draw ahead, so the value seen in the
        cycle ``en`` is high is the draw quant.lfsr.LFSRBank returns.
    """

    def __init__(self, seed, lanes=1):
        self.seed = seed
        self.lanes = lanes
        self.seeds = [lane_seed(seed, i) for i in range(lanes)]
        super().__init__({"en": In(1), "bits": Out(RAND_BITS * lanes)})

    def elaborate(self, platform):
        m = Module()
        draws = []
        for i, seed in enumerate(self.seeds):
            state = Signal(LFSR_WIDTH, init=seed, name=f"state{i}")
            nxt = Signal(LFSR_WIDTH, name=f"next{i}")
            m.d.comb += nxt.eq(lfsr_draw_hw(state))
            with m.If(self.en):
                m.d.sync += state.eq(nxt)
            draws.append(nxt[:RAND_BITS])
        m.d.comb += self.bits.eq(Cat(*draws))
        return m
