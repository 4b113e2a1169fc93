"""The LFSR that drives stochastic rounding, specified bit for bit.

Specification (shared by NumPy, torch and the RTL):

* **Register**: 32 bits, Galois form, shifting right. One step is
  ``s = (s >> 1) ^ (POLY_MASK if s & 1 else 0)`` with ``POLY_MASK = 0x80200003``,
  the feedback polynomial x^32 + x^22 + x^2 + x + 1 (maximal length:
  period 2**32 - 1, checked in the tests from the step's matrix over GF(2)).
* **Draw**: advance `STEPS_PER_DRAW` (= `RAND_BITS` = 16) steps, then take the
  low 16 bits of the new state. Advancing 16 steps per draw means successive
  draws share no bits; in hardware the 16 steps are one combinational XOR
  network (a leap-forward LFSR).
* **Lanes**: a bank has L independent lanes. Lane ``i`` starts from
  ``lane_seed(seed, i)``: ``fmix32((seed + 0x9E3779B9 * (i + 1)) mod 2**32)``
  (MurmurHash3's finalizer), replaced by 1 if it is 0 (the all-zero state is
  a fixed point).
* **Assignment**: quantizing an array with a bank of L lanes, element ``k``
  in row-major order takes lane ``k mod L``, draw number ``k div L``. Every
  lane advances once per "row" of L elements, so a bank of L lanes serves L
  values per cycle in hardware.
"""

import sys

import numpy as np

from .rounding import RAND_BITS

__all__ = ["LFSR_WIDTH", "POLY_MASK", "STEPS_PER_DRAW", "lane_seed", "step", "draw_step",
           "LFSRBank"]

LFSR_WIDTH = 32
POLY_MASK = 0x80200003
STEPS_PER_DRAW = RAND_BITS
_MASK32 = 0xFFFFFFFF


def _fmix32(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK32
    h ^= h >> 16
    return h


def lane_seed(seed, lane):
    """The initial 32-bit state of ``lane`` in a bank seeded with ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer, not {seed!r}")
    if isinstance(lane, bool) or not isinstance(lane, int) or lane < 0:
        raise ValueError(f"`lane` must be a non-negative integer, not {lane!r}")
    state = _fmix32((seed + 0x9E3779B9 * (lane + 1)) & _MASK32)
    return state or 1


def step(state):
    """One Galois step of a uint64 array of 32-bit states (or a Python int)."""
    feedback = state & 1
    return (state >> 1) ^ (feedback * POLY_MASK)


def draw_step(state):
    """Advance `STEPS_PER_DRAW` steps; return ``(new_state, draw)``."""
    for _ in range(STEPS_PER_DRAW):
        state = step(state)
    return state, state & ((1 << RAND_BITS) - 1)


def _columns_of_draw():
    """The images of the 32 basis states under one draw."""
    cols = []
    for i in range(LFSR_WIDTH):
        state = 1 << i
        for _ in range(STEPS_PER_DRAW):
            state = step(state)
        cols.append(state)
    return cols


def _apply_cols(cols, v):
    out = 0
    for i in range(LFSR_WIDTH):
        if (v >> i) & 1:
            out ^= cols[i]
    return out


def _byte_tables(cols):
    tables = np.zeros((4, 256), dtype=np.uint64)
    for k in range(4):
        for v in range(1, 256):
            low = (v & -v).bit_length() - 1
            tables[k, v] = tables[k, v & (v - 1)] ^ np.uint64(cols[8 * k + low])
    return tables


_TABLES = []
_LOW = 0 if sys.byteorder == "little" else 1  # which uint16 of a uint32 holds its low half


def _power_tables(j):
    """Lookup tables of the map of ``2**j`` draws (cached): two uint32 tables of 65536 entries, the images
    of every low and every high half of a state (the map is linear over GF(2), so a state's image is the
    XOR of its halves' images)."""
    if not _TABLES:
        _TABLES.append((_columns_of_draw(), None))
    while len(_TABLES) <= j:
        cols = _TABLES[-1][0]
        _TABLES.append(([_apply_cols(cols, c) for c in cols], None))
    cols, tables = _TABLES[j]
    if tables is None:
        b = _byte_tables(cols).astype(np.uint32)
        v = np.arange(1 << 16)
        tables = (b[0][v & 255] ^ b[1][v >> 8], b[2][v & 255] ^ b[3][v >> 8])
        _TABLES[j] = (cols, tables)
    return tables


#: the lags of the recurrence of the draw map M: ``x[n] = x[n-1] ^ x[n-2] ^ x[n-22] ^ x[n-32]`` for any state
#: sequence ``x[n+1] = M x[n]``. M is 16 steps of a register whose characteristic polynomial is primitive of
#: degree 32, so M's is the same polynomial (its roots are the 16th powers of the step's, a permutation of
#: them): x^32 + x^31 + x^30 + x^10 + 1 here (the Galois register's, the reciprocal of the feedback
#: polynomial), i.e. ``M^32 = M^31 + M^30 + M^10 + I``. Squaring over GF(2) gives the same lags times any
#: power of two S, rows S apart: ``x[n] = x[n-S] ^ x[n-2S] ^ x[n-22S] ^ x[n-32S]``.
_LAGS = (1, 2, 22, 32)
#: rows made from the powers of M before the recurrence takes over
_SEED_ROWS = 32 * 64  # (measured fastest of 512 to 8192 at 5 and 17 lanes)


def _recur(seq, filled):
    """Fill ``seq[filled:]`` (uint32, ``(count, lanes)``), given its first ``filled >= 32`` rows, from
    the recurrence `_LAGS` with the widest stride S (a power of two, ``32 S <= filled``): S rows per three
    XORs of rows further back, the stride doubling as the filled part grows."""
    count, lanes = seq.shape
    flat = seq.reshape(-1)
    first, second, *rest = _LAGS
    while filled < count:
        stride = 1 << ((filled // _LAGS[-1]).bit_length() - 1)
        stop = min(count, 2 * filled, filled + _LAGS[-1] * stride)
        w = stride * lanes
        for n in range(filled * lanes, stop * lanes, w):
            m = min(w, stop * lanes - n)
            out = flat[n:n + m]
            np.bitwise_xor(flat[n - first * w:n - first * w + m], flat[n - second * w:n - second * w + m], out=out)
            for lag in rest:
                np.bitwise_xor(out, flat[n - lag * w:n - lag * w + m], out=out)
        filled = stop


def _apply(tables, states, out=None):
    """The map of ``tables`` applied to uint32 ``states`` (2-D), into ``out`` if given: two gathers through
    the 16-bit halves of the states, read as a uint16 view (no shifting or masking)."""
    halves = np.ascontiguousarray(states).view(np.uint16)
    out = np.take(tables[0], halves[:, _LOW::2], out=out)
    return np.bitwise_xor(out, np.take(tables[1], halves[:, 1 - _LOW::2]), out=out)


class LFSRBank:
    """``lanes`` independent LFSRs; see the module docstring for the spec.

    Parameters
    ----------
    seed : int
        Bank seed, a non-negative integer.
    lanes : int
        Number of lanes, at least 1.
    """

    def __init__(self, seed, lanes=1):
        if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"`lanes` must be a positive integer, not {lanes!r}")
        self.seed = seed
        self.lanes = lanes
        self.state = np.array([lane_seed(seed, i) for i in range(lanes)], dtype=np.uint64)

    def __repr__(self):
        return f"LFSRBank(seed={self.seed}, lanes={self.lanes})"

    def draw(self):
        """One draw from every lane: int64 array of shape ``(lanes,)``."""
        return self.draws(1)[0]

    def draws(self, count):
        """``count`` successive draws: int64 array of shape ``(count, lanes)``.

        Equal to ``count`` calls of `draw_step`, computed in ``log2(count)``
        vectorized rounds: the state after ``t`` draws is ``M**t`` applied to
        the state, ``M`` the (linear, over GF(2)) map of one draw.
        """
        return (self.states(count) & np.uint32((1 << RAND_BITS) - 1)).astype(np.int64)

    def states(self, count):
        """The states after each of ``count`` successive draws: uint32 array ``(count, lanes)`` (a draw is
        the low `RAND_BITS` bits of its state). Advances the bank like `draws`.

        The first rows come from the draw map's powers (`_power_tables`: row ``n + m`` is ``M**m`` of row
        ``n``), the rest from the recurrence every state sequence of the map satisfies (`_recur`)."""
        if count <= 0:
            return np.empty((0, self.lanes), dtype=np.uint32)
        seq = np.empty((count, self.lanes), dtype=np.uint32)  # the states are 32 bits
        _apply(_power_tables(0), self.state.astype(np.uint32)[None], out=seq[:1])
        filled, j = 1, 0
        while filled < min(count, _SEED_ROWS):
            m = min(filled, count - filled)
            _apply(_power_tables(j), seq[:m], out=seq[filled:filled + m])
            filled += m
            j += 1
        _recur(seq, filled)
        self.state = seq[-1].astype(np.uint64)
        return seq

    def take(self, shape):
        """Random draws for an array of ``shape``, with the lane assignment above.

        Returns an int64 NumPy array of ``shape``; pass it as ``rand`` to a
        quant/ function (convert with ``torch.as_tensor`` for torch values).
        """
        shape = tuple(int(n) for n in np.atleast_1d(shape)) if not isinstance(shape, tuple) else shape
        size = int(np.prod(shape, dtype=np.int64))
        rows = -(-size // self.lanes)
        return self.draws(rows).reshape(-1)[:size].reshape(shape)
