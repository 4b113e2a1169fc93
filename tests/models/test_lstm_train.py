"""BT-LSTM training runs: outputs, resume after a kill, tasks and the CLI."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from bitforge.cli import main
from models.lstm import LSTMWeights
from models.lstm_tasks import load_task, read_ptb_chars, TASKS
from models.lstm_train import LSTMTrainConfig, train_lstm, evaluate_hardware

DATA = Path(os.environ.get("BITFORGE_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
needs_data = pytest.mark.skipif(not (DATA / "mnist").is_dir() or not (DATA / "ptb").is_dir(),
                                reason=f"datasets not found at {DATA} (set BITFORGE_DATA)")


def test_digit_tasks():
    rows, pixels = load_task("seq-digits"), load_task("seq-digits-pixel")
    assert rows.x_train.shape == (1300, 8, 8) and rows.x_valid.shape == (137, 8, 8)
    assert rows.x_test.shape == (360, 8, 8) and pixels.x_train.shape == (1300, 64, 1)
    assert np.array_equal(rows.x_train.reshape(1300, 64), pixels.x_train.reshape(1300, 64))
    from models.datasets import load_digits
    d = load_digits()
    assert np.array_equal(rows.x_test.reshape(360, 64), d.x_test)  # the TaxoNN test split
    assert np.array_equal(rows.x_train[5, 2], d.x_train[5, 16:24])  # step t is row t
    with pytest.raises(ValueError, match="unknown task 'words'"):
        load_task("words")


@needs_data
def test_mnist_and_ptb_tasks():
    rows = load_task("row-mnist", DATA)
    assert rows.x_train.shape == (55000, 28, 28) and rows.x_valid.shape == (5000, 28, 28)
    assert rows.x_test.shape == (10000, 28, 28) and rows.x_train.max() < 1.0
    ptb = load_task("ptb-char", DATA)
    assert len(ptb.vocab) == 50 and "\n" in ptb.vocab and " " not in ptb.vocab
    assert (len(ptb.train), len(ptb.valid), len(ptb.test)) == (5017482, 393042, 442423)


def test_ptb_reader_rejects_words(tmp_path):
    (tmp_path / "bad.txt").write_text("a b c\nab c\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected single characters separated by spaces, got 'ab'"):
        read_ptb_chars(tmp_path / "bad.txt")


def test_missing_data_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("BITFORGE_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        load_task("ptb-char")
    with pytest.raises(FileNotFoundError, match="ptb.char.train.txt is missing"):
        load_task("ptb-char", tmp_path)


def _small(**kw):
    base = dict(task="seq-digits", weights="ternary", hidden=12, epochs=2, batch=64, lr=0.01, checkpoint_every=5)
    base.update(kw)
    return LSTMTrainConfig(**base)


def test_outputs(tmp_path):
    metrics = train_lstm(_small(), tmp_path, progress=False)
    for name in ("metrics.json", "lstm.npz", "loss.png", "valid.png", "checkpoint.pt"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_accuracy"] == metrics["test_accuracy"] and 0.1 < metrics["test_accuracy"] <= 1
    assert set(saved["hardware"]) >= {"valid_accuracy", "test_accuracy", "test_accuracy_lost", "config"}
    assert len(saved["history"]) == 2 and saved["weight_memory_bits"] == 2 * 4 * 12 * (8 + 12)
    weights = LSTMWeights.load(tmp_path / "lstm.npz")
    assert weights.mode == "ternary" and weights.hidden == 12
    assert saved["hardware"]["test_accuracy"] == evaluate_hardware(weights, load_task("seq-digits"), "test")[0]


@pytest.mark.parametrize("weights", ["binary", "fp"])
def test_killed_and_resumed_run_ends_identical(tmp_path, weights):
    torch.set_num_threads(1)
    cfg = _small(weights=weights)
    whole = train_lstm(cfg, tmp_path / "whole", progress=False)
    assert train_lstm(cfg, tmp_path / "cut", progress=False, stop_after=13) is None  # mid-epoch 1
    assert train_lstm(cfg, tmp_path / "cut", progress=False, stop_after=17) is None  # mid-epoch 2
    resumed = train_lstm(cfg, tmp_path / "cut", progress=False)
    drop = lambda m: {k: v for k, v in m.items() if k not in ("train_s", "history")}
    assert drop(resumed) == drop(whole)
    assert [{k: v for k, v in h.items() if k != "wall_s"} for h in resumed["history"]] == \
           [{k: v for k, v in h.items() if k != "wall_s"} for h in whole["history"]]
    a, b = (np.load(tmp_path / d / "lstm.npz") for d in ("whole", "cut"))
    with a, b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_checkpoint_of_another_run_is_refused(tmp_path):
    train_lstm(_small(epochs=1), tmp_path, progress=False, stop_after=3)
    with pytest.raises(ValueError, match="belongs to a different run"):
        train_lstm(_small(epochs=1, hidden=13), tmp_path, progress=False)


def test_character_model_on_a_small_text(tmp_path):
    from models.lstm_tasks import CharTask
    text = np.tile(np.arange(5), 400)  # a cyclic text: a working model predicts it almost surely
    task = CharTask("ptb-char", "abcde", text, text[:600], text[:700])
    cfg = _small(task="ptb-char", weights="ternary", hidden=16, epochs=6, batch=4, seq_len=20, lr=0.02)
    metrics = train_lstm(cfg, tmp_path, task=task, progress=False)
    assert metrics["test_bpc"] < 0.5 < metrics["history"][0]["train_loss"]
    assert abs(metrics["hardware"]["test_bpc"] - metrics["test_bpc"]) < 0.1


def test_config_checks():
    with pytest.raises(ValueError, match="`weights` must be one of fp, binary, ternary"):
        LSTMTrainConfig(weights="quaternary")
    with pytest.raises(ValueError, match="`lr` must be a positive number"):
        LSTMTrainConfig(lr=0)
    with pytest.raises(ValueError, match="`batch` must be between 2"):
        LSTMTrainConfig(batch=1)
    assert set(TASKS) == {"seq-digits", "seq-digits-pixel", "row-mnist", "pixel-mnist", "ptb-char"}


def test_cli_train_lstm(tmp_path, capsys):
    code = main(["train", "lstm", "--task", "seq-digits", "--weights", "binary", "--deterministic", "--hidden", "8",
                 "--epochs", "1", "--quiet", "--out", str(tmp_path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["config"]["stochastic"] is False and out["export_mode"] == "binary"
    assert "test_accuracy" in out and "valid_accuracy" in out
    with pytest.raises(SystemExit) as e:
        main(["train", "lstm", "--task", "seq-digits", "--lr", "-1", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1
    assert err.startswith("bitforge: error: argument --lr: must be a finite number above 0.0, not -1")


@needs_data
@pytest.mark.parametrize("task, batches", [("row-mnist", 3), ("pixel-mnist", 1), ("ptb-char", 2)])
def test_real_tasks_train(tmp_path, task, batches):
    """A few batches of every data-directory task through the model, then a resume of the checkpoint."""
    cfg = LSTMTrainConfig(task=task, weights="binary", hidden=8, epochs=1, batch=16, seq_len=50)
    assert train_lstm(cfg, tmp_path, data_dir=DATA, progress=False, stop_after=batches) is None
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert ck["state"]["batch"] == batches and ck["state"]["loss_count"] == batches


def test_train_modes_refuses_a_different_run(tmp_path):
    """A run given for one mode must be the same training run as the others, but for the weights."""
    import dataclasses
    from models.lstm_train import train_modes
    run = LSTMTrainConfig(task="seq-digits", weights="binary", hidden=4, epochs=1, lr=0.02)
    other = dataclasses.replace(run, seed=1)
    train_lstm(other, tmp_path / "other", progress=False)
    with pytest.raises(ValueError, match="is not the same run in another mode"):
        train_modes(run, ["binary"], tmp_path / "w", given={"binary": tmp_path / "other"}, progress=False)
    runs = train_modes(run, ["binary"], tmp_path / "w", progress=False)
    assert runs["binary"][1]["config"] == run.to_json()


def test_train_modes_reuses_a_finished_run_only_when_it_is_the_same(tmp_path):
    """``reuse``: a directory holding this run in that mode is used as is; one holding another run is not
    (the mode trains into the work directory), and neither is modified."""
    import dataclasses
    from models.lstm_train import train_modes
    run = LSTMTrainConfig(task="seq-digits", weights="binary", hidden=4, epochs=1, lr=0.02)
    train_lstm(dataclasses.replace(run, weights="fp"), tmp_path / "float", progress=False)
    train_lstm(dataclasses.replace(run, weights="fp", seed=1), tmp_path / "other", progress=False)
    before = (tmp_path / "float" / "metrics.json").read_text()
    said = []
    runs = train_modes(run, ["fixed12"], tmp_path / "w", reuse={"fixed12": tmp_path / "float"}, progress=False,
                       say=said.append)
    assert runs["fixed12"][0] == tmp_path / "float" / "lstm.npz" and said == []
    assert (tmp_path / "float" / "metrics.json").read_text() == before and not (tmp_path / "w").exists()
    runs = train_modes(run, ["fixed12"], tmp_path / "w", reuse={"fixed12": tmp_path / "other"}, progress=False,
                       say=said.append)
    assert runs["fixed12"][0] == tmp_path / "w" / "fixed12" / "lstm.npz" and len(said) == 1
    assert runs["fixed12"][1]["config"] == dataclasses.replace(run, weights="fp").to_json()


def test_learning_rate_decays_geometrically_per_epoch(tmp_path):
    cfg = _small(epochs=4, lr=0.01, lr_final=0.0001)
    assert [round(cfg.lr_at(e), 12) for e in range(4)] == [0.01, round(0.01 * 0.01 ** 0.25, 12), 0.001,
                                                         round(0.01 * 0.01 ** 0.75, 12)]
    assert _small(lr=0.01).lr_at(3) == 0.01  # no lr_final: constant
    train_lstm(_small(epochs=3, lr=0.008, lr_final=0.001), tmp_path, progress=False)
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ck["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.008 * (0.001 / 0.008) ** (2 / 3))
    with pytest.raises(ValueError, match="`lr_final` must be a positive number, not -1"):
        _small(lr_final=-1)


@pytest.mark.parametrize("mode", ["binary", "ternary"])
def test_clipped_step_moves_no_weight_by_more_than_w0(mode):
    from models.btlstm import BTLSTM
    from models.lstm_train import _step
    moved = {}
    for clip in (False, True):
        lstm = BTLSTM(3, 4, mode, seed=0)
        opt = torch.optim.Adam(lstm.parameters(), lr=1.0)  # Adam's first step is about lr for every weight
        before = lstm.wx.detach().clone(), lstm.wh.detach().clone()
        lstm.wx.grad, lstm.wh.grad = torch.ones_like(lstm.wx), -torch.ones_like(lstm.wh)
        _step(opt, lstm, clip)
        moved[clip] = ((lstm.wx.detach() - before[0]).abs(), (lstm.wh.detach() - before[1]).abs(), lstm)
    dx, dh, lstm = moved[True]
    assert torch.allclose(dx, torch.full_like(dx, lstm.w0x)) and torch.allclose(dh, torch.full_like(dh, lstm.w0h))
    assert moved[False][0].min() > 0.9  # unclipped, the step is lr


def test_per_step_statistics_run_reports_both_inferences(tmp_path):
    cfg = _small(bn_stats="per-step", recurrent_bn="batch", ternary_threshold=1 / 3, clip_step=True,
                 lr_final=0.002)
    metrics = train_lstm(cfg, tmp_path, progress=False)
    assert 0.1 < metrics["test_accuracy"] <= 1 and 0.1 < metrics["test_accuracy_per_step"] <= 1
    # the figure of record is the exported (pooled) model's, which the hardware arithmetic tracks
    assert abs(metrics["hardware"]["test_accuracy"] - metrics["test_accuracy"]) < 0.03
    weights = LSTMWeights.load(tmp_path / "lstm.npz")
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ck["model"]["lstm.bn_c.running_mean"].shape == (8, 12)  # one row per step of seq-digits
    shadow = ck["state"]["best"]["lstm.wx"].double().numpy()
    from quant.weights import ternarize, w0_scale
    assert np.array_equal(weights.wx, ternarize(shadow, w0_scale(8, 12), threshold=1 / 3))


def test_a_run_recorded_before_the_options_existed_is_the_same_run(tmp_path):
    """metrics.json written before a field was added records no value for it: the run used its default."""
    from models.lstm_train import finished_run, train_modes
    run = _small(weights="binary", epochs=1, hidden=4)
    train_lstm(run, tmp_path / "old", progress=False)
    path = tmp_path / "old" / "metrics.json"
    metrics = json.loads(path.read_text())
    for key in ("bn_stats", "lr_final", "clip_step", "ternary_threshold"):
        del metrics["config"][key]
    path.write_text(json.dumps(metrics))
    assert finished_run(run, tmp_path / "old")["config"] == metrics["config"]
    assert finished_run(_small(weights="binary", epochs=1, hidden=4, lr_final=0.001), tmp_path / "old") is None
    runs = train_modes(run, ["binary"], tmp_path / "w", given={"binary": tmp_path / "old"}, progress=False)
    assert runs["binary"][0] == tmp_path / "old" / "lstm.npz"
