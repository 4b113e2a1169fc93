"""Many TaxoNN training steps at once: the golden model's arithmetic without its per-step overhead.

`train_steps(golden, x, labels)` advances a `models.taxonn.TaxoNNGolden` (its
parameters and its LFSR bank) exactly as calling ``golden.step`` once per
sample would, bit for bit (tests/models/test_taxonn_steps.py checks it on
random configurations), and returns the step's outputs. What it does not
repeat per step:

* input codes of every sample are quantized at once;
* the stochastic-rounding draws of a block of steps come from one call of the
  LFSR bank (its draws are data-independent, in the order `update_draws` takes
  them) and are cut per step and layer by reshaping;
* each requantization is a shift, a rounding bit and a clip with constants
  worked out once (the same round-to-nearest, ties up, and saturation as
  `quant.fixed.requantize`; no argument checks per call);
* the sigmoid is one lookup in a table of its value at every input code;
* dot products run on float64 BLAS when every partial sum is provably below
  2^53 (then float64 is exact; `TaxoNNConfig.min_acc_bits` bounds them), in
  int64 otherwise.

``golden.step`` stays the executable specification; this is the engine that
trainers and benchmarks use when they only need the trained parameters.
"""

import numpy as np

from quant.fixed import quantize, EXACT_FLOAT_BITS
from quant.rounding import RAND_BITS
from .taxonn import TaxoNNGolden, block_draws

__all__ = ["train_steps", "Arithmetic", "FLOAT_MIN_WEIGHTS"]

#: layers with at least this many weights take their dot products to float64 BLAS (when exact)
FLOAT_MIN_WEIGHTS = 4096
#: activation formats up to this width get their sigmoid as a table of every code
SIGMOID_TABLE_BITS = 16


def _clip(v, lo, hi):
    """Clip in place, NumPy array or torch tensor (``np.clip``'s per-call checks cost more than the clip on
    these small arrays)."""
    if isinstance(v, np.ndarray):
        np.maximum(v, lo, out=v)
        return np.minimum(v, hi, out=v)
    return v.clamp_(lo, hi)


def _requantizer(shift, fmt):
    """``v -> requantize(v, frac, fmt)`` with ``shift = frac - fmt.frac``: nearest, ties up, saturate.

    Nearest is ``(v + 2**(shift-1)) >> shift``, the same as quant's ``(v >> shift) + bit shift-1 of v``;
    it cannot overflow, every value here being below 2**62 (`TaxoNNConfig` bounds the accumulators).
    """
    lo, hi = fmt.min_code, fmt.max_code
    if shift > 0:
        s, half = shift, 1 << (shift - 1)

        def rq(v):
            v = v + half
            v >>= s
            return _clip(v, lo, hi)
        return rq
    n = min(-shift, fmt.total + 1)
    bound = 1 << (max(fmt.total - n, 0) + 1)  # beyond it, moved up saturates either way (quant.fixed._move_up)

    def rq(v):
        v = _clip(v * 1, -bound, bound)
        v <<= n
        return _clip(v, lo, hi)
    return rq


def _rounder(shift, rounding):
    """``(v, rand) -> shift_round(v, shift, rounding, rand)`` for the learning-rate shifter, with ``rand``
    already masked to the bits it reads (`_rand_mask`). May reuse ``v``'s memory."""
    if shift <= 0:
        n = -shift
        low, high = -((1 << 63) >> n), ((1 << 63) - 1) >> n

        def up(v, rand):
            if v.numel() if hasattr(v, "numel") else v.size:
                if v.min() < low or v.max() > high:
                    raise ValueError(f"a gradient does not fit int64 shifted left by {n} bits")
            return v << min(n, 63)
        return up
    if rounding == "nearest":
        s, half = shift, 1 << (shift - 1)

        def nearest(v, rand):
            v = v + half
            v >>= s
            return v
        return nearest
    look = min(shift, RAND_BITS)
    s, start, mask = shift, shift - look, (1 << look) - 1

    def stochastic(v, rand):
        top = (v >> start) & mask if start else v & mask  # the dropped bits the draw is added to
        top += rand
        top >>= look
        v = v >> s
        v += top
        return v
    return stochastic


def _rand_mask(shift):
    """The bits of a draw the learning-rate shifter reads."""
    return (1 << min(shift, RAND_BITS)) - 1 if shift > 0 else 0


def _sigmoid(cfg):
    """The configuration's PWL sigmoid on activation codes: a table of its value at every code for formats of
    up to `SIGMOID_TABLE_BITS` bits, else the PWL itself."""
    sig, fmt = cfg.sigmoid, cfg.a_fmt
    if fmt.total > SIGMOID_TABLE_BITS:
        return sig
    table, lo = sig(np.arange(fmt.min_code, fmt.max_code + 1, dtype=np.int64)), fmt.min_code
    return lambda z: table[z - lo]


class Arithmetic:
    """Every requantization and the learning-rate shifter of one configuration, as functions of int64 codes
    (NumPy arrays or torch tensors) with their constants worked out once: what `train_steps` and the torch
    engine (`models.taxonn_torch`) compute with. Attribute names follow the golden model's step."""

    def __init__(self, cfg):
        wf, af, ef, gf = cfg.w_fmt.frac, cfg.a_fmt.frac, cfg.e_fmt.frac, cfg.g_fmt.frac
        self.cfg = cfg
        self.z = _requantizer(wf, cfg.a_fmt)               # W a + b: wf + af fractional bits
        self.err = _requantizer(af - ef, cfg.e_fmt)        # output error a_L - y: af
        self.e = _requantizer(wf, cfg.e_fmt)               # W^T d: wf + ef
        self.p = _requantizer(af, cfg.a_fmt)               # a (1 - a): 2 af
        self.d = _requantizer(af, cfg.e_fmt)               # e p: ef + af
        self.g = _requantizer(ef + af - gf, cfg.g_fmt)     # d a: ef + af
        self.gb = _requantizer(ef - gf, cfg.g_fmt)         # d: ef
        self.lr = _rounder(gf + cfg.lr_shift - wf, cfg.rounding)
        self.rand_mask = _rand_mask(gf + cfg.lr_shift - wf)
        self.w_lo, self.w_hi = cfg.w_fmt.min_code, cfg.w_fmt.max_code

    def update(self, w, g, rand):
        """``W - shift_round(g)`` saturated to the weight format."""
        return _clip(w - self.lr(g, rand), self.w_lo, self.w_hi)


def _float_layers(cfg):
    """Per layer: run its dot products on float64 BLAS? Only where exact (every partial sum below 2**53,
    bounded by the exact accumulator width) and large enough that BLAS beats int64 with the conversion
    (measured: int64 wins at 32 x 64, float64 at 100 x 784)."""
    exact = cfg.min_acc_bits < EXACT_FLOAT_BITS
    return [exact and n_in * n_out >= FLOAT_MIN_WEIGHTS for n_in, n_out in zip(cfg.layers[:-1], cfg.layers[1:])]


def train_steps(golden, x, labels, *, block=128):
    """Train ``golden`` on ``x`` (float, (N, n_0)) with ``labels`` (N,), one online-SGD step per sample.

    Returns ``(outputs, predictions)``: each step's output-layer codes (N, n_L)
    and argmax, as ``golden.step`` returns them. ``block`` steps share one
    call of the LFSR bank.
    """
    if not isinstance(golden, TaxoNNGolden):
        raise TypeError(f"`golden` must be a TaxoNNGolden, not {type(golden).__name__}")
    cfg = golden.cfg
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    if x.ndim != 2 or x.shape[1] != cfg.layers[0] or labels.shape != (len(x),):
        raise ValueError(f"expected inputs (N, {cfg.layers[0]}) and N labels, not {x.shape} and {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= cfg.layers[-1]):
        raise ValueError(f"labels must be in [0, {cfg.layers[-1]}), not {int(labels.min())}..{int(labels.max())}")
    af = cfg.a_fmt.frac
    L = cfg.n_layers
    use_float = _float_layers(cfg)
    ar = Arithmetic(cfg)
    rq_z, rq_err, rq_e, rq_p, rq_d, rq_g, rq_gb = ar.z, ar.err, ar.e, ar.p, ar.d, ar.g, ar.gb
    update, rand_mask = ar.update, ar.rand_mask
    kinds = [cfg.hidden_activation] * (L - 1) + [cfg.output]
    sigmoid = _sigmoid(cfg) if "sigmoid" in kinds else None
    one = 1 << af
    stochastic = cfg.rounding == "stochastic"

    params = [(w.copy(), b.copy()) for w, b in golden.params]
    a0_all = quantize(x, cfg.a_fmt)
    outputs = np.empty((len(x), cfg.layers[-1]), dtype=np.int64)
    for start in range(0, len(x), block):
        stop = min(start + block, len(x))
        draws = None
        if stochastic:
            draws, _ = block_draws(cfg, golden.bank, stop - start, mask=rand_mask)
        for i in range(start, stop):
            a = a0_all[i]
            a_in, zs, wfs = [a], [], []
            for l, (w, b) in enumerate(params):
                if use_float[l]:  # one conversion serves the forward and the backward product
                    wfs.append(w.astype(np.float64))
                    acc = (wfs[l] @ a.astype(np.float64)).astype(np.int64)
                else:
                    wfs.append(None)
                    acc = w @ a
                z = rq_z(acc + (b << af))
                kind = kinds[l]
                a = np.maximum(z, 0) if kind == "relu" else sigmoid(z) if kind == "sigmoid" else z
                zs.append(z)
                a_in.append(a)
            out = a
            outputs[i] = out
            err = out.copy()
            err[labels[i]] -= one
            d = rq_err(err)
            for l in reversed(range(L)):
                w, b = params[l]
                d_next = None
                if l > 0:
                    e = rq_e((wfs[l].T @ d.astype(np.float64)).astype(np.int64) if use_float[l] else w.T @ d)
                    if cfg.hidden_activation == "relu":
                        d_next = np.where(zs[l - 1] > 0, e, 0)
                    else:
                        act = a_in[l]
                        d_next = rq_d(e * rq_p(act * (one - act)))
                rand_w = draws[l][0][i - start] if stochastic else None
                rand_b = draws[l][1][i - start] if stochastic else None
                w_new = update(w, rq_g(np.multiply.outer(d, a_in[l])), rand_w)
                b_new = update(b, rq_gb(d), rand_b)
                params[l] = (w_new, b_new)
                d = d_next
    golden.params = params
    return outputs, outputs.argmax(axis=1)
