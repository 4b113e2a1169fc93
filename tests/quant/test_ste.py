import numpy as np
import pytest
import torch

from quant import FixedFormat, quantize, LFSRBank
from quant.ste import fake_quantize, quantize_weights, FakeQuantize


def test_forward_equals_quantize_and_gradient_is_identity():
    f = FixedFormat.parse("8.4")
    x = torch.linspace(-10, 10, 101, dtype=torch.float32, requires_grad=True)
    y = fake_quantize(x, f)
    codes = quantize(x.detach().numpy(), f)
    assert (y.detach().numpy() * 16).astype(np.int64).tolist() == codes.tolist()
    assert y.dtype == torch.float32
    (y * torch.arange(101.0)).sum().backward()
    assert x.grad.tolist() == torch.arange(101.0).tolist()


def test_stochastic_fake_quantize_with_lfsr():
    f = FixedFormat.parse("8.2")
    x = torch.linspace(-3, 3, 40, dtype=torch.float64)
    rand = LFSRBank(3, 4).take((40,))
    y = fake_quantize(x, f, "stochastic", rand=rand)
    assert (y * 4).to(torch.int64).tolist() == quantize(x.numpy(), f, "stochastic", rand=rand).tolist()


def test_module():
    m = FakeQuantize("u8.8")
    assert "fmt=u8.8" in repr(m)
    assert m(torch.tensor([0.5, 2.0])).tolist() == [0.5, 255 / 256]
    with pytest.raises(ValueError, match="FakeQuantize takes 'nearest' or 'floor'"):
        FakeQuantize("8.4", "stochastic")
    with pytest.raises(TypeError, match="`x` must be a torch.Tensor, not list"):
        fake_quantize([1.0], "8.4")


@pytest.mark.parametrize("mode", ["binary", "ternary"])
def test_weight_ste(mode):
    w = torch.randn(6, 5, dtype=torch.float32, generator=torch.Generator().manual_seed(0), requires_grad=True)
    q = quantize_weights(w, mode, 0.5, stochastic=True, generator=torch.Generator().manual_seed(1))
    allowed = {-0.5, 0.5} if mode == "binary" else {-0.5, 0.0, 0.5}
    assert set(q.detach().flatten().tolist()) <= allowed
    q.sum().backward()
    assert w.grad.tolist() == torch.ones(6, 5).tolist()
    with pytest.raises(ValueError, match="`mode` must be one of binary, ternary, not 'fp'"):
        quantize_weights(w, "fp", 0.5)
