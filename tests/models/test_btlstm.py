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
    stats = []
    y1, y2 = torch.tensor([[0.0, 1, 2], [2, 3, 4]]), torch.tensor([[4.0, 1, 0], [6, 1, 0]])
    out1 = bn(y1, stats)
    bn(y2, stats)
    if recurrent:  # normalized by the running statistics (mean 0, var 1 at first), gain 0.1
        assert torch.allclose(out1, 0.1 * y1 / (1 + 1e-5) ** 0.5)
    else:  # by its own batch statistics
        assert torch.allclose(out1, 0.1 * torch.tensor([[-1.0, -1, -1], [1, 1, 1]]), atol=1e-5)
    bn.update(stats)
    # the four rows of both steps: means (3, 1.5, 1.5), unbiased variances (20/3, 1, 11/3)
    assert torch.allclose(bn.running_mean, 0.5 * torch.tensor([3.0, 1.5, 1.5]))
    assert torch.allclose(bn.running_var, 0.5 + 0.5 * torch.tensor([20 / 3, 1.0, 11 / 3]))
    bn.eval()
    out = bn(torch.tensor([[1.5, 0.75, 0.75]]))
    assert torch.allclose(out, torch.zeros(1, 3), atol=1e-6)  # the running mean maps to the shift, 0


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
