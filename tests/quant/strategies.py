"""Hypothesis strategies shared by the quant/ tests."""

from hypothesis import strategies as st
import numpy as np

from quant import FixedFormat


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
