"""BT-LSTM in torch: quantized forward, straight-through gradients, batch norm, folding, export."""

import numpy as np
import pytest
import torch

from models.btlstm import BTLSTM, LSTMNet, SeqBatchNorm, fold
from models.lstm import LSTMWeights, LSTMConfig, LSTMGolden, forward_folded
from models.lstm_tasks import load_task
from quant import dequantize


def _trained_net(mode, hidden=16, steps=8, seed=0):
    """A net whose batch-norm statistics and weights have moved off their initial values."""
    task = load_task("seq-digits")
    net = LSTMNet(8, hidden, 10, mode, seed=seed)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    x = torch.tensor(task.x_train[:128], dtype=torch.float32)
    y = torch.tensor(task.y_train[:128])
    for _ in range(steps):
        logits, _ = net(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        net.lstm.clip_shadow_weights()
    return net.eval(), task


@pytest.mark.parametrize("mode", ["binary", "ternary"])
def test_forward_uses_quantized_weights(mode):
    lstm = BTLSTM(5, 7, mode, stochastic=False).eval()
    wx, wh = lstm.effective_weights()
    cx, ch = lstm.codes()
    assert torch.equal(wx, torch.tensor(cx * lstm.w0x, dtype=torch.float32))  # W0 * code in the weights' dtype
    assert torch.equal(wh, torch.tensor(ch * lstm.w0h, dtype=torch.float32))
    allowed = {-1, 1} if mode == "binary" else {-1, 0, 1}
    assert set(np.unique(cx)) <= allowed and set(np.unique(ch)) <= allowed


@pytest.mark.parametrize("mode", ["binary", "ternary"])
def test_stochastic_quantization_is_unbiased_in_training(mode):
    lstm = BTLSTM(6, 8, mode, stochastic=True, seed=3).train()
    draws = torch.stack([lstm.effective_weights()[0].detach() for _ in range(4000)])
    # E[W0 * code] = w inside [-W0, W0] for both stochastic quantizers
    assert torch.allclose(draws.mean(0), lstm.wx.detach(), atol=0.06 * lstm.w0x)
    if mode == "ternary":
        nonzero = (draws != 0).double().mean(0)
        assert torch.allclose(nonzero, (lstm.wx.detach().abs() / lstm.w0x).double(), atol=0.04)
    lstm.eval()  # evaluation is deterministic
    assert torch.equal(lstm.effective_weights()[0], lstm.effective_weights()[0])


@pytest.mark.parametrize("mode", ["binary", "ternary"])
def test_straight_through_gradient(mode):
    lstm = BTLSTM(4, 5, mode, stochastic=False).eval()  # eval: both passes see the same statistics
    x = torch.randn(3, 6, 4, generator=torch.Generator().manual_seed(0))
    out, _ = lstm(x)
    out.square().sum().backward()
    grad_shadow = lstm.wx.grad.clone()
    # the same loss with the quantized weights as leaves: the gradient passes straight through
    wx_q, wh_q = (w.detach().clone().requires_grad_(True) for w in lstm.effective_weights())
    lstm.zero_grad()
    lstm.effective_weights = lambda: (wx_q, wh_q)
    out, _ = lstm(x)
    out.square().sum().backward()
    assert torch.allclose(grad_shadow, wx_q.grad) and grad_shadow.abs().sum() > 0


def test_fp_cell_without_batch_norm_equals_torch_lstm():
    ours = BTLSTM(3, 5, "fp", batch_norm=False, seed=1).double()
    ref = torch.nn.LSTM(3, 5, batch_first=True).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(ours.wx)
        ref.weight_hh_l0.copy_(ours.wh)
        ref.bias_ih_l0.copy_(ours.bias)
        ref.bias_hh_l0.zero_()
    x = torch.randn(4, 9, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    h0 = ours.h0.detach().expand(1, 4, 5).contiguous()
    c0 = ours.c0.detach().expand(1, 4, 5).contiguous()
    out, (h, c) = ours(x)
    want, (h_ref, c_ref) = ref(x, (h0, c0))
    assert torch.allclose(out, want, atol=1e-12) and torch.allclose(c, c_ref[0], atol=1e-12)


@pytest.mark.parametrize("recurrent", [False, True])
def test_batch_norm_statistics_over_batch_and_time(recurrent):
    bn = SeqBatchNorm(3, momentum=0.5, recurrent=recurrent)
    y1, y2 = torch.tensor([[0.0, 1, 2], [2, 3, 4]]), torch.tensor([[4.0, 1, 0], [6, 1, 0]])
    out, stats = bn(torch.stack([y1, y2]))  # two steps of a batch of two, time first
    if recurrent:  # normalized by the running statistics (mean 0, var 1 at first), gain 0.1
        assert torch.allclose(out[0], 0.1 * y1 / (1 + 1e-5) ** 0.5)
        bn.update(*stats)
    else:  # by the statistics of its own four rows, which also moved the running ones
        assert stats is None
        mean, std = torch.tensor([3.0, 1.5, 1.5]), torch.tensor([5.0, 0.75, 2.75]).sqrt()
        assert torch.allclose(out[0], 0.1 * (y1 - mean) / std, atol=1e-5)
    # the four rows of both steps: means (3, 1.5, 1.5), unbiased variances (20/3, 1, 11/3)
    assert torch.allclose(bn.running_mean, 0.5 * torch.tensor([3.0, 1.5, 1.5]))
    assert torch.allclose(bn.running_var, 0.5 + 0.5 * torch.tensor([20 / 3, 1.0, 11 / 3]))
    bn.eval()
    out, _ = bn(torch.tensor([[[1.5, 0.75, 0.75]]]))
    assert torch.allclose(out, torch.zeros(1, 1, 3), atol=1e-6)  # the running mean maps to the shift, 0


def test_per_step_statistics_by_hand():
    bn = SeqBatchNorm(2, momentum=0.05, steps=2)
    # three steps of a batch of two; the third step is past the kept rows
    y = torch.tensor([[[1.0, 0], [3, 0]], [[0.0, 2], [0, 6]], [[9.0, 9], [9, 9]]])
    out, stats = bn(y)
    # each step normalized by its own batch: step 0 feature 0 is (1, 3) -> (-1, +1) times the gain 0.1
    assert torch.allclose(out[0, :, 0], torch.tensor([-0.1, 0.1]), atol=1e-4)
    bn.update(*stats)
    # step 0: means (2, 0), unbiased variances (2, 0); step 1: means (0, 4), variances (0, 8); step 2 not kept
    assert torch.allclose(bn.running_mean, 0.05 * torch.tensor([[2.0, 0], [0, 4]]))
    assert torch.allclose(bn.running_var, 0.95 + 0.05 * torch.tensor([[2.0, 0], [0, 8]]))
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([[1.0, 0], [3, 2]]))
        bn.running_var.copy_(torch.tensor([[1.0, 4], [1, 4]]))
    mean, var = bn.pooled_stats()  # mixture of the two steps: E[y] and E[y^2] - E[y]^2
    assert torch.allclose(mean, torch.tensor([2.0, 1.0]))
    assert torch.allclose(var, torch.tensor([(2 + 10) / 2 - 4, (4 + 8) / 2 - 1]))
    bn.eval()
    scale, shift = bn.affine_rows(3)  # per step; the third step uses the last row
    assert scale.shape == (3, 2) and torch.equal(scale[2], scale[1]) and torch.equal(shift[2], shift[1])
    assert torch.allclose(shift[1], -torch.tensor([3.0, 2.0]) * scale[1])
    bn.pooled = True
    scale, shift = bn.affine_rows(3)
    assert scale.shape == (2,) and torch.allclose(scale, 0.1 / torch.sqrt(var + 1e-5))


def _plain_btlstm(lstm, x):
    """The BT-LSTM forward pass written plainly, for autograd over every op; also returns what each batch
    norm saw (time first), for its running statistics."""
    B, T, _ = x.shape
    H = lstm.hidden_size
    wx, wh = lstm.effective_weights()
    gx = (x @ wx.t()).transpose(0, 1)
    seen = {"bn_x": gx.detach(), "bn_h": [], "bn_c": []}

    def norm(bn, y, t):
        if lstm.training and not bn.recurrent:
            if bn is lstm.bn_x and not bn.steps:
                mean, var = y.reshape(-1, bn.n).mean(0), y.reshape(-1, bn.n).var(0, unbiased=False)
            else:
                mean, var = y.mean(-2, keepdim=True), y.var(-2, unbiased=False, keepdim=True)
        elif bn.steps:
            row = min(t, bn.steps - 1) if t is not None else torch.arange(T).clamp_max(bn.steps - 1)
            mean, var = bn.running_mean[row], bn.running_var[row]
            if t is None:
                mean, var = mean[:, None], var[:, None]
        else:
            mean, var = bn.running_mean, bn.running_var
        out = (y - mean) / torch.sqrt(var + 1e-5) * bn.weight
        return out + bn.bias if bn.bias is not None else out

    gx = norm(lstm.bn_x, gx, None)
    h, c, outs = lstm.h0.expand(B, H), lstm.c0.expand(B, H), []
    for t in range(T):
        gh = h @ wh.t()
        seen["bn_h"].append(gh.detach())
        i, f, g, o = (gx[t] + norm(lstm.bn_h, gh, t)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        seen["bn_c"].append(c.detach())
        h = torch.sigmoid(o) * torch.tanh(norm(lstm.bn_c, c, t))
        outs.append(h)
    seen["bn_h"], seen["bn_c"] = torch.stack(seen["bn_h"]), torch.stack(seen["bn_c"])
    return torch.stack(outs, 1), seen


def _moved(bn, seen):
    """Running statistics after one update by ``seen`` (T, B, n): shared ones by all rows, per-step ones
    row by row (steps past the kept rows ignored); unbiased variances."""
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    m = bn.momentum
    if not bn.steps:
        flat = seen.reshape(-1, bn.n)
        return (1 - m) * mean + m * flat.mean(0), (1 - m) * var + m * flat.var(0)
    for t in range(min(bn.steps, seen.shape[0])):
        mean[t] = (1 - m) * mean[t] + m * seen[t].mean(0)
        var[t] = (1 - m) * var[t] + m * seen[t].var(0)
    return mean, var


@pytest.mark.parametrize("recurrent_bn,bn_stats", [("running", "shared"), ("batch", "shared"),
                                                   ("batch", "per-step"), ("running", "per-step")])
def test_training_step_equals_autograd_over_the_plain_forward(recurrent_bn, bn_stats):
    """Values, every parameter's gradient and the running statistics after a step, in float64."""
    x = torch.randn(6, 5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    nets = [BTLSTM(3, 4, "ternary", stochastic=False, recurrent_bn=recurrent_bn, bn_stats=bn_stats, steps=4,
                   seed=1).double().train() for _ in range(2)]
    for net in nets:  # move the running statistics off their initial values
        with torch.no_grad():
            for bn in (net.bn_h, net.bn_c):
                bn.running_mean.add_(0.3).mul_(torch.linspace(0.5, 1.5, bn.n))
                bn.running_var.mul_(1.7)
    fast, plain = nets
    out, _ = fast(x)
    want, seen = _plain_btlstm(plain, x)
    assert torch.allclose(out, want, rtol=0, atol=1e-12)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (out * weights).sum().backward()
    (want * weights).sum().backward()
    for (name, p), q in zip(fast.named_parameters(), plain.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=0, atol=1e-11), name
    for bn in ("bn_x", "bn_h", "bn_c"):
        mean, var = _moved(getattr(plain, bn), seen[bn])
        assert torch.allclose(getattr(fast, bn).running_mean, mean, rtol=0, atol=1e-12), bn
        assert torch.allclose(getattr(fast, bn).running_var, var, rtol=0, atol=1e-12), bn
    fast.eval(), plain.eval()  # inference: running statistics (per step where kept)
    with torch.no_grad():
        for bn in ("bn_x", "bn_h", "bn_c"):
            getattr(plain, bn).load_state_dict(getattr(fast, bn).state_dict())
        assert torch.allclose(fast(x)[0], _plain_btlstm(plain, x)[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["binary", "ternary", "fp"])
def test_per_step_statistics_fold_to_the_pooled_model(mode):
    """A per-step model exports its pooled statistics; the folded model is the float model evaluated pooled."""
    task = load_task("seq-digits")
    net = LSTMNet(8, 12, 10, mode, bn_stats="per-step", steps=8, recurrent_bn="batch", seed=2)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    x, y = torch.tensor(task.x_train[:96], dtype=torch.float32), torch.tensor(task.y_train[:96])
    for _ in range(6):
        loss = torch.nn.functional.cross_entropy(net(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        net.lstm.clip_shadow_weights()
    net.double().eval()
    assert net.lstm.bn_h.running_mean.shape == (8, 48)
    rows = net.lstm.bn_h.running_mean
    assert not torch.allclose(rows[0], rows[-1])  # the steps did keep different statistics
    net.lstm.pooled = True
    with torch.no_grad():
        pooled, _ = net.lstm(torch.tensor(task.x_test[:40]))
    net.lstm.pooled = False
    with torch.no_grad():
        per_step, _ = net.lstm(torch.tensor(task.x_test[:40]))
    got, _ = forward_folded(fold(net), task.x_test[:40])
    tol = 1e-5 if mode != "fp" else 1e-3
    assert np.abs(got - pooled.numpy()).max() < tol
    assert not torch.allclose(pooled, per_step, rtol=0, atol=1e-6)  # evaluating per step is another model


def test_ternary_threshold():
    lstm = BTLSTM(2, 1, "ternary", stochastic=False, ternary_threshold=1 / 3)
    w0 = lstm.w0x
    with torch.no_grad():
        lstm.wx.copy_(torch.tensor([[0.3, -0.3], [0.4, -0.4], [0.6, -0.6], [0.0, 1.0]]) * w0)
    # |w| > W0/3 keeps its sign; the default threshold W0/2 would zero the +-0.4 W0 weights as well
    assert lstm.codes()[0].tolist() == [[0, 0], [1, -1], [1, -1], [0, 1]]
    assert torch.equal(lstm.eval().effective_weights()[0], torch.tensor(lstm.codes()[0] * w0, dtype=torch.float32))
    lstm.ternary_threshold = 0.5
    assert lstm.codes()[0].tolist() == [[0, 0], [0, 0], [1, -1], [0, 1]]
    for bad in (0, 1, 1.5, True, "1/3"):
        with pytest.raises(ValueError, match="`ternary_threshold` must be a fraction of W0 in \\(0, 1\\)"):
            BTLSTM(2, 1, ternary_threshold=bad)
    with pytest.raises(ValueError, match="`steps` must be a positive integer"):
        BTLSTM(2, 1, bn_stats="per-step")
    with pytest.raises(ValueError, match="`bn_stats` must be one of shared, per-step"):
        BTLSTM(2, 1, bn_stats="step")


@pytest.mark.parametrize("mode", ["fp", "binary", "ternary"])
def test_folded_inference_equals_the_eval_mode_forward(mode):
    net, task = _trained_net(mode)
    net.double()
    with torch.no_grad():
        want, _ = net.lstm(torch.tensor(task.x_test[:60]))
    weights = fold(net)
    got, _ = forward_folded(weights, task.x_test[:60])
    # binary/ternary fold exactly; fp exports 12-bit weights (one step per matrix), which moves h a little
    tol = 1e-5 if mode != "fp" else 1e-3
    assert np.abs(got - want.numpy()).max() < tol
    assert weights.mode == ("fixed12" if mode == "fp" else mode)


@pytest.mark.parametrize("mode", ["binary", "ternary", "fp"])
def test_hardware_arithmetic_tracks_the_float_model(mode):
    """Stated tolerance: with the default formats (h 12.10, activations 12.10, 128-segment PWL
    sigmoid/tanh) every hidden value is within 0.01 (binary, ternary) or 0.02 (fixed12) of the float model's,
    and predictions agree on at least 95% of the test digits (a briefly trained model has
    near-ties between classes; the RTL is compared with this golden model bit for bit, not this)."""
    net, task = _trained_net(mode, steps=30)
    weights = fold(net)
    ref, _ = forward_folded(weights, task.x_test)
    golden = LSTMGolden(LSTMConfig.for_weights(weights), weights)
    hs, _ = golden.run(task.x_test)
    err = np.abs(dequantize(hs, golden.cfg.h_fmt) - ref).max()
    assert err < (0.01 if mode != "fp" else 0.02)
    ref_pred = np.argmax(ref[:, -1] @ weights.head_w.T + weights.head_b, axis=1)
    assert np.mean(golden.classify(task.x_test) == ref_pred) >= 0.95


def test_export_round_trip(tmp_path):
    net, _ = _trained_net("ternary")
    weights = fold(net)
    weights.save(tmp_path / "lstm.npz")
    again = LSTMWeights.load(tmp_path / "lstm.npz")
    for key in ("wx", "wh", "sx", "sh", "b", "sc", "bc", "h0", "c0", "head_w", "head_b"):
        assert np.array_equal(getattr(again, key), getattr(weights, key))
    with np.load(tmp_path / "lstm.npz") as data:
        assert data["wx"].dtype == np.int8 and data["wx"].shape == (64, 8) and str(data["mode"]) == "ternary"
    assert again.weight_bits() == 2 * (64 * 8 + 64 * 16)


def test_recurrent_batch_norm_modes():
    x = torch.randn(6, 5, 3, generator=torch.Generator().manual_seed(0))
    batch = BTLSTM(3, 4, "ternary", recurrent_bn="batch", seed=0).train()
    running = BTLSTM(3, 4, "ternary", recurrent_bn="running", seed=0).train()
    assert not batch.bn_h.recurrent and running.bn_c.recurrent
    out_b, _ = batch(x)
    out_r, _ = running(x)
    assert not torch.allclose(out_b, out_r)  # per-step batch statistics vs running ones in training
    batch.eval(), running.eval()
    with torch.no_grad():  # in eval both normalize with running statistics, whatever they learned
        batch.load_state_dict(running.state_dict())
        assert torch.allclose(batch(x)[0], running(x)[0])
    with pytest.raises(ValueError, match="`recurrent_bn` must be one of running, batch"):
        BTLSTM(3, 4, recurrent_bn="layer")
