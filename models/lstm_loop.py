"""The BT-LSTM's recurrent loop as one autograd function with hand-written back-propagation through time.

Everything that does not depend on the previous step (the input projections of
all steps and their batch norm) is computed outside, in one matrix product; what
remains is the recurrence, step by step:

    gh_t  = h_{t-1} @ Wh^T
    pre_t = gx_t + N_h(gh_t)                     (gate order i, f, g, o)
    c_t   = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
    h_t   = sigmoid(o) * tanh(N_c(c_t))

with each normalization ``N`` either an affine per step (``y -> A[t] * y +
B[t]``: batch norm on running statistics, or no batch norm with ``A = 1``,
``B = 0``) or a batch norm on the step's own batch statistics (``y ->
gamma * (y - mean_t) / sqrt(var_t + eps) (+ beta)``, biased variance).

Autograd over this loop records a dozen small operations per step and replays
them one by one; `recurrence` instead runs the forward loop with no graph,
keeps the few tensors the backward pass needs, and computes the gradients of
all steps in one reverse loop (the recurrent weight gradient as a single
matrix product over every step at the end). The products of gate values that
do not wait for the next step's gradient are computed for all steps at once
before the reverse loop; batch statistics use torch's fused batch norm and its
backward. Same values as autograd over the loop, to float rounding
(tests/models/test_lstm_loop.py compares them in float64). Both loops are
TorchScript functions, which removes the Python interpreter from the per-step
work (`benchmarks/lstm_speed.py` measures the result against torch.nn.LSTM).
"""

from typing import List
import warnings

import torch

__all__ = ["recurrence", "AFFINE", "BATCH"]

#: normalization kinds: an affine per step, or batch statistics of each step
AFFINE, BATCH = 0, 1


def _script(fn):
    """TorchScript ``fn`` (or ``fn`` itself where torch no longer has it: the same results, ~10% slower).
    torch 2.x deprecates TorchScript in favour of `torch.compile`, which would recompile the unrolled loop for
    every sequence length; scripting here is immediate and works offline."""
    script = getattr(torch.jit, "script", None)
    if script is None:
        return fn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return script(fn)


@_script
def _forward(gx: torch.Tensor, wh: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor, h_kind: int,
             ha: torch.Tensor, hb: torch.Tensor, c_kind: int, ca: torch.Tensor, cb: torch.Tensor,
             eps: float) -> List[torch.Tensor]:
    """The forward loop. Affine ``N_h``: ``ha``, ``hb`` (G,) or (T, G); affine ``N_c``: ``ca``, ``cb`` (T, H);
    batch ``N_h``: ``ha`` = gamma_h (G,); batch ``N_c``: ``ca``, ``cb`` = gamma_c, beta_c (H,). Batch
    statistics use torch's fused batch norm, which also returns each step's mean and 1/std for the backward
    pass. Each step writes its results in place (no per-step allocation, no stacking at the end)."""
    T, B, G = gx.shape[0], gx.shape[1], gx.shape[2]
    H = G // 4
    if h_kind == 0:
        gx = gx + (hb if hb.dim() == 1 else hb.unsqueeze(1))
        ha = ha.expand(T, G) if ha.dim() == 1 else ha
    ghs = gx.new_empty((T, B, G))
    acts = gx.new_empty((T, B, G))   # sigmoid of every gate (the g slot unused)
    gs = gx.new_empty((T, B, H))     # tanh(g)
    cs = gx.new_empty((T + 1, B, H))
    tns = gx.new_empty((T, B, H))    # tanh(N_c(c_t))
    hs = gx.new_empty((T, B, H))
    mh: List[torch.Tensor] = []      # batch kinds: each step's mean and 1/std of gh, and of c
    mc: List[torch.Tensor] = []
    cs[0] = c0
    h = h0
    for t in range(T):
        gh = torch.mm(h, wh.t(), out=ghs[t])
        if h_kind == 0:
            pre = torch.addcmul(gx[t], gh, ha[t])
        else:
            out, m, inv = torch.native_batch_norm(gh, ha, None, None, None, True, 0.0, eps)
            mh.append(m)
            mh.append(inv)
            pre = gx[t] + out
        a = torch.sigmoid(pre, out=acts[t])
        g = torch.tanh(pre[:, 2 * H:3 * H], out=gs[t])
        c = torch.addcmul(a[:, H:2 * H] * cs[t], a[:, :H], g, out=cs[t + 1])
        if c_kind == 0:
            n = torch.addcmul(cb[t], c, ca[t])
        else:
            n, m_c, inv_c = torch.native_batch_norm(c, ca, cb, None, None, True, 0.0, eps)
            mc.append(m_c)
            mc.append(inv_c)
        tt = torch.tanh(n, out=tns[t])
        h = torch.mul(a[:, 3 * H:], tt, out=hs[t])
    moments = torch.cat([torch.stack(mh).view(T, 2 * G) if h_kind == 1 else gx.new_zeros((T, 2 * G)),
                         torch.stack(mc).view(T, 2 * H) if c_kind == 1 else gx.new_zeros((T, 2 * H))], 1)
    return [hs, cs, acts, gs, tns, ghs, moments]


@_script
def _backward(dhs: torch.Tensor, dc_last: torch.Tensor, wh: torch.Tensor, h0: torch.Tensor, hs: torch.Tensor,
              cs: torch.Tensor, acts: torch.Tensor, gs: torch.Tensor, tns: torch.Tensor, ghs: torch.Tensor,
              moments: torch.Tensor, h_kind: int, ha: torch.Tensor, c_kind: int, ca: torch.Tensor,
              eps: float) -> List[torch.Tensor]:
    T, B, G = acts.shape[0], acts.shape[1], acts.shape[2]
    H = G // 4
    si, sf, so = acts[:, :, :H], acts[:, :, H:2 * H], acts[:, :, 3 * H:]
    # everything that does not wait for the gradient of the next step, for all steps at once
    dn_dh = so * (1.0 - tns * tns)                                    # dh -> d N_c(c)
    factors = torch.empty_like(acts)                                  # (dc, dc, dc, dh) -> d pre
    torch.mul(gs * si, 1.0 - si, out=factors[:, :, :H])
    torch.mul(cs[:-1] * sf, 1.0 - sf, out=factors[:, :, H:2 * H])
    torch.mul(si, 1.0 - gs * gs, out=factors[:, :, 2 * H:3 * H])
    torch.mul(tns * so, 1.0 - so, out=factors[:, :, 3 * H:])
    m_h, inv_h = moments[:, :G], moments[:, G:2 * G]
    m_c, inv_c = moments[:, 2 * G:2 * G + H], moments[:, 2 * G + H:]
    shared = h_kind == 0 and ha.dim() == 1  # one affine for every step: fold A_h into the weights
    whs = wh * ha.unsqueeze(1) if shared else wh
    dpre_all = torch.empty_like(factors)
    dn_all = torch.empty_like(tns)
    dghs: List[torch.Tensor] = []
    dh = torch.zeros_like(h0)
    dc = dc_last
    mask = [True, False, False]
    for t in range(T - 1, -1, -1):
        dh = dh + dhs[t]
        dn = torch.mul(dh, dn_dh[t], out=dn_all[t])
        if c_kind == 0:
            dc = torch.addcmul(dc, dn, ca[t])
        else:
            dc = dc + torch.ops.aten.native_batch_norm_backward(dn, cs[t + 1], ca, None, None, m_c[t], inv_c[t],
                                                                True, eps, mask)[0]
        dpre = dpre_all[t]
        f = factors[t]
        torch.mul(f[:, :3 * H].view(B, 3, H), dc.unsqueeze(1), out=dpre[:, :3 * H].view(B, 3, H))
        torch.mul(f[:, 3 * H:], dh, out=dpre[:, 3 * H:])
        dc = dc * sf[t]
        if shared:
            dh = dpre @ whs
        else:
            if h_kind == 0:
                dgh = dpre * ha[t]
            else:
                dgh = torch.ops.aten.native_batch_norm_backward(dpre, ghs[t], ha, None, None, m_h[t], inv_h[t],
                                                                True, eps, mask)[0]
            dh = dgh @ wh
            dghs.append(dgh)
    if shared:
        dgh_all = dpre_all * ha
    else:
        dghs.reverse()
        dgh_all = torch.stack(dghs)
    h_prev = torch.cat([h0.unsqueeze(0), hs[:-1]], 0).reshape(T * B, H)
    dwh = dgh_all.reshape(T * B, G).t() @ h_prev
    # per step: d A_h (affine) or the d gamma_h terms (batch: against the normalized gh), and likewise for c
    xh = ghs if h_kind == 0 else (ghs - m_h.unsqueeze(1)) * inv_h.unsqueeze(1)
    xc = cs[1:] if c_kind == 0 else (cs[1:] - m_c.unsqueeze(1)) * inv_c.unsqueeze(1)
    dha = (dpre_all * xh).sum(1)
    dhb = dpre_all.sum(1)
    dca = (dn_all * xc).sum(1)
    dcb = dn_all.sum(1)
    return [dpre_all, dwh, dh, dc, dha, dhb, dca, dcb]


def _stats(gh, c, moments, h_kind, c_kind, eps):
    """Per step (T, 10H): batch mean and mean square of ``gh`` (T, B, 4H) and of ``c`` (T, B, H); where a
    batch norm already computed a step's mean and 1/std (``moments``), from those."""
    G, H = gh.shape[2], c.shape[2]

    def from_moments(m, inv):
        return [m, inv.pow(-2) - eps + m * m]

    parts = (from_moments(moments[:, :G], moments[:, G:2 * G]) if h_kind == BATCH
             else [gh.mean(1), (gh * gh).mean(1)])
    parts += (from_moments(moments[:, 2 * G:2 * G + H], moments[:, 2 * G + H:]) if c_kind == BATCH
              else [c.mean(1), (c * c).mean(1)])
    return torch.cat(parts, 1)


class _Recurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, gx, wh, h0, c0, ha, hb, ca, cb, h_kind, c_kind, eps, want_stats):
        hs, cs, acts, gs, tns, ghs, moments = _forward(gx, wh, h0, c0, h_kind, ha, hb, c_kind, ca, cb, eps)
        ctx.save_for_backward(wh, h0, hs, cs, acts, gs, tns, ghs, moments, ha, ca)
        ctx.kinds = (h_kind, c_kind, eps, ha.dim(), hb.dim())
        stats = _stats(ghs, cs[1:], moments, h_kind, c_kind, eps) if want_stats else hs.new_zeros(())
        ctx.mark_non_differentiable(stats)
        return hs, cs[-1], stats

    @staticmethod
    def backward(ctx, dhs, dc_last, _dstats):
        wh, h0, hs, cs, acts, gs, tns, ghs, moments, ha, ca = ctx.saved_tensors
        h_kind, c_kind, eps, ha_dim, hb_dim = ctx.kinds
        dhs = torch.zeros_like(hs) if dhs is None else dhs.contiguous()
        dc_last = torch.zeros_like(h0) if dc_last is None else dc_last
        dgx, dwh, dh0, dc0, dha, dhb, dca, dcb = _backward(dhs, dc_last, wh, h0, hs, cs, acts, gs, tns, ghs, moments,
                                                           h_kind, ha, c_kind, ca, eps)
        if h_kind == BATCH:   # gamma_h serves every step; there is no shift
            dha, dhb = dha.sum(0), None
        else:                 # an affine given once serves every step
            dha = dha.sum(0) if ha_dim == 1 else dha
            dhb = dhb.sum(0) if hb_dim == 1 else dhb
        if c_kind == BATCH:
            dca, dcb = dca.sum(0), dcb.sum(0)
        return dgx, dwh, dh0, dc0, dha, dhb, dca, dcb, None, None, None, None


def recurrence(gx, wh, h0, c0, h_norm, c_norm, eps=1e-5, stats=True):
    """Run the recurrent loop (module docstring); return ``(hs, c_T, stats)``.

    ``gx`` (T, B, 4H): the input projections, normalized, with the gate bias;
    ``wh`` (4H, H): the recurrent weights as the forward pass uses them;
    ``h0``, ``c0`` (B, H). ``h_norm`` is ``(AFFINE, A, B)`` with ``A``, ``B`` of
    shape (4H,) (every step) or (T, 4H) (per step), or ``(BATCH, gamma)``
    with ``gamma`` (4H,); ``c_norm`` likewise ``(AFFINE, A, B)`` with (H,) or
    (T, H), or ``(BATCH, gamma, beta)`` with (H,). ``hs`` (T, B, H) are the
    hidden states, ``c_T`` the last cell state, and ``stats`` (T, 10H) the
    per-step batch means and mean squares of ``gh`` and of ``c`` (no
    gradient), from which running statistics move (None unless ``stats``).
    """
    T, B, G = gx.shape
    H = G // 4
    if G != 4 * H or tuple(wh.shape) != (G, H) or tuple(h0.shape) != (B, H) or tuple(c0.shape) != (B, H):
        raise ValueError(f"shapes do not fit one LSTM layer: gx {tuple(gx.shape)}, wh {tuple(wh.shape)}, "
                         f"h0 {tuple(h0.shape)}, c0 {tuple(c0.shape)}")
    for norm in (h_norm, c_norm):
        if norm[0] not in (AFFINE, BATCH):
            raise ValueError(f"a normalization must be (AFFINE, A, B) or (BATCH, gamma[, beta]), not kind {norm[0]!r}")
    if h_norm[0] == AFFINE:
        h_kind, ha, hb = h_norm
    else:
        h_kind, ha, hb = BATCH, h_norm[1], h_norm[1].new_zeros(())
    c_kind, ca, cb = c_norm
    if c_kind == AFFINE and ca.dim() == 1:
        ca, cb = ca.expand(T, H), cb.expand(T, H)
    args = [t.to(gx.dtype).contiguous() for t in (gx, wh, h0, c0, ha, hb, ca, cb)]
    hs, c, st = _Recurrence.apply(*args, int(h_kind), int(c_kind), float(eps), bool(stats))
    return hs, c, (st if stats else None)
