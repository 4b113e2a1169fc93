import math

import numpy as np
import pytest
import torch

from quant import w0_scale, binarize, ternarize


def test_w0_scale_formula():
    assert w0_scale(28, 100) == pytest.approx(math.sqrt(6 / (28 + 400)) / 2)
    with pytest.raises(ValueError, match="`hidden` must be a positive integer, not 0"):
        w0_scale(3, 0)


def test_deterministic_binary_and_ternary():
    w = np.array([-0.3, -0.05, 0.0, 0.05, 0.3])
    assert binarize(w, 0.2).tolist() == [-1, -1, 1, 1, 1]
    assert ternarize(w, 0.2).tolist() == [-1, 0, 0, 0, 1]  # threshold W0/2 = 0.1
    assert ternarize(np.array([0.1, 0.1000001]), 0.2).tolist() == [0, 1]


@pytest.mark.parametrize("w", [-0.3, -0.1, 0.0, 0.05, 0.15, 0.3])
def test_stochastic_binary_probability(w):
    w0, n = 0.2, 200_000
    codes = binarize(np.full(n, w), w0, stochastic=True, rng=np.random.default_rng(1))
    p = min(max((w / w0 + 1) / 2, 0), 1)
    got = (codes == 1).mean()
    # tolerance: 5 binomial standard deviations (plus a floor for p in {0, 1})
    assert abs(got - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-9


@pytest.mark.parametrize("w", [-0.3, -0.1, 0.0, 0.05, 0.15, 0.3])
def test_stochastic_ternary_probability(w):
    w0, n = 0.2, 200_000
    codes = ternarize(np.full(n, w), w0, stochastic=True, rng=np.random.default_rng(2))
    p = min(abs(w) / w0, 1)
    nonzero = (codes != 0).mean()
    assert abs(nonzero - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-9
    assert set(np.unique(codes[codes != 0]).tolist()) <= {int(np.sign(w))}


def test_expectation_is_unbiased_inside_range():
    w0 = 0.25
    w = np.random.default_rng(3).uniform(-w0, w0, size=50)
    rng = np.random.default_rng(4)
    for quantizer in (binarize, ternarize):
        mean = np.mean([quantizer(w, w0, stochastic=True, rng=rng) for _ in range(4000)], axis=0)
        assert np.abs(mean * w0 - w).max() < 0.02  # 5 sigma of 4000 draws at w0 = .25


def test_numpy_equals_torch_given_draws():
    rng = np.random.default_rng(5)
    w = rng.normal(0, 0.2, size=(16, 8))
    u = rng.random(w.shape)
    for quantizer in (binarize, ternarize):
        for stochastic in (False, True):
            kw = dict(stochastic=stochastic, u=u if stochastic else None)
            tkw = dict(stochastic=stochastic, u=torch.as_tensor(u) if stochastic else None)
            assert quantizer(w, 0.15, **kw).tolist() == \
                quantizer(torch.as_tensor(w), 0.15, **tkw).tolist()


def test_bad_input():
    with pytest.raises(ValueError, match="`w0` must be a positive finite number, not 0"):
        binarize(np.ones(2), 0)
    with pytest.raises(ValueError, match="must not contain NaN"):
        ternarize(np.array([np.nan]), 0.1)
    with pytest.raises(ValueError, match="`u` must have the shape of `w`"):
        ternarize(np.ones(3), 0.1, stochastic=True, u=np.ones(2))
    with pytest.raises(ValueError, match="needs `u`"):
        binarize(torch.ones(2), 0.1, stochastic=True)
