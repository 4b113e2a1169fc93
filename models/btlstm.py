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

Statistics (``bn_stats``):

* ``"shared"`` (default): one set per batch norm, shared by every time step
  (so each folds into one per-unit affine for the hardware), updated once per
  forward pass from the statistics over batch and time of that pass. In
  training ``BN_x`` normalizes with the batch statistics over batch and time.
* ``"per-step"`` (the authors' code): running statistics kept per time step
  (``steps`` rows, moving average with factor 0.05; steps past the last row
  use it), and in training ``BN_x`` normalizes each step by its own batch
  statistics. The hardware has one affine per unit, so export folds the
  *pooled* statistics: per unit, the mean of the step means and
  ``avg_t(var_t + mean_t^2) - mean^2``, the statistics over batch and time of
  data whose steps have those statistics (`SeqBatchNorm.pooled_stats`).
  ``model.pooled = True`` evaluates the float model that way, so its figure is
  the exported model's; with ``False`` it evaluates with each step's own
  statistics, as the authors did.

``BN_h`` and ``BN_c`` in training (``recurrent_bn``):

* ``"batch"``: each step's own batch statistics (recurrent batch
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

The recurrence runs in `models.lstm_loop.recurrence` (back-propagation through
time written out, TorchScript); the input projections of all steps and
``BN_x`` are one matrix product and one normalization over the sequence.

Weights: ``fp`` (no quantization, Glorot init), ``binary`` or ``ternary``
(shadow weights start uniform in [-W0, W0] and are clipped to that range after
each optimizer step, `clip_shadow_weights`). Training quantizes stochastically
unless ``stochastic=False``; evaluation and export always use the
deterministic quantizer (binary: sign; ternary: sign where |w| > t W0 with
``ternary_threshold`` t = 1/2 by default; the authors' code uses 1/3).

`fold` turns a trained model into the export contract of `models.lstm`
(`LSTMWeights`): codes plus per-unit float scales and offsets. ``fp`` models
export as ``fixed12``: 12-bit codes with one step per matrix.
"""

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from quant.ste import quantize_weights
from quant.weights import w0_scale, binarize, ternarize, check_threshold
from .lstm import LSTMWeights, FIXED12_MAX
from .lstm_loop import recurrence, AFFINE, BATCH

__all__ = ["SeqBatchNorm", "BTLSTM", "LSTMNet", "WEIGHTS", "RECURRENT_BN", "BN_STATS", "fold"]

WEIGHTS = ("fp", "binary", "ternary")
RECURRENT_BN = ("running", "batch")
BN_STATS = ("shared", "per-step")
#: the authors' moving-average factor of per-step statistics
PER_STEP_MOMENTUM = 0.05


class SeqBatchNorm(nn.Module):
    """Batch normalization of a sequence's features, with statistics shared by every step or kept per step.

    ``steps=0`` (the default): one set of running statistics for every time
    step. ``steps=S``: running statistics per step, ``(S, n)`` (the authors'
    code; steps past ``S`` use the last row), moved by their own step's batch
    statistics. ``recurrent=False`` (``BN_x``): training normalizes with batch
    statistics (over batch and time when shared, over the batch of each step
    when per step). ``recurrent=True``: training normalizes with the running
    statistics too. Evaluation always uses the running statistics, or with
    ``pooled`` set, their pooled form (`pooled_stats`), which is what the
    hardware's one affine per unit computes.
    """

    def __init__(self, n, gain=0.1, shift=True, momentum=0.1, eps=1e-5, recurrent=False, steps=0):
        super().__init__()
        self.n, self.momentum, self.eps, self.recurrent, self.steps = n, momentum, eps, recurrent, steps
        self.pooled = False
        self.weight = nn.Parameter(torch.full((n,), float(gain)))
        self.bias = nn.Parameter(torch.zeros(n)) if shift else None
        shape = (steps, n) if steps else (n,)
        self.register_buffer("running_mean", torch.zeros(shape))
        self.register_buffer("running_var", torch.ones(shape))

    def pooled_stats(self):
        """``(mean, var)`` of the mixture of the per-step statistics (equal weights), or the shared ones.

        With per-step means ``m_t`` and variances ``v_t``: ``mean = avg_t m_t``,
        ``var = avg_t (v_t + m_t^2) - mean^2``, the statistics over batch and
        time of data whose steps have those statistics.
        """
        if not self.steps:
            return self.running_mean, self.running_var
        mean = self.running_mean.mean(0)
        var = ((self.running_var + self.running_mean ** 2).mean(0) - mean ** 2).clamp_min(0)
        return mean, var

    def _running(self, T):
        """Running ``(mean, var)``: (n,) when one set serves every step, else (T, n) for steps 0..T-1."""
        if not self.steps or self.pooled:
            return self.pooled_stats()
        rows = torch.arange(T).clamp_max(self.steps - 1)
        return self.running_mean[rows], self.running_var[rows]

    def affine_rows(self, T):
        """``(A, B)``: normalization by the running statistics as ``y -> A y + B``, each (n,) for every step
        or (T, n) per step."""
        mean, var = self._running(T)
        scale = self.weight / torch.sqrt(var + self.eps)
        shift = -mean * scale
        return scale, (shift + self.bias if self.bias is not None else shift)

    def forward(self, y):
        """Normalize ``y`` (T, B, n), time first; return it and, in training, the batch statistics still to
        `update` with (None when the fused batch norm already moved the running statistics)."""
        T, B, n = y.shape
        if self.training and not self.recurrent and not self.steps:
            # statistics over batch and time: torch's fused batch norm, which also moves the running ones
            out = F.batch_norm(y.reshape(T * B, n), self.running_mean, self.running_var, self.weight, self.bias,
                               training=True, momentum=self.momentum, eps=self.eps)
            return out.view(T, B, n), None
        stats = None
        if self.training:  # mean and mean square: torch.var_mean over the batch axis is slow on CPU
            mean = y.mean(1, keepdim=True)
            stats = (mean.detach()[:, 0], (y.detach() ** 2).mean(1), B)
        if self.training and not self.recurrent:  # per step: each step's batch statistics
            d = y - mean
            out = d * (self.weight * torch.rsqrt((d * d).mean(1, keepdim=True) + self.eps))
            return (out + self.bias if self.bias is not None else out), stats
        scale, shift = self.affine_rows(T)
        if scale.dim() == 2:
            scale, shift = scale.unsqueeze(1), shift.unsqueeze(1)
        return torch.addcmul(shift, y, scale), stats

    @torch.no_grad()
    def update(self, mean, sq, count):
        """Move the running statistics by batch statistics of T steps: ``mean`` and ``sq`` (T, n) are each
        step's batch mean and mean square over ``count`` samples. Shared statistics pool the steps."""
        if self.steps:
            T = min(mean.shape[0], self.steps)
            mean, sq, n = mean[:T], sq[:T], count
            target_m, target_v = self.running_mean[:T], self.running_var[:T]
        else:
            mean, sq, n = mean.mean(0), sq.mean(0), count * mean.shape[0]
            target_m, target_v = self.running_mean, self.running_var
        var = (sq - mean * mean).clamp_min(0) * n / max(n - 1, 1)
        target_m.mul_(1 - self.momentum).add_(self.momentum * mean.to(target_m.dtype))
        target_v.mul_(1 - self.momentum).add_(self.momentum * var.to(target_v.dtype))

    def affine(self):
        """``(scale, offset)`` of the eval-mode normalization with the pooled statistics, float64 NumPy."""
        mean, var = self.pooled_stats()
        std = torch.sqrt(var.double() + self.eps)
        scale = self.weight.detach().double() / std
        offset = -mean.double() * scale
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
                 batch_norm=True, recurrent_bn="running", bn_stats="shared", steps=0, ternary_threshold=0.5,
                 seed=0):
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, not {value!r}")
        if weights not in WEIGHTS:
            raise ValueError(f"`weights` must be one of {', '.join(WEIGHTS)}, not {weights!r}")
        if recurrent_bn not in RECURRENT_BN:
            raise ValueError(f"`recurrent_bn` must be one of {', '.join(RECURRENT_BN)}, not {recurrent_bn!r}")
        if bn_stats not in BN_STATS:
            raise ValueError(f"`bn_stats` must be one of {', '.join(BN_STATS)}, not {bn_stats!r}")
        if bn_stats == "per-step" and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise ValueError(f"`steps` must be a positive integer (the steps that keep their own statistics) "
                             f"with per-step statistics, not {steps!r}")
        self.bn_stats, self.ternary_threshold = bn_stats, check_threshold(ternary_threshold, "ternary_threshold")
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
            running = recurrent_bn == "running"
            kept = {"steps": steps, "momentum": PER_STEP_MOMENTUM} if bn_stats == "per-step" else {}
            self.bn_x = SeqBatchNorm(4 * H, shift=True, **kept)
            self.bn_h = SeqBatchNorm(4 * H, shift=False, recurrent=running, **kept)
            self.bn_c = SeqBatchNorm(H, shift=True, recurrent=running, **kept)
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
        kw = {"threshold": self.ternary_threshold} if self.mode == "ternary" else {}
        return (quantize_weights(self.wx, self.mode, self.w0x, stochastic=stochastic, generator=self.quant_gen, **kw),
                quantize_weights(self.wh, self.mode, self.w0h, stochastic=stochastic, generator=self.quant_gen, **kw))

    @torch.no_grad()
    def clip_shadow_weights(self):
        if self.mode != "fp":
            self.wx.clamp_(-self.w0x, self.w0x)
            self.wh.clamp_(-self.w0h, self.w0h)

    def codes(self):
        """Deterministic weight codes ``(cx, cy)`` (int64 NumPy) of a binary/ternary model."""
        if self.mode == "fp":
            raise ValueError("an fp model has no binary/ternary codes; see `fold` for its 12-bit export")
        if self.mode == "binary":
            return (binarize(self.wx.detach().double().numpy(), self.w0x),
                    binarize(self.wh.detach().double().numpy(), self.w0h))
        t = self.ternary_threshold
        return (ternarize(self.wx.detach().double().numpy(), self.w0x, threshold=t),
                ternarize(self.wh.detach().double().numpy(), self.w0h, threshold=t))

    @property
    def pooled(self):
        """Evaluate with each batch norm's pooled statistics (what the hardware computes), not per step."""
        return self.batch_norm and self.bn_x.pooled

    @pooled.setter
    def pooled(self, value):
        if self.batch_norm:
            for bn in (self.bn_x, self.bn_h, self.bn_c):
                bn.pooled = bool(value)

    def forward(self, x, state=None):
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"input must be 3-D with {self.input_size} features last, not shape {tuple(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)
        B, T, _ = x.shape
        H = self.hidden_size
        wx, wh = self.effective_weights()
        wx, wh = wx.to(x.dtype), wh.to(x.dtype)
        gx = x.transpose(0, 1) @ wx.t()  # every step's input projection in one product, time first
        if self.batch_norm:
            gx, stats_x = self.bn_x(gx)
            step_stats = self.training and not self.bn_h.recurrent  # each step's own batch statistics
            h_norm = (BATCH, self.bn_h.weight) if step_stats else (AFFINE, *self.bn_h.affine_rows(T))
            c_norm = (BATCH, self.bn_c.weight, self.bn_c.bias) if step_stats \
                else (AFFINE, *self.bn_c.affine_rows(T))
        else:
            gx = gx + self.bias
            one = x.new_ones(())
            h_norm = (AFFINE, one.expand(4 * H), (one * 0).expand(4 * H))
            c_norm = (AFFINE, one.expand(H), (one * 0).expand(H))
        if state is None:
            h, c = self.h0.expand(B, H), self.c0.expand(B, H)
        else:
            h, c = state
        learning = self.training and self.batch_norm
        hs, c, stats = recurrence(gx, wh, h.to(x.dtype), c.to(x.dtype), h_norm, c_norm,
                                  eps=self.bn_h.eps if self.batch_norm else 1e-5, stats=learning)
        if learning:
            G = 4 * H
            if stats_x is not None:
                self.bn_x.update(*stats_x)
            self.bn_h.update(stats[:, :G], stats[:, G:2 * G], B)
            self.bn_c.update(stats[:, 2 * G:2 * G + H], stats[:, 2 * G + H:], B)
        out = hs.transpose(0, 1)
        return (out if self.batch_first else hs), (hs[-1], c)


class LSTMNet(nn.Module):
    """A `BTLSTM` and a full-precision output layer.

    ``per_step=False`` (classification): logits from the last hidden state.
    ``per_step=True`` (character model): logits at every step.
    """

    def __init__(self, input_size, hidden_size, classes, weights="ternary", *, stochastic=True, per_step=False,
                 recurrent_bn="running", bn_stats="shared", steps=0, ternary_threshold=0.5, seed=0):
        super().__init__()
        self.lstm = BTLSTM(input_size, hidden_size, weights, stochastic=stochastic, recurrent_bn=recurrent_bn,
                           bn_stats=bn_stats, steps=steps, ternary_threshold=ternary_threshold, seed=seed)
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

