"""The recurrent loop with hand-written back-propagation against autograd over the same loop written plainly."""

import pytest
import torch

from models.lstm_loop import recurrence, AFFINE, BATCH

T, B, H = 5, 4, 3
G = 4 * H
EPS = 1e-5


def _plain_loop(gx, wh, h0, c0, h_norm, c_norm):
    """The recurrence as a reader would write it, differentiated by autograd."""
    h, c, hs = h0, c0, []
    for t in range(gx.shape[0]):
        gh = h @ wh.t()
        if h_norm[0] == AFFINE:
            a, b = (v if v.dim() == 1 else v[t] for v in h_norm[1:])
            pre = gx[t] + gh * a + b
        else:
            pre = gx[t] + (gh - gh.mean(0)) / torch.sqrt(gh.var(0, unbiased=False) + EPS) * h_norm[1]
        i, f, g, o = pre.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if c_norm[0] == AFFINE:
            a, b = (v if v.dim() == 1 else v[t] for v in c_norm[1:])
            n = c * a + b
        else:
            n = (c - c.mean(0)) / torch.sqrt(c.var(0, unbiased=False) + EPS) * c_norm[1] + c_norm[2]
        h = torch.sigmoid(o) * torch.tanh(n)
        hs.append(h)
    return torch.stack(hs), c


def _leaves(h_kind, c_kind, per_step, seed):
    gen = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).requires_grad_(True)

    leaves = {"gx": r(T, B, G), "wh": r(G, H), "h0": r(B, H), "c0": r(B, H)}
    if h_kind == AFFINE:
        leaves.update(ha=r(T, G) if per_step else r(G), hb=r(T, G) if per_step else r(G))
        h_norm = (AFFINE, leaves["ha"], leaves["hb"])
    else:
        leaves.update(gamma_h=r(G))
        h_norm = (BATCH, leaves["gamma_h"])
    if c_kind == AFFINE:
        leaves.update(ca=r(T, H) if per_step else r(H), cb=r(T, H) if per_step else r(H))
        c_norm = (AFFINE, leaves["ca"], leaves["cb"])
    else:
        leaves.update(gamma_c=r(H), beta_c=r(H))
        c_norm = (BATCH, leaves["gamma_c"], leaves["beta_c"])
    return leaves, h_norm, c_norm


@pytest.mark.parametrize("h_kind,c_kind,per_step", [
    (AFFINE, AFFINE, False), (AFFINE, AFFINE, True), (AFFINE, BATCH, True), (BATCH, AFFINE, False),
    (BATCH, BATCH, False)])
def test_values_and_gradients_equal_autograd_over_the_plain_loop(h_kind, c_kind, per_step):
    leaves, h_norm, c_norm = _leaves(h_kind, c_kind, per_step, seed=3)
    gen = torch.Generator().manual_seed(4)
    w_h = torch.randn(T, B, H, generator=gen, dtype=torch.float64)
    w_c = torch.randn(B, H, generator=gen, dtype=torch.float64)
    names = list(leaves)
    args = (leaves["gx"], leaves["wh"], leaves["h0"], leaves["c0"], h_norm, c_norm)
    hs, c, stats = recurrence(*args, eps=EPS)
    want_hs, want_c = _plain_loop(*args)
    assert torch.allclose(hs, want_hs, rtol=0, atol=1e-12) and torch.allclose(c, want_c, rtol=0, atol=1e-12)
    got = torch.autograd.grad((hs * w_h).sum() + (c * w_c).sum(), [leaves[k] for k in names])
    want = torch.autograd.grad((want_hs * w_h).sum() + (want_c * w_c).sum(), [leaves[k] for k in names])
    for name, g, w in zip(names, got, want):
        assert g.shape == w.shape, name
        assert torch.allclose(g, w, rtol=0, atol=1e-11), f"d/d{name}: max diff {(g - w).abs().max().item():.3g}"
    # the per-step statistics: batch mean and mean square of gh = h_{t-1} Wh^T and of c_t
    with torch.no_grad():
        h_prev = torch.cat([leaves["h0"][None], want_hs[:-1]])
        gh = h_prev @ leaves["wh"].t()
        assert torch.allclose(stats[:, :G], gh.mean(1), atol=1e-12)
        assert torch.allclose(stats[:, G:2 * G], (gh * gh).mean(1), atol=1e-12)
    assert not stats.requires_grad


def test_the_last_cell_state_alone_carries_gradient():
    leaves, h_norm, c_norm = _leaves(AFFINE, AFFINE, False, seed=5)
    _, c, _ = recurrence(leaves["gx"], leaves["wh"], leaves["h0"], leaves["c0"], h_norm, c_norm)
    _, want_c = _plain_loop(leaves["gx"], leaves["wh"], leaves["h0"], leaves["c0"], h_norm, c_norm)
    g = torch.autograd.grad(c.sum(), leaves["c0"])[0]
    assert torch.allclose(g, torch.autograd.grad(want_c.sum(), leaves["c0"])[0], atol=1e-12)


def test_bad_shapes_and_kinds_are_refused():
    leaves, h_norm, c_norm = _leaves(AFFINE, AFFINE, False, seed=0)
    with pytest.raises(ValueError, match="shapes do not fit one LSTM layer"):
        recurrence(leaves["gx"], leaves["wh"][:, :2], leaves["h0"], leaves["c0"], h_norm, c_norm)
    with pytest.raises(ValueError, match="a normalization must be"):
        recurrence(leaves["gx"], leaves["wh"], leaves["h0"], leaves["c0"], (7, None, None), c_norm)
