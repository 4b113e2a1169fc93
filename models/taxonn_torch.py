"""TaxoNN training in torch: the fake-quantized trainer (bit-identical to the golden model)
and the float reference trainer.

`TaxoNNTorch` runs autograd over float64 tensors whose values sit exactly on
the fixed-point grids; custom autograd functions apply the TaxoNN arithmetic
in both directions through the same quant/ functions the golden model uses
(on torch tensors): the forward requantization and activation, the quantized
output error, the quantized back-propagated error and derivative, and an
optimizer whose update is the gradient bus plus the learning-rate shifter.
float64 holds every intermediate exactly while accumulators are at most 53
bits wide, which the constructor checks; under that condition its weights
equal the golden model's bit for bit (tests/models/test_taxonn.py).

`FloatMLP` is the full-precision reference: same initial weights (the
dequantized codes), same sample order, plain SGD with eta = 2^-k, exact sigmoid.
"""

import numpy as np
import torch

from quant import LFSRBank, requantize, shift_round, quantize
from .taxonn import TaxoNNConfig, init_params, update_draws

__all__ = ["TaxoNNTorch", "FloatMLP"]

_FLOAT_EXACT_BITS = 53


def _codes(values, frac):
    """Exact float64 values on a 2**-frac grid -> int64 codes."""
    return torch.round(values * float(2 ** frac)).to(torch.int64)


def _values(codes, frac):
    return codes.to(torch.float64) * (2.0 ** -frac)


class _QuantLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, w, b, cfg):
        wf, af = cfg.w_fmt.frac, cfg.a_fmt.frac
        acc = a @ w.T + b
        z = _values(requantize(_codes(acc, wf + af), wf + af, cfg.a_fmt), af)
        ctx.save_for_backward(a, w)
        ctx.cfg = cfg
        return z

    @staticmethod
    def backward(ctx, d):
        a, w = ctx.saved_tensors
        cfg = ctx.cfg
        wf, ef = cfg.w_fmt.frac, cfg.e_fmt.frac
        grad_a = None
        if ctx.needs_input_grad[0]:
            e = d @ w
            grad_a = _values(requantize(_codes(e, wf + ef), wf + ef, cfg.e_fmt), ef)
        return grad_a, d.T @ a, d.sum(0), None


class _Activation(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, kind, is_output, cfg):
        af = cfg.a_fmt.frac
        if kind == "relu":
            a = z.clamp(min=0)
        elif kind == "sigmoid":
            a = _values(cfg.sigmoid(_codes(z, af)), af)
        else:
            a = z
        ctx.save_for_backward(z, a)
        ctx.kind, ctx.is_output, ctx.cfg = kind, is_output, cfg
        return a

    @staticmethod
    def backward(ctx, e):
        z, a = ctx.saved_tensors
        if ctx.is_output:  # the output error is already d_L, the gradient at z_L
            return e, None, None, None
        cfg = ctx.cfg
        af, ef = cfg.a_fmt.frac, cfg.e_fmt.frac
        if ctx.kind == "relu":
            return torch.where(z > 0, e, torch.zeros_like(e)), None, None, None
        a_codes = _codes(a, af)
        p = requantize(a_codes * ((1 << af) - a_codes), 2 * af, cfg.a_fmt)
        d = requantize(_codes(e, ef) * p, ef + af, cfg.e_fmt)
        return _values(d, ef), None, None, None


class _OutputError(torch.autograd.Function):
    """Loss whose gradient at the output is the quantized TaxoNN error ``a_L - y``."""

    @staticmethod
    def forward(ctx, out, target, cfg):
        ctx.save_for_backward(out, target)
        ctx.cfg = cfg
        return 0.5 * ((out - target) ** 2).sum()

    @staticmethod
    def backward(ctx, grad):
        out, target = ctx.saved_tensors
        cfg = ctx.cfg
        af, ef = cfg.a_fmt.frac, cfg.e_fmt.frac
        d = requantize(_codes(out - target, af), af, cfg.e_fmt)
        return _values(d, ef), None, None


class TaxoNNTorch(torch.nn.Module):
    """The TaxoNN MLP in torch with fake quantization; ``step`` is one online-SGD step."""

    def __init__(self, cfg, params=None):
        super().__init__()
        if not isinstance(cfg, TaxoNNConfig):
            raise TypeError(f"`cfg` must be a TaxoNNConfig, not {cfg!r}")
        widest = max(cfg.accumulator_bits, cfg.e_fmt.total + cfg.a_fmt.total)
        if widest > _FLOAT_EXACT_BITS:
            raise ValueError(f"the torch path is exact only with accumulators of at most "
                             f"{_FLOAT_EXACT_BITS} bits; these formats need {widest}")
        self.cfg = cfg
        wf = cfg.w_fmt.frac
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for w, b in (params or init_params(cfg)):
            self.weights.append(torch.nn.Parameter(_values(torch.as_tensor(w), wf)))
            self.biases.append(torch.nn.Parameter(_values(torch.as_tensor(b), wf)))
        self.bank = LFSRBank(cfg.lfsr_seed, cfg.pes + 1)

    def forward(self, x):
        cfg = self.cfg
        a = _values(quantize(torch.as_tensor(x, dtype=torch.float64), cfg.a_fmt), cfg.a_fmt.frac)
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            last = l == cfg.n_layers - 1
            z = _QuantLinear.apply(a, w, b, cfg)
            a = _Activation.apply(z, cfg.output if last else cfg.hidden_activation, last, cfg)
        return a

    def step(self, x, label):
        """One online-SGD step; returns the output codes before the update."""
        cfg = self.cfg
        out = self.forward(torch.as_tensor(x, dtype=torch.float64).reshape(1, -1))
        target = torch.zeros_like(out)
        target[0, int(label)] = 1.0
        self.zero_grad(set_to_none=True)
        _OutputError.apply(out, target, cfg).backward()
        self._apply_update()
        return _codes(out.detach()[0], cfg.a_fmt.frac)

    @torch.no_grad()
    def _apply_update(self):
        cfg = self.cfg
        wf, af, ef, gf = cfg.w_fmt.frac, cfg.a_fmt.frac, cfg.e_fmt.frac, cfg.g_fmt.frac
        draws = update_draws(cfg, self.bank) if cfg.rounding == "stochastic" else {}
        shift = gf + cfg.lr_shift - wf
        lo, hi = cfg.w_fmt.min_code, cfg.w_fmt.max_code
        for l in reversed(range(cfg.n_layers)):
            rand_w, rand_b = (torch.as_tensor(r) for r in draws[l]) if l in draws else (None, None)
            for param, frac, rand in ((self.weights[l], ef + af, rand_w), (self.biases[l], ef, rand_b)):
                g = requantize(_codes(param.grad, frac), frac, cfg.g_fmt)
                new = _codes(param, wf) - shift_round(g, shift, cfg.rounding, rand)
                param.copy_(_values(new.clamp(lo, hi), wf))

    def codes(self):
        """``[(W, b)]`` as int64 NumPy code arrays, the golden model's layout."""
        wf = self.cfg.w_fmt.frac
        return [(_codes(w.detach(), wf).numpy(), _codes(b.detach(), wf).numpy())
                for w, b in zip(self.weights, self.biases)]


class FloatMLP(torch.nn.Module):
    """Full-precision reference: the same network and initial weights, float SGD."""

    def __init__(self, cfg, params=None, dtype=torch.float32):
        super().__init__()
        self.cfg = cfg
        self.dtype = dtype
        wf = cfg.w_fmt.frac
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for w, b in (params or init_params(cfg)):
            self.weights.append(torch.nn.Parameter(torch.as_tensor(w * 2.0 ** -wf, dtype=dtype)))
            self.biases.append(torch.nn.Parameter(torch.as_tensor(b * 2.0 ** -wf, dtype=dtype)))

    def logits(self, x):
        a = torch.as_tensor(x, dtype=self.dtype)
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ w.T + b
            if l < self.cfg.n_layers - 1:
                a = torch.relu(z) if self.cfg.hidden_activation == "relu" else torch.sigmoid(z)
            else:
                return z

    def forward(self, x):
        z = self.logits(x)
        return torch.sigmoid(z) if self.cfg.output == "sigmoid" else z

    def step(self, x, label):
        z = self.logits(np.asarray(x).reshape(1, -1))
        target = torch.zeros_like(z)
        target[0, int(label)] = 1.0
        if self.cfg.output == "sigmoid":  # cross-entropy: gradient sigmoid(z) - y at z
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, target, reduction="sum")
        else:  # squared error: gradient z - y
            loss = 0.5 * ((z - target) ** 2).sum()
        self.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            for p in list(self.weights) + list(self.biases):
                p -= self.cfg.eta * p.grad
        return z.detach()[0]

    @torch.no_grad()
    def accuracy(self, x, y):
        return float((self.logits(x).argmax(-1).numpy() == y).mean())

    def float_params(self):
        out = {}
        for l, (w, b) in enumerate(zip(self.weights, self.biases), 1):
            out[f"W{l}"] = w.detach().double().numpy()
            out[f"b{l}"] = b.detach().double().numpy()
        return out
