"""TaxoNN training in torch: the bit-exact trainer and the float reference trainer.

`TaxoNNTorch` runs the TaxoNN arithmetic on torch tensors of int64 codes: the
step kernel the NumPy block engine runs (`models.taxonn_steps.StepKernel`:
forward pass, quantized output error, back-propagated errors and derivatives,
gradient bus and learning-rate shifter, each requantization with its constants
worked out once), written out as the hardware computes it rather than through
autograd, so every value equals the golden model's bit for bit at any width the
configuration allows (products go to float64 only where a bound proves them
exact; tests/models/test_taxonn.py). Stochastic-rounding draws come a block of
steps at a time (`models.taxonn.block_draws`), the bank's state kept where
drawing step by step would leave it.

`FloatMLP` is the full-precision reference: same initial weights (the
dequantized codes), same sample order, plain SGD with eta = 2^-k, exact sigmoid.
"""

import numpy as np
import torch

from quant import LFSRBank
from .taxonn import TaxoNNConfig, init_params, block_draws
from .taxonn_steps import StepKernel

__all__ = ["TaxoNNTorch", "FloatMLP"]

#: training steps whose stochastic-rounding draws are drawn at once
BLOCK = 256


class TaxoNNTorch:
    """The TaxoNN MLP on torch tensors of int64 codes; ``step`` is one online-SGD step. ``params`` holds
    each layer's ``[W | b]`` codes (`StepKernel.join`); `codes` gives them in the golden model's layout."""

    def __init__(self, cfg, params=None):
        if not isinstance(cfg, TaxoNNConfig):
            raise TypeError(f"`cfg` must be a TaxoNNConfig, not {cfg!r}")
        self.cfg = cfg
        self._kernel = StepKernel(cfg, "torch")
        self.params = self._kernel.join(params or init_params(cfg))
        self.bank = LFSRBank(cfg.lfsr_seed, cfg.pes + 1)
        self._ahead = None  # update draws of the next steps, drawn a block at a time (`_draws`)

    def _draws(self):
        """This step's joined update draws per layer, from a block drawn ahead by `block_draws`; the bank's
        state is set to where drawing step by step would have left it, so it can be saved and restored."""
        ahead = self._ahead
        if ahead is None or ahead["next"] == BLOCK or not np.array_equal(self.bank.state, ahead["state"]):
            draws, ends = block_draws(self.cfg, self.bank, BLOCK, mask=self._kernel.ar.rand_mask, joined=True)
            ahead = self._ahead = {"draws": [torch.as_tensor(draws[l]) for l in range(self.cfg.n_layers)],
                                   "ends": ends, "next": 0}
        i = ahead["next"]
        self.bank.state = ahead["ends"][i].copy()
        ahead.update(next=i + 1, state=self.bank.state)
        return [d[i] for d in ahead["draws"]]

    def step(self, x, label):
        """One online-SGD step; returns the output codes before the update (an int64 tensor)."""
        a0 = self._kernel.input_codes(np.asarray(x, dtype=np.float64).reshape(1, -1))[0]
        rands = self._draws() if self.cfg.rounding == "stochastic" else None
        return self._kernel.step(self.params, a0, int(label), rands)

    def codes(self):
        """``[(W, b)]`` as int64 NumPy code arrays, the golden model's layout."""
        return self._kernel.split(self.params)


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
