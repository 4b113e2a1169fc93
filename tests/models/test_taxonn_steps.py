"""Many TaxoNN steps at once against the golden model's one step at a time: bit for bit."""

import dataclasses

import numpy as np
import pytest

from models import taxonn_steps
from quant import EXACT_FLOAT_BITS
from models.taxonn import TaxoNNConfig, TaxoNNGolden
from models.taxonn_steps import train_steps


def _configs():
    """Seeded random configurations plus the edge cases: sigmoid everywhere, left-shifting learning rate,
    narrow error formats that saturate, one multiplier, round to nearest."""
    rng = np.random.default_rng(7)
    out = [TaxoNNConfig(layers=(64, 32, 10), pes=4, lr_shift=4),
           TaxoNNConfig(layers=(9, 6, 4), pes=5, hidden_activation="sigmoid", lr_shift=0),
           TaxoNNConfig(layers=(20, 8, 4), pes=1, e_fmt="8.7", g_fmt="10.9", lr_shift=9),
           TaxoNNConfig(layers=(13, 7, 5, 3), pes=3, hidden_activation="sigmoid", output="linear",
                        rounding="nearest")]
    for _ in range(4):
        layers = tuple(int(n) for n in rng.integers(2, 24, size=rng.integers(3, 5)))
        out.append(TaxoNNConfig(layers=layers, pes=int(rng.integers(1, 9)), lr_shift=int(rng.integers(0, 10)),
                                hidden_activation=str(rng.choice(["relu", "sigmoid"])),
                                output=str(rng.choice(["sigmoid", "linear"])),
                                rounding=str(rng.choice(["nearest", "stochastic"])),
                                lfsr_seed=int(rng.integers(0, 1000)), init_seed=int(rng.integers(0, 1000))))
    return out


def _check_same(cfg, n, block, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.2, 1.6, (n, cfg.layers[0]))  # past the activation format's range: inputs saturate
    y = rng.integers(0, cfg.layers[-1], n)
    one, many = TaxoNNGolden(cfg), TaxoNNGolden(cfg)
    for i in range(n):
        want = one.step(x[i], y[i])
        if i == n // 2:
            half = [(w.copy(), b.copy()) for w, b in one.params]
    outputs, predictions = train_steps(many, x[:n // 2 + 1], y[:n // 2 + 1], block=block)
    for l, ((w, b), (w2, b2)) in enumerate(zip(half, many.params)):
        assert np.array_equal(w, w2) and np.array_equal(b, b2), f"{cfg}: layer {l + 1} differs after {n // 2 + 1}"
    outputs, predictions = train_steps(many, x[n // 2 + 1:], y[n // 2 + 1:], block=block)  # carries on
    for l, ((w, b), (w2, b2)) in enumerate(zip(one.params, many.params)):
        if not (np.array_equal(w, w2) and np.array_equal(b, b2)):
            first = np.argwhere(w != w2)[0] if not np.array_equal(w, w2) else None
            pytest.fail(f"{cfg}: layer {l + 1} differs after {n} steps; first weight {first}")
    assert np.array_equal(one.bank.state, many.bank.state)
    assert np.array_equal(outputs[-1], want.outputs) and predictions[-1] == want.prediction


@pytest.mark.parametrize("cfg", _configs(), ids=lambda c: f"{'-'.join(map(str, c.layers))}-P{c.pes}-{c.rounding}")
def test_equals_the_golden_step(cfg):
    _check_same(cfg, n=40, block=7)


def test_float64_dot_products_are_exact_where_used(monkeypatch):
    """Every layer on BLAS (threshold 0) on the random configurations; and a format wide enough that a
    partial sum could reach 2**53 keeps int64 however large the layer."""
    monkeypatch.setattr(taxonn_steps, "FLOAT_MIN_WEIGHTS", 0)
    for cfg in _configs()[:5]:
        assert all(taxonn_steps._float_layers(cfg))
        _check_same(cfg, n=30, block=8)
    wide = TaxoNNConfig(layers=(40, 6, 3), w_fmt="28.20", a_fmt="28.16", e_fmt="24.20", g_fmt="24.22")
    assert wide.min_acc_bits >= EXACT_FLOAT_BITS and not any(taxonn_steps._float_layers(wide))
    _check_same(wide, n=20, block=5)  # and its 28-bit sigmoid is the PWL itself, not a table of 2**28 codes


def test_the_default_network_uses_blas_only_where_it_pays():
    assert taxonn_steps._float_layers(TaxoNNConfig(layers=(784, 100, 10))) == [True, False]
    assert taxonn_steps._float_layers(TaxoNNConfig(layers=(64, 32, 10))) == [False, False]


def test_bad_input_is_refused():
    g = TaxoNNGolden(TaxoNNConfig(layers=(4, 3, 2)))
    with pytest.raises(ValueError, match=r"expected inputs \(N, 4\) and N labels"):
        train_steps(g, np.zeros((3, 5)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        train_steps(g, np.zeros((3, 4)), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="`golden` must be a TaxoNNGolden"):
        train_steps(dataclasses.replace(g.cfg), np.zeros((1, 4)), np.zeros(1, dtype=int))
