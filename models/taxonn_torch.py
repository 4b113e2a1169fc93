"""TaxoNN training in torch: the fake-quantized trainer (bit-identical to the golden model)
and the float reference trainer.

`TaxoNNTorch` runs autograd over float64 tensors whose values sit exactly on
the fixed-point grids; custom autograd functions apply the TaxoNN arithmetic
in both directions (`models.taxonn_steps.Arithmetic`, the golden model's
requantizations and learning-rate shifter with their constants worked out
once, on torch tensors): the forward requantization and activation, the
quantized output error, the quantized back-propagated error and derivative,
and an optimizer whose update is the gradient bus plus the learning-rate
shifter. Stochastic-rounding draws come a block of steps at a time
(`models.taxonn.block_draws`), the bank's state kept where drawing step by
step would leave it.
float64 holds every intermediate exactly while accumulators are at most 53
bits wide, which the constructor checks; under that condition its weights
equal the golden model's bit for bit (tests/models/test_taxonn.py).

`FloatMLP` is the full-precision reference: same initial weights (the
dequantized codes), same sample order, plain SGD with eta = 2^-k, exact sigmoid.
"""

import numpy as np
import torch

from quant import LFSRBank, quantize, EXACT_FLOAT_BITS
from .taxonn import TaxoNNConfig, init_params, block_draws
from .taxonn_steps import Arithmetic

__all__ = ["TaxoNNTorch", "FloatMLP"]

#: training steps whose stochastic-rounding draws are drawn at once
BLOCK = 256


def _codes(values, frac):
    """Exact float64 values on a 2**-frac grid -> int64 codes."""
    return torch.round(values * float(2 ** frac)).to(torch.int64)


def _values(codes, frac):
    return codes.to(torch.float64) * (2.0 ** -frac)


class _QuantLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, w, b, ar):
        cfg = ar.cfg
        wf, af = cfg.w_fmt.frac, cfg.a_fmt.frac
        acc = a @ w.T + b
        z = _values(ar.z(_codes(acc, wf + af)), af)
        ctx.save_for_backward(a, w)
        ctx.ar = ar
        return z

    @staticmethod
    def backward(ctx, d):
        a, w = ctx.saved_tensors
        cfg = ctx.ar.cfg
        wf, ef = cfg.w_fmt.frac, cfg.e_fmt.frac
        grad_a = None
        if ctx.needs_input_grad[0]:
            e = d @ w
            grad_a = _values(ctx.ar.e(_codes(e, wf + ef)), ef)
        return grad_a, d.T @ a, d.sum(0), None


class _Activation(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, kind, is_output, ar):
        af = ar.cfg.a_fmt.frac
        if kind == "relu":
            a = z.clamp(min=0)
        elif kind == "sigmoid":
            a = _values(ar.cfg.sigmoid(_codes(z, af)), af)
        else:
            a = z
        ctx.save_for_backward(z, a)
        ctx.kind, ctx.is_output, ctx.ar = kind, is_output, ar
        return a

    @staticmethod
    def backward(ctx, e):
        z, a = ctx.saved_tensors
        if ctx.is_output:  # the output error is already d_L, the gradient at z_L
            return e, None, None, None
        ar = ctx.ar
        af, ef = ar.cfg.a_fmt.frac, ar.cfg.e_fmt.frac
        if ctx.kind == "relu":
            return torch.where(z > 0, e, torch.zeros_like(e)), None, None, None
        a_codes = _codes(a, af)
        d = ar.d(_codes(e, ef) * ar.p(a_codes * ((1 << af) - a_codes)))
        return _values(d, ef), None, None, None


class _OutputError(torch.autograd.Function):
    """Loss whose gradient at the output is the quantized TaxoNN error ``a_L - y``."""

    @staticmethod
    def forward(ctx, out, target, ar):
        ctx.save_for_backward(out, target)
        ctx.ar = ar
        return 0.5 * ((out - target) ** 2).sum()

    @staticmethod
    def backward(ctx, grad):
        out, target = ctx.saved_tensors
        af, ef = ctx.ar.cfg.a_fmt.frac, ctx.ar.cfg.e_fmt.frac
        return _values(ctx.ar.err(_codes(out - target, af)), ef), None, None


class TaxoNNTorch(torch.nn.Module):
    """The TaxoNN MLP in torch with fake quantization; ``step`` is one online-SGD step."""

    def __init__(self, cfg, params=None):
        super().__init__()
        if not isinstance(cfg, TaxoNNConfig):
            raise TypeError(f"`cfg` must be a TaxoNNConfig, not {cfg!r}")
        widest = max(cfg.accumulator_bits, cfg.e_fmt.total + cfg.a_fmt.total)
        if widest > EXACT_FLOAT_BITS:
            raise ValueError(f"the torch path is exact only with accumulators of at most "
                             f"{EXACT_FLOAT_BITS} bits; these formats need {widest}")
        self.cfg = cfg
        wf = cfg.w_fmt.frac
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for w, b in (params or init_params(cfg)):
            self.weights.append(torch.nn.Parameter(_values(torch.as_tensor(w), wf)))
            self.biases.append(torch.nn.Parameter(_values(torch.as_tensor(b), wf)))
        self.bank = LFSRBank(cfg.lfsr_seed, cfg.pes + 1)
        self._ar = Arithmetic(cfg)
        self._ahead = None  # update draws of the next steps, drawn a block at a time (`_draws`)

    def _draws(self):
        """This step's update draws (`update_draws`), from a block drawn ahead by `block_draws`; the bank's
        state is set to where drawing step by step would have left it, so it can be saved and restored."""
        ahead = self._ahead
        if ahead is None or ahead["next"] == BLOCK or not np.array_equal(self.bank.state, ahead["state"]):
            draws, ends = block_draws(self.cfg, self.bank, BLOCK, mask=self._ar.rand_mask)
            ahead = self._ahead = {"draws": {l: (torch.as_tensor(w), torch.as_tensor(b))
                                             for l, (w, b) in draws.items()}, "ends": ends, "next": 0}
        i = ahead["next"]
        self.bank.state = ahead["ends"][i].copy()
        ahead.update(next=i + 1, state=self.bank.state)
        return {l: (w[i], b[i]) for l, (w, b) in ahead["draws"].items()}

    def forward(self, x):
        cfg = self.cfg
        a = _values(quantize(torch.as_tensor(x, dtype=torch.float64), cfg.a_fmt), cfg.a_fmt.frac)
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            last = l == cfg.n_layers - 1
            z = _QuantLinear.apply(a, w, b, self._ar)
            a = _Activation.apply(z, cfg.output if last else cfg.hidden_activation, last, self._ar)
        return a

    def step(self, x, label):
        """One online-SGD step; returns the output codes before the update."""
        cfg = self.cfg
        out = self.forward(torch.as_tensor(x, dtype=torch.float64).reshape(1, -1))
        target = torch.zeros_like(out)
        target[0, int(label)] = 1.0
        self.zero_grad(set_to_none=True)
        _OutputError.apply(out, target, self._ar).backward()
        self._apply_update()
        return _codes(out.detach()[0], cfg.a_fmt.frac)

    @torch.no_grad()
    def _apply_update(self):
        cfg, ar = self.cfg, self._ar
        wf, af, ef = cfg.w_fmt.frac, cfg.a_fmt.frac, cfg.e_fmt.frac
        draws = self._draws() if cfg.rounding == "stochastic" else {}
        for l in reversed(range(cfg.n_layers)):
            rand_w, rand_b = draws.get(l, (None, None))
            for param, frac, rq, rand in ((self.weights[l], ef + af, ar.g, rand_w),
                                          (self.biases[l], ef, ar.gb, rand_b)):
                param.copy_(_values(ar.update(_codes(param, wf), rq(_codes(param.grad, frac)), rand), wf))

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
