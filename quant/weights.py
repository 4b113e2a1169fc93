"""Binary and ternary weight quantizers (BT-LSTM, after the authors' code).

All functions return integer codes, {-1, +1} or {-1, 0, +1}; the quantized
weight is ``w0 * code``. Randomness comes in as explicit uniform draws ``u``
in [0, 1) of the weights' shape, so NumPy and torch results agree given the
same draws; `quant.ste` draws them with a torch generator during training.

* Scale: ``W0 = sqrt(6 / (fan_in + 4 H)) / 2`` (`w0_scale`).
* Stochastic binary: +1 with probability ``clip((w/W0 + 1)/2, 0, 1)``, else -1.
* Deterministic binary: +1 where ``w >= 0``, else -1.
* Stochastic ternary: ``sign(w)`` with probability ``clip(|w|/W0, 0, 1)``, else 0.
* Deterministic ternary: ``sign(w)`` where ``|w| > threshold * W0``, else 0
  (``threshold`` 1/2 by default; the authors' code thresholds at 1/3).
"""

import math

import numpy as np

from . import _backend as B

__all__ = ["w0_scale", "binarize", "ternarize", "check_threshold", "WEIGHT_MODES"]

WEIGHT_MODES = ("binary", "ternary")


def w0_scale(fan_in, hidden):
    """Glorot-style scale of a gate matrix with ``fan_in`` inputs and ``4*hidden`` rows."""
    for name, value in (("fan_in", fan_in), ("hidden", hidden)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer, not {value!r}")
    return math.sqrt(6.0 / (fan_in + 4 * hidden)) / 2.0


def _prepare(w, w0, stochastic, u, rng):
    if not (isinstance(w0, (int, float)) and math.isfinite(w0) and w0 > 0):
        raise ValueError(f"`w0` must be a positive finite number, not {w0!r}")
    w = B.as_float64(w, name="w")
    if B.any_(B.isnan(w)):
        raise ValueError(f"`w` must not contain NaN (first at index {B.first_index(B.isnan(w))})")
    if not stochastic:
        return w, None
    if u is None:
        if B.is_torch(w):
            raise ValueError("stochastic quantization of a tensor needs `u`, uniform draws in [0, 1)")
        rng = rng if rng is not None else np.random.default_rng()
        u = rng.random(w.shape)
    u = B.as_float64(u, name="u")
    if B.shape_of(u) != B.shape_of(w):
        raise ValueError(f"`u` must have the shape of `w`, {B.shape_of(w)}, not {B.shape_of(u)}")
    return w, u


def binarize(w, w0, *, stochastic=False, u=None, rng=None):
    """Binary codes of ``w``: +1 / -1 (int64), see the module docstring."""
    w, u = _prepare(w, w0, stochastic, u, rng)
    up = (u < ((w / w0 + 1.0) / 2.0).clip(0.0, 1.0)) if stochastic else (w >= 0)
    return B.to_int64(up) * 2 - 1


def check_threshold(threshold, name="threshold"):
    """``threshold`` as a float, if it is a deterministic ternary threshold: a fraction of W0 in (0, 1)."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise ValueError(f"`{name}` must be a fraction of W0 in (0, 1), not {threshold!r}")
    return float(threshold)


def ternarize(w, w0, *, stochastic=False, u=None, rng=None, threshold=0.5):
    """Ternary codes of ``w``: -1 / 0 / +1 (int64), see the module docstring."""
    check_threshold(threshold)
    w, u = _prepare(w, w0, stochastic, u, rng)
    if stochastic:
        keep = u < (abs(w) / w0).clip(0.0, 1.0)
    else:
        keep = abs(w) > (w0 * threshold)
    return (B.to_int64(w > 0) - B.to_int64(w < 0)) * B.to_int64(keep)
