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

__all__ = ["train_steps", "StepKernel", "Arithmetic", "FLOAT_MIN_WEIGHTS"]

#: layers with at least this many weights take their dot products to float64 BLAS (when exact)
FLOAT_MIN_WEIGHTS = 4096
#: activation formats up to this width get their sigmoid as a table of every code
SIGMOID_TABLE_BITS = 16


try:  # the clip ufunc that np.clip calls after its per-call checks, which cost more than the clip here
    from numpy._core.umath import clip as _clip_ufunc
except ImportError:  # pragma: no cover (NumPy < 2)
    _clip_ufunc = None


def _clip(v, lo, hi):
    """Clip in place, NumPy array or torch tensor (Python int bounds)."""
    if isinstance(v, np.ndarray):
        if _clip_ufunc is not None:
            return _clip_ufunc(v, lo, hi, out=v)
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
    start = shift - look

    def stochastic(v, rand):
        # (v >> s) plus a carry out of (the `look` bits below them + rand): one add to v >> start does both
        if start:
            v = v >> start
        v += rand
        v >>= look
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
        self.lr = _rounder(gf + cfg.lr_shift - wf, cfg.rounding)
        self.rand_mask = _rand_mask(gf + cfg.lr_shift - wf)
        self.w_lo, self.w_hi = cfg.w_fmt.min_code, cfg.w_fmt.max_code

    def update(self, w, g, rand):
        """``W - shift_round(g)`` saturated to the weight format (may reuse ``g``'s memory)."""
        g = self.lr(g, rand)
        if isinstance(g, np.ndarray):
            g = np.subtract(w, g, out=g)
        else:
            g = w - g
        return _clip(g, self.w_lo, self.w_hi)


def _float_layers(cfg):
    """Per layer: run its dot products on float64 BLAS? Only where exact (every partial sum below 2**53,
    bounded by the exact accumulator width) and large enough that BLAS beats int64 with the conversion
    (measured: int64 wins at 32 x 64, float64 at 100 x 784)."""
    exact = cfg.min_acc_bits < EXACT_FLOAT_BITS
    return [exact and n_in * n_out >= FLOAT_MIN_WEIGHTS for n_in, n_out in zip(cfg.layers[:-1], cfg.layers[1:])]


class _NumPy:
    """The few operations the step kernel needs that NumPy and torch spell differently: NumPy."""
    name = "numpy"
    outer = staticmethod(np.multiply.outer)

    @staticmethod
    def array(v):
        return np.asarray(v, dtype=np.int64)

    @staticmethod
    def to_float(v):
        return v.astype(np.float64)

    @staticmethod
    def to_int(v):
        return v.astype(np.int64)

    @staticmethod
    def relu(z):
        return np.maximum(z, 0)

    @staticmethod
    def relu_into(z, out):
        np.maximum(z, 0, out=out)

    @staticmethod
    def where_positive(z, e):
        return np.where(z > 0, e, 0)

    @staticmethod
    def copy(v):
        return v.copy()

    @staticmethod
    def numpy(v):
        return v


class _Torch:
    """The same operations on torch tensors (int64 codes, float64 for the exact products)."""
    name = "torch"

    def __init__(self):
        import torch
        self.torch = torch
        self.outer = torch.outer

    def array(self, v):
        return self.torch.as_tensor(np.asarray(v, dtype=np.int64))

    def to_float(self, v):
        return v.to(self.torch.float64)

    def to_int(self, v):
        return v.to(self.torch.int64)

    @staticmethod
    def relu(z):
        return z.clamp(min=0)

    def relu_into(self, z, out):
        self.torch.clamp(z, min=0, out=out)

    def where_positive(self, z, e):
        return self.torch.where(z > 0, e, 0)

    @staticmethod
    def copy(v):
        return v.clone()

    @staticmethod
    def numpy(v):
        return v.numpy()


class StepKernel:
    """One online-SGD step of the TaxoNN arithmetic on int64 codes, NumPy arrays (``backend="numpy"``) or
    torch tensors (``"torch"``): `train_steps` runs it a block at a time, `models.taxonn_torch.TaxoNNTorch`
    one step at a time. The same values as ``TaxoNNGolden.step``, bit for bit.

    Layout: a layer's bias is its weight matrix's last column (`join`), and every layer input ends in the
    constant code 1.0, so ``W a + (b << af)`` is one product; the gradient bus's ``d a`` (ef + af fractional
    bits) in that column is ``d * 2**af``, which the g requantizer rounds and saturates exactly as the golden
    model's bias gradient ``requantize(d, ef, g_fmt)`` does ``d``: one update serves both, with the bias's draw last in the
    joined draws (`models.taxonn.block_draws` with ``joined=True``).
    """

    def __init__(self, cfg, backend="numpy"):
        self.cfg = cfg
        self.ops = _NumPy() if backend == "numpy" else _Torch() if backend == "torch" else None
        if self.ops is None:
            raise ValueError(f"`backend` must be numpy or torch, not {backend!r}")
        self.ar = Arithmetic(cfg)
        self.use_float = _float_layers(cfg)
        self.one = 1 << cfg.a_fmt.frac
        L = cfg.n_layers
        self.kinds = [cfg.hidden_activation] * (L - 1) + [cfg.output]
        sigmoid = None
        if "sigmoid" in self.kinds:
            sigmoid = _sigmoid(cfg)
            if self.ops.name == "torch":  # the table (or the PWL) on NumPy codes, back to a tensor
                base = sigmoid
                sigmoid = lambda z: self.ops.array(base(z.numpy()))  # noqa: E731
        self.sigmoid = sigmoid
        # each hidden layer's output, with the constant 1.0 after it: the next layer's input
        self.inputs = [None] + [self.ops.array(np.full(n + 1, self.one)) for n in cfg.layers[1:-1]]

    def join(self, params):
        """``[(W, b)]`` (NumPy codes) -> the kernel's ``[W | b]`` arrays."""
        return [self.ops.array(np.concatenate([w, np.asarray(b)[:, None]], axis=1)) for w, b in params]

    def split(self, joined):
        """The kernel's arrays -> ``[(W, b)]`` as NumPy int64 codes."""
        return [(self.ops.numpy(w[:, :-1]).copy(), self.ops.numpy(w[:, -1]).copy()) for w in joined]

    def input_codes(self, x):
        """Float inputs ``(N, n_0)`` -> their activation codes with the constant 1.0 after them, ``(N, n_0 + 1)``."""
        x = np.asarray(x, dtype=np.float64)
        a0 = np.empty((len(x), x.shape[1] + 1), dtype=np.int64)
        a0[:, :-1] = quantize(x, self.cfg.a_fmt)
        a0[:, -1] = self.one
        return self.ops.array(a0)

    def forward(self, params, a0):
        """The forward pass from input codes ``a0`` (with the 1.0): the output codes, leaving each hidden
        layer's output in `inputs` and returning the pre-activations and float copies `step` reuses."""
        ops, rq_z, kinds, L = self.ops, self.ar.z, self.kinds, len(params)
        a = self.inputs[0] = a0
        zs, wfs = [], []
        for l, w in enumerate(params):
            if self.use_float[l]:  # one conversion serves the forward and the backward product
                wfs.append(ops.to_float(w))
                z = rq_z(ops.to_int(wfs[l] @ ops.to_float(a)))
            else:
                wfs.append(None)
                z = rq_z(w @ a)
            zs.append(z)
            if l == L - 1:
                a = ops.relu(z) if kinds[l] == "relu" else self.sigmoid(z) if kinds[l] == "sigmoid" else z
            else:
                a = self.inputs[l + 1]
                if kinds[l] == "relu":
                    ops.relu_into(z, a[:-1])
                else:
                    a[:-1] = self.sigmoid(z)
        return a, zs, wfs

    def step(self, params, a0, label, rands=None):
        """One training step: updates ``params`` (the list, in place) and returns the output codes before
        the update. ``rands``: per layer the step's joined update draws (stochastic rounding)."""
        ops, ar, cfg, one = self.ops, self.ar, self.cfg, self.one
        out, zs, wfs = self.forward(params, a0)
        err = ops.copy(out)
        err[label] -= one
        d = ar.err(err)
        for l in reversed(range(len(params))):
            w = params[l]
            d_next = None
            if l > 0:
                n_in = cfg.layers[l]
                e = ar.e(ops.to_int(wfs[l][:, :n_in].T @ ops.to_float(d)) if self.use_float[l]
                         else w[:, :n_in].T @ d)
                if cfg.hidden_activation == "relu":
                    d_next = ops.where_positive(zs[l - 1], e)
                else:
                    act = self.inputs[l][:-1]
                    d_next = ar.d(e * ar.p(act * (one - act)))
            params[l] = ar.update(w, ar.g(ops.outer(d, self.inputs[l])), None if rands is None else rands[l])
            d = d_next
        return out


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
    kernel = StepKernel(cfg)
    params = kernel.join(golden.params)
    a0 = kernel.input_codes(x)
    outputs = np.empty((len(x), cfg.layers[-1]), dtype=np.int64)
    stochastic = cfg.rounding == "stochastic"
    L = cfg.n_layers
    for start in range(0, len(x), block):
        stop = min(start + block, len(x))
        rands = None
        if stochastic:
            rands, _ = block_draws(cfg, golden.bank, stop - start, mask=kernel.ar.rand_mask, joined=True)
        for i in range(start, stop):
            outputs[i] = kernel.step(params, a0[i], labels[i],
                                     [rands[l][i - start] for l in range(L)] if stochastic else None)
    golden.params = kernel.split(params)
    return outputs, outputs.argmax(axis=1)
