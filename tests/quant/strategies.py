"""Hypothesis strategies shared by the quant/ tests."""

from hypothesis import strategies as st
import numpy as np

from quant import FixedFormat, MAX_TOTAL_BITS


@st.composite
def formats(draw, max_total=24, signed=None):
    total = draw(st.integers(1 if signed is False else 2, max_total))
    frac = draw(st.integers(0, total))
    is_signed = draw(st.booleans()) if signed is None else signed
    return FixedFormat(total=total, frac=frac, signed=is_signed)


@st.composite
def codes_of(draw, fmt, size):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    codes = rng.integers(fmt.min_code, fmt.max_code, size=size, endpoint=True)
    # Always include the ends and zero: the edges are where bugs live.
    ends = [fmt.min_code, fmt.max_code, 0 if fmt.min_code <= 0 else fmt.min_code]
    codes[:3] = ends[:size]
    return codes.astype(np.int64)


@st.composite
def any_format(draw, max_total=MAX_TOTAL_BITS):
    """Any format `FixedFormat` accepts, wide ones drawn more often."""
    total = draw(st.integers(1, max_total) | st.integers(max(1, max_total - 8), max_total))
    return FixedFormat(total=total, frac=draw(st.integers(0, total)), signed=draw(st.booleans()))


@st.composite
def edge_values(draw, lo, hi, size, ties=(), near=()):
    """Int64 values in ``[lo, hi]``: the ends, 0 and +-1, each of ``near`` and its
    neighbours, exact ties for a right shift by each of ``ties`` (``m * 2**s + 2**(s-1)``)
    and their neighbours, then random values of every magnitude up to ``size`` in all."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    wanted = [lo, lo + 1, hi - 1, hi, -1, 0, 1]
    wanted += [p + d for p in near for d in (-1, 0, 1)]
    for s in (s for s in ties if s >= 1):
        ms = [lo >> s, hi >> s] + [int(m) for m in rng.integers(lo >> s, hi >> s, size=3, endpoint=True)]
        wanted += [(m << s) + (1 << (s - 1)) + d for m in ms for d in (-1, 0, 1)]
    values = list(dict.fromkeys(v for v in wanted if lo <= v <= hi))
    while len(values) < size:
        # log-uniform magnitudes: small values matter as much as large ones
        bits = int(rng.integers(0, 64))
        v = int(rng.integers(-(1 << bits), 1 << bits)) if bits < 63 else \
            int(rng.integers(lo, hi, endpoint=True))
        if lo <= v <= hi:
            values.append(v)
    return np.array(values, dtype=np.int64)
