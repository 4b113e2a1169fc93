"""torch fake quantization and weight quantizers with straight-through gradients.

These wrap the single implementations in `quant.fixed` and `quant.weights`
(run on tensors) in autograd functions whose backward pass is the identity:
the straight-through estimator. Importing this module imports torch.
"""

import torch

from . import fixed, weights
from .formats import FixedFormat

__all__ = ["fake_quantize", "quantize_weights", "FakeQuantize"]


class _FakeQuantizeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, fmt, rounding, overflow_mode, rand):
        codes = fixed.quantize(x.detach(), fmt, rounding, overflow_mode, rand)
        return (codes.to(torch.float64) * fmt.resolution).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None, None, None


def fake_quantize(x, fmt, rounding="nearest", overflow_mode="saturate", rand=None):
    """``dequantize(quantize(x))`` in the forward pass, identity gradient backward.

    The forward value equals ``quant.fixed.quantize`` bit for bit (then scaled
    by ``2**-frac``, exactly representable in float32 for formats of at most
    24 bits). ``rand``: the stochastic draws, as for `quant.fixed.quantize`.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`x` must be a torch.Tensor, not {type(x).__name__}")
    fmt = FixedFormat.parse(fmt)
    if rand is not None and not isinstance(rand, torch.Tensor):
        rand = torch.as_tensor(rand)
    return _FakeQuantizeFn.apply(x, fmt, rounding, overflow_mode, rand)


class FakeQuantize(torch.nn.Module):
    """Module form of `fake_quantize` for a fixed format and rounding mode."""

    def __init__(self, fmt, rounding="nearest", overflow_mode="saturate"):
        super().__init__()
        self.fmt = FixedFormat.parse(fmt)
        self.rounding = rounding
        self.overflow_mode = overflow_mode
        fixed.check_overflow(overflow_mode)
        if rounding == "stochastic":
            raise ValueError("FakeQuantize takes 'nearest' or 'floor'; call fake_quantize with "
                             "`rand` for stochastic rounding")

    def forward(self, x):
        return fake_quantize(x, self.fmt, self.rounding, self.overflow_mode)

    def extra_repr(self):
        return f"fmt={self.fmt}, rounding={self.rounding}, overflow={self.overflow_mode}"


class _WeightQuantFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, mode, w0, stochastic, u, threshold):
        if mode == "binary":
            codes = weights.binarize(w.detach(), w0, stochastic=stochastic, u=u)
        else:
            codes = weights.ternarize(w.detach(), w0, stochastic=stochastic, u=u, threshold=threshold)
        return (codes.to(torch.float64) * w0).to(w.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None, None, None, None


def quantize_weights(w, mode, w0, *, stochastic=False, generator=None, u=None, threshold=0.5):
    """``w0 * code`` for binary or ternary ``mode`` with a straight-through gradient.

    Stochastic draws come from ``u`` if given, else ``torch.rand`` with
    ``generator``. ``threshold``: the deterministic ternary threshold, a
    fraction of ``w0`` (`quant.weights.ternarize`).
    """
    if mode not in weights.WEIGHT_MODES:
        raise ValueError(f"`mode` must be one of {', '.join(weights.WEIGHT_MODES)}, not {mode!r}")
    if stochastic and u is None:
        u = torch.rand(w.shape, generator=generator, dtype=torch.float64, device=w.device)
    return _WeightQuantFn.apply(w, mode, float(w0), stochastic, u, float(threshold))
