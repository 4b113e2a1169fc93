"""BT-LSTM in torch: binary/ternary-weight LSTM with batch normalization (after the authors' code).

`BTLSTM` is one LSTM layer whose input-to-hidden matrix ``Wx`` (4H x I) and
hidden-to-hidden matrix ``Wh`` (4H x H) are quantized in the forward pass
(`quant.ste.quantize_weights`: ``W0 * code`` with a straight-through gradient
to full-precision shadow weights) and whose gate inputs are batch-normalized:

    pre_t = BN_x(Wx x_t) + BN_h(Wh h_{t-1})      (gate order i, f, g, o)
    i, f, o = sigmoid(pre_t);  g = tanh(pre_t)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(BN_c(c_t))

BN gains start at 0.1; ``BN_x``'s shift is the gate bias (forget gate 1),
``BN_h`` has no shift, ``BN_c`` has one. BN parameters, the initial state
``h0, c0`` and the output layer are full precision.

Statistics: one set per batch norm, shared by every time step (so each folds
into one per-unit affine for the hardware), updated once per forward pass from
the statistics over batch and time of that pass. In training, ``BN_x``
normalizes with the batch statistics over batch and time (``Wx x`` is computed
for the whole sequence at once). ``BN_h`` and ``BN_c`` (``recurrent_bn``):

* ``"batch"``: each step's own batch statistics in training (recurrent batch
  norm, Cooijmans et al.); fast to train, and right where the steps are alike
  (character models with carried state: eval-mode BPC with the shared
  statistics 2.80 against 2.83 in train mode after 150 batches of PTB, where
  ``"running"`` stood at 4.0 and no batch norm at 3.7);
* ``"running"``: the running statistics in training too, so training and
  inference normalize alike; needed where the first steps differ from the
  rest (row-MNIST: blank top rows give every sample the same h; with
  ``"batch"``, 100 batches left 39% validation accuracy in eval mode against
  57% in train mode, and switching to running statistics late in training
  made a character model's loss jump from 2.75 to 4.1 bits).

Weights: ``fp`` (no quantization, Glorot init), ``binary`` or ``ternary``
(shadow weights start uniform in [-W0, W0] and are clipped to that range after
each optimizer step, `clip_shadow_weights`). Training quantizes stochastically
unless ``stochastic=False``; evaluation and export always use the
deterministic quantizer (binary: sign; ternary: sign where |w| > W0/2).

`fold` turns a trained model into the export contract of `models.lstm`
(`LSTMWeights`): codes plus per-unit float scales and offsets. ``fp`` models
export as ``fixed12``: 12-bit codes with one step per matrix.
"""

import numpy as np
import torch
from torch import nn

from quant.ste import quantize_weights
from quant.weights import w0_scale, binarize, ternarize
from .lstm import LSTMWeights, FIXED12_MAX

__all__ = ["SeqBatchNorm", "BTLSTM", "LSTMNet", "WEIGHTS", "RECURRENT_BN", "fold"]

WEIGHTS = ("fp", "binary", "ternary")
RECURRENT_BN = ("running", "batch")


class SeqBatchNorm(nn.Module):
    """Batch normalization over every axis but the last, one set of statistics for every time step.

    ``recurrent=False`` (``BN_x``): in training each call normalizes with its
    own batch statistics (over batch and time when given the whole sequence).
    ``recurrent=True`` (``BN_h``, ``BN_c``): normalizes with the running
    statistics in training too. Either way, calls given a list append their
    statistics to it, and `update` moves the running statistics once by the
    statistics of everything collected (over batch and time).
    """

    def __init__(self, n, gain=0.1, shift=True, momentum=0.1, eps=1e-5, recurrent=False):
        super().__init__()
        self.n, self.momentum, self.eps, self.recurrent = n, momentum, eps, recurrent
        self.weight = nn.Parameter(torch.full((n,), float(gain)))
        self.bias = nn.Parameter(torch.zeros(n)) if shift else None
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def forward(self, y, stats=None):
        if self.training:
            flat = y.reshape(-1, self.n)
            mean, var = flat.mean(0), flat.var(0, unbiased=False)
            if stats is not None:
                stats.append((mean.detach(), (var + mean * mean).detach(), flat.shape[0]))
        if not self.training or self.recurrent:
            mean, var = self.running_mean, self.running_var
        out = (y - mean) * (self.weight / torch.sqrt(var + self.eps))
        return out + self.bias if self.bias is not None else out

    @torch.no_grad()
    def update(self, stats):
        if not stats:
            return
        count = sum(n for _, _, n in stats)
        mean = sum(m * n for m, _, n in stats) / count
        var = (sum(sq * n for _, sq, n in stats) / count - mean * mean).clamp_min(0) * count / max(count - 1, 1)
        self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
        self.running_var.mul_(1 - self.momentum).add_(self.momentum * var)

    def affine(self):
        """``(scale, offset)`` of the eval-mode normalization, float64 NumPy."""
        std = torch.sqrt(self.running_var.double() + self.eps)
        scale = self.weight.detach().double() / std
        offset = -self.running_mean.double() * scale
        if self.bias is not None:
            offset = offset + self.bias.detach().double()
        return scale.numpy(), offset.numpy()


class BTLSTM(nn.Module):
    """One binary/ternary/fp LSTM layer with batch normalization (module docstring).

    ``forward(x, state=None)`` takes ``(B, T, I)`` (``(T, B, I)`` unless
    ``batch_first``) and returns the hidden states of every step and the
    final ``(h, c)``. ``batch_norm=False`` replaces the batch norms by a plain
    gate bias: the cell of `torch.nn.LSTM` (tested against it).
    """

    def __init__(self, input_size, hidden_size, weights="ternary", *, stochastic=True, batch_first=True,
                 batch_norm=True, recurrent_bn="running", seed=0):
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, not {value!r}")
        if weights not in WEIGHTS:
            raise ValueError(f"`weights` must be one of {', '.join(WEIGHTS)}, not {weights!r}")
        if recurrent_bn not in RECURRENT_BN:
            raise ValueError(f"`recurrent_bn` must be one of {', '.join(RECURRENT_BN)}, not {recurrent_bn!r}")
        self.input_size, self.hidden_size, self.mode = input_size, hidden_size, weights
        self.stochastic, self.batch_first, self.batch_norm = bool(stochastic), batch_first, batch_norm
        H = hidden_size
        self.w0x, self.w0h = w0_scale(input_size, H), w0_scale(H, H)
        gen = torch.Generator().manual_seed(seed)
        # fp: Glorot uniform (bound 2 W0); binary/ternary: uniform in [-W0, W0]
        bx, bh = (2 * self.w0x, 2 * self.w0h) if weights == "fp" else (self.w0x, self.w0h)
        self.wx = nn.Parameter((torch.rand(4 * H, input_size, generator=gen) * 2 - 1) * bx)
        self.wh = nn.Parameter((torch.rand(4 * H, H, generator=gen) * 2 - 1) * bh)
        if batch_norm:
            self.bn_x = SeqBatchNorm(4 * H, shift=True)
            running = recurrent_bn == "running"
            self.bn_h = SeqBatchNorm(4 * H, shift=False, recurrent=running)
            self.bn_c = SeqBatchNorm(H, shift=True, recurrent=running)
            with torch.no_grad():
                self.bn_x.bias[H:2 * H] = 1.0
        else:
            self.bias = nn.Parameter(torch.zeros(4 * H))
            with torch.no_grad():
                self.bias[H:2 * H] = 1.0
        self.h0 = nn.Parameter(torch.zeros(H))
        self.c0 = nn.Parameter(torch.zeros(H))
        self.quant_gen = torch.Generator().manual_seed(seed + 1)

    def effective_weights(self):
        """``(Wx, Wh)`` as used by the forward pass: quantized (STE) unless fp."""
        if self.mode == "fp":
            return self.wx, self.wh
        stochastic = self.stochastic and self.training
        return (quantize_weights(self.wx, self.mode, self.w0x, stochastic=stochastic, generator=self.quant_gen),
                quantize_weights(self.wh, self.mode, self.w0h, stochastic=stochastic, generator=self.quant_gen))

    @torch.no_grad()
    def clip_shadow_weights(self):
        if self.mode != "fp":
            self.wx.clamp_(-self.w0x, self.w0x)
            self.wh.clamp_(-self.w0h, self.w0h)

    def codes(self):
        """Deterministic weight codes ``(cx, cy)`` (int64 NumPy) of a binary/ternary model."""
        if self.mode == "fp":
            raise ValueError("an fp model has no binary/ternary codes; see `fold` for its 12-bit export")
        q = binarize if self.mode == "binary" else ternarize
        return (q(self.wx.detach().double().numpy(), self.w0x), q(self.wh.detach().double().numpy(), self.w0h))

    def forward(self, x, state=None):
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"input must be 3-D with {self.input_size} features last, not shape {tuple(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)
        B, T, _ = x.shape
        H = self.hidden_size
        wx, wh = self.effective_weights()
        wx, wh = wx.to(x.dtype), wh.to(x.dtype)
        sx, sh, sc = [], [], []
        gx = x @ wx.t()
        gx = self.bn_x(gx, sx) if self.batch_norm else gx + self.bias
        if state is None:
            h, c = self.h0.expand(B, H), self.c0.expand(B, H)
        else:
            h, c = state
        outs = []
        for t in range(T):
            gh = h @ wh.t()
            pre = gx[:, t] + (self.bn_h(gh, sh) if self.batch_norm else gh)
            i, f, g, o = pre.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(self.bn_c(c, sc) if self.batch_norm else c)
            outs.append(h)
        if self.training and self.batch_norm:
            self.bn_x.update(sx)
            self.bn_h.update(sh)
            self.bn_c.update(sc)
        out = torch.stack(outs, dim=1)
        return (out if self.batch_first else out.transpose(0, 1)), (h, c)


class LSTMNet(nn.Module):
    """A `BTLSTM` and a full-precision output layer.

    ``per_step=False`` (classification): logits from the last hidden state.
    ``per_step=True`` (character model): logits at every step.
    """

    def __init__(self, input_size, hidden_size, classes, weights="ternary", *, stochastic=True, per_step=False,
                 recurrent_bn="running", seed=0):
        super().__init__()
        self.lstm = BTLSTM(input_size, hidden_size, weights, stochastic=stochastic, recurrent_bn=recurrent_bn,
                           seed=seed)
        torch.manual_seed(seed + 2)
        self.head = nn.Linear(hidden_size, classes)
        self.per_step = per_step

    def forward(self, x, state=None):
        out, state = self.lstm(x, state)
        return self.head(out if self.per_step else out[:, -1]), state


def fold(net):
    """The export contract (`models.lstm.LSTMWeights`) of a trained `LSTMNet` in eval mode.

    With ``W = a * code`` (``a = W0``, or the 12-bit step for fp) and each
    batch norm's eval-mode affine ``y -> s*y + o``:
    ``sx = s_x * a_x``, ``sh = s_h * a_h``, ``b = o_x + o_h``, ``sc = s_c``, ``bc = o_c``.
    """
    lstm = net.lstm
    if not lstm.batch_norm:
        raise ValueError("fold needs a batch-normalized BTLSTM")
    if lstm.mode == "fp":
        mode = "fixed12"
        wx, wh = (w.detach().double().numpy() for w in (lstm.wx, lstm.wh))
        ax = max(float(np.abs(wx).max()), 1e-30) / FIXED12_MAX
        ah = max(float(np.abs(wh).max()), 1e-30) / FIXED12_MAX
        cx, ch = np.rint(wx / ax).astype(np.int16), np.rint(wh / ah).astype(np.int16)
    else:
        mode = lstm.mode
        ax, ah = lstm.w0x, lstm.w0h
        cx, ch = (c.astype(np.int8) for c in lstm.codes())
    s_x, o_x = lstm.bn_x.affine()
    s_h, o_h = lstm.bn_h.affine()
    s_c, o_c = lstm.bn_c.affine()
    return LSTMWeights(
        mode=mode, wx=cx, wh=ch, sx=s_x * ax, sh=s_h * ah, b=o_x + o_h, sc=s_c, bc=o_c,
        h0=lstm.h0.detach().double().numpy(), c0=lstm.c0.detach().double().numpy(),
        head_w=net.head.weight.detach().double().numpy(), head_b=net.head.bias.detach().double().numpy())

