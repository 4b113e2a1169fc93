import json

import numpy as np
import pytest

from models.datasets import load_digits
from models.taxonn import TaxoNNConfig, init_params
from models.taxonn_train import train_taxonn, load_params_npz
from bitforge.cli import main

DIGITS = load_digits()
CFG = TaxoNNConfig(layers=(64, 16, 10), pes=4)


class Killed(Exception):
    pass


def _kill_at(n):
    def hook(step):
        if step == n:
            raise Killed
    return hook


@pytest.mark.parametrize("engine", ["golden", "torch"])
def test_killed_and_resumed_run_ends_identical(tmp_path, engine):
    kwargs = dict(epochs=3, max_steps=3000, float_reference=True, engine=engine, progress=False)
    straight = train_taxonn(CFG, DIGITS, tmp_path / "a", **kwargs)
    # checkpoints every 500 steps and at epoch ends (1437, 2874): a kill at 1700 resumes mid-epoch 2 from step
    # 1500, with that epoch's running train accuracy; one at 2999 from 2874
    kwargs["checkpoint_every"] = 500
    for kill_at in (1700, 2999):
        with pytest.raises(Killed):
            train_taxonn(CFG, DIGITS, tmp_path / "b", on_step=_kill_at(kill_at), **kwargs)
    resumed = train_taxonn(CFG, DIGITS, tmp_path / "b", **kwargs)
    for name in ("weights.npz", "float_weights.npz", "init.npz"):
        with np.load(tmp_path / "a" / name) as x, np.load(tmp_path / "b" / name) as y:
            assert sorted(x) == sorted(y)
            for key in x:
                assert np.array_equal(x[key], y[key]), (name, key)
    for key in ("test_accuracy", "float_test_accuracy", "steps", "history"):
        assert straight[key] == resumed[key]


def test_engines_and_the_float_reference_agree(tmp_path):
    """The golden engine (blocks of steps, the float reference stepping through each block after it) and the
    torch engine (one step at a time, the reference beside it) end with the same weights, float weights,
    history and accuracy."""
    kwargs = dict(epochs=1, max_steps=700, float_reference=True, progress=False)
    runs = {e: train_taxonn(CFG, DIGITS, tmp_path / e, engine=e, **kwargs) for e in ("golden", "torch")}
    for name in ("weights.npz", "float_weights.npz"):
        with np.load(tmp_path / "golden" / name) as x, np.load(tmp_path / "torch" / name) as y:
            assert sorted(x) == sorted(y) and all(np.array_equal(x[k], y[k]) for k in x), name
    for key in ("test_accuracy", "float_test_accuracy", "history"):
        assert runs["golden"][key] == runs["torch"][key], key


def test_outputs_and_layout(tmp_path):
    metrics = train_taxonn(CFG, DIGITS, tmp_path, epochs=1, max_steps=500, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["checkpoint.npz", "curve.png", "init.npz", "metrics.json", "weights.npz"]
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    assert metrics["steps"] == 500 and 0 <= metrics["test_accuracy"] <= 1
    with np.load(tmp_path / "weights.npz") as w:
        assert sorted(w) == ["W1", "W2", "b1", "b2"] and w["W1"].shape == (16, 64)
    init = load_params_npz(tmp_path / "init.npz", CFG)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(init, init_params(CFG)))
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_checkpoint_of_another_run_is_refused(tmp_path):
    train_taxonn(CFG, DIGITS, tmp_path, max_steps=100, progress=False)
    with pytest.raises(ValueError, match="belongs to a different run"):
        train_taxonn(CFG, DIGITS, tmp_path, max_steps=100, seed=9, progress=False)


def test_layers_must_fit_the_dataset(tmp_path):
    with pytest.raises(ValueError, match="do not fit digits: it needs 64 inputs and 10 outputs"):
        train_taxonn(TaxoNNConfig(layers=(784, 10)), DIGITS, tmp_path)


def test_bad_npz(tmp_path):
    np.savez(tmp_path / "w.npz", W1=np.zeros((16, 64)))
    with pytest.raises(ValueError, match="missing key 'b1'"):
        load_params_npz(tmp_path / "w.npz", CFG)
    np.savez(tmp_path / "w.npz", W1=np.zeros((16, 63)), b1=np.zeros(16), W2=np.zeros((10, 16)), b2=np.zeros(10))
    with pytest.raises(ValueError, match=r"W1 must be \(16, 64\)"):
        load_params_npz(tmp_path / "w.npz", CFG)
    np.savez(tmp_path / "w.npz", W1=np.full((16, 64), 1e-9), b1=np.zeros(16), W2=np.zeros((10, 16)), b2=np.zeros(10))
    with pytest.raises(ValueError, match="not codes of 12.10"):
        load_params_npz(tmp_path / "w.npz", CFG)


def test_cli_train_taxonn(tmp_path, capsys):
    code = main(["train", "taxonn", "--layers", "64,12,10", "--pes", "2", "--w-fmt", "10.8",
                 "--rounding", "nearest", "--lr-shift", "3", "--hidden-activation", "sigmoid",
                 "--output", "linear", "--max-steps", "300", "--no-shuffle", "--float-reference",
                 "--quiet", "--json", "--out", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["steps"] == 300
    assert out["config"]["w_fmt"] == "10.8" and out["config"]["layers"] == [64, 12, 10]
    assert "float_test_accuracy" in out and out["shuffle"] is False


def test_cli_train_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BITFORGE_DATA", raising=False)
    assert main(["train", "taxonn", "--dataset", "mnist", "--out", str(tmp_path / "o")]) == 2
    assert "pass --data-dir DIR or set BITFORGE_DATA" in capsys.readouterr().err
    assert main(["train", "taxonn", "--a-fmt", "8.7", "--out", str(tmp_path / "o")]) == 2
    assert "--a-fmt must represent 1.0" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
